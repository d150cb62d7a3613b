r"""Does my variant match? The conventions that causal, window, soft-cap, ALiBi and sinks get wrong.

`check_variant(fn, variant, **params)` runs `fn(query, key, value)`, an implementation of one
variant of attention with its parameters built in, on inputs chosen to tell the conventions
apart, compares the output with `attention_ref.flex_attention` and the variant's mod, and,
when they differ, names the known mistake the output matches:

- `"causal"`, with `alignment="top-left"` or `"bottom-right"`: the other alignment; the
  diagonal hidden too; no mask.
- `"sliding_window"`, with `window`, `right=0`, `alignment="top-left"`: `window` keys
  instead of `window + 1` (or `window + 2`); the other alignment (FlashAttention's
  `window_size` is bottom-right); two-sided `(window, window)` (JAX's
  `local_window_size=window`); no window.
- `"softcap"`, with `cap`: capped before the scale; no cap.
- `"alibi"`, with `slopes` (4 of them, default $2^{-8 (h+1) / 4}$): the bias of the wrong
  sign; the slopes in reverse head order; no bias.
- `"sinks"`, with `sinks` (4 logits): the sink added to the numerator too; sinks ignored.

The inputs: `B = 2`, `H = 4` heads, `E = Ev = 16`, queries and keys twice standard normal (so
scaled scores of a few units, as in trained models, and a cap of 5 bites); `L = 12`,
`S = 20` for the causal and window variants (so the two alignments differ), `L = S = 16`
otherwise; ALiBi is checked under a top-left causal mask, as models use it. All float64;
`fn` may compute in any precision: the tolerance is `atol` (default $10^{-6}$ for a float64
output, $2 \times 10^{-3}$ otherwise), far below the distance between the conventions.

Example
-------
>>> import numpy as np
>>> from attention_ref import flex_attention, mods
>>> from attention_ref.conformance import check_variant
>>> def window_w_keys(q, k, v):  # counts the query itself as one of the w = 4
...     return flex_attention(q, k, v, mask_mod=mods.sliding_window(3))
>>> report = check_variant(window_w_keys, "sliding_window", window=4)
>>> report.ok, report.matches
(False, ('window-w-keys',))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import mods
from .._flex import flex_attention

VARIANTS = ("causal", "sliding_window", "softcap", "alibi", "sinks")
ALIGNMENTS = ("top-left", "bottom-right")

#: The shapes of the inputs (see the module docstring).
B, H, E = 2, 4, 16
L_CROSS, S_CROSS = 12, 20
L_SELF = 16


@dataclass(frozen=True)
class VariantReport:
    """What `check_variant` found.

    Attributes
    ----------
    variant : str
        The variant checked.
    params : dict
        Its parameters, as resolved (defaults filled in).
    ok : bool
        True when the output agrees with attention_ref within `tolerance`.
    error : float
        $\\max |\\text{output} - \\text{expected}|$ (inf for NaN, inf or a wrong shape).
    tolerance : float
        The largest error accepted.
    matches : tuple of str
        For a mismatch, the keys of the known mistakes whose output the implementation's
        matches (stable identifiers, e.g. `"window-w-keys"`); empty when none does.
    diagnosis : str
        Empty when `ok`; otherwise the matching mistakes in words, or "no known convention
        matches".
    """

    variant: str
    params: dict[str, Any] = field(compare=False)
    ok: bool
    error: float
    tolerance: float
    matches: tuple[str, ...]
    diagnosis: str

    def __str__(self) -> str:
        status = "conforms" if self.ok else "differs"
        line = (
            f"{self.variant} {self.params}: {status} (error {self.error:.3g}, "
            f"tolerance {self.tolerance:.3g})"
        )
        return line if self.ok else f"{line}\n  {self.diagnosis}"


@dataclass(frozen=True)
class _Mistake:
    key: str
    diagnosis: str
    predict: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _inputs(L: int, S: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = 2.0 * rng.standard_normal((B, H, L, E))
    k = 2.0 * rng.standard_normal((B, H, S, E))
    v = rng.standard_normal((B, H, S, E))
    return q, k, v


def _flex(**kw: Any) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """attention_ref with the given mods; rows that see no key are NaN: not compared (what an
    implementation gives there is its own convention for fully masked rows)."""

    def predict(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        out = np.asarray(flex_attention(q, k, v, **kw))
        mask_mod = kw.get("mask_mod")
        if mask_mod is not None:
            L, S = q.shape[-2], k.shape[-2]
            seen = np.asarray(mask_mod(0, 0, np.arange(L)[:, None], np.arange(S)[None, :]))
            empty = ~np.asarray(np.broadcast_to(seen, (L, S)).any(axis=-1))  # (L,)
            out = np.where(empty[:, None], np.nan, out)
        return out

    return predict


def _offset(alignment: str, L: int, S: int) -> int:
    return 0 if alignment == "top-left" else S - L


def _other(alignment: str) -> str:
    return ALIGNMENTS[1 - ALIGNMENTS.index(alignment)]


def _shifted_window(left: int, right: int, offset: int) -> mods.MaskMod:
    """`sliding_window(left, right)` with the query's position moved by `offset`."""
    return lambda b, h, q_idx, kv_idx: (
        (kv_idx >= q_idx + offset - left) & (kv_idx <= q_idx + offset + right)
    )


def _causal(alignment: str) -> tuple[Any, list[_Mistake], tuple[int, int]]:
    L, S = L_CROSS, S_CROSS
    off = _offset(alignment, L, S)
    other = _other(alignment)
    mistakes = [
        _Mistake(
            f"causal-{other}",
            f"the causal mask is aligned {other} (query i sees keys <= i"
            f"{' + S - L' if other == 'bottom-right' else ''}) instead of {alignment}",
            _flex(mask_mod=mods.causal(_offset(other, L, S))),
        ),
        _Mistake(
            "causal-strict",
            "the causal mask hides the diagonal too (kv_idx < q_idx instead of <=)",
            _flex(mask_mod=mods.causal(off - 1)),
        ),
        _Mistake("causal-none", "no causal mask is applied", _flex()),
    ]
    return _flex(mask_mod=mods.causal(off)), mistakes, (L, S)


def _window(window: int, right: int, alignment: str) -> tuple[Any, list[_Mistake], tuple[int, int]]:
    L, S = L_CROSS, S_CROSS
    off = _offset(alignment, L, S)
    keys = window + right + 1
    mistakes = [
        _Mistake(
            f"window-{_other(alignment)}",
            f"the window is aligned {_other(alignment)} (FlashAttention's window_size is "
            f"bottom-right when L != S) instead of {alignment}",
            _flex(mask_mod=_shifted_window(window, right, _offset(_other(alignment), L, S))),
        ),
        _Mistake(
            "window-two-sided",
            f"the window is two-sided ({window}, {window}), as JAX's local_window_size="
            f"{window}, instead of ({window}, {right})",
            _flex(mask_mod=_shifted_window(window, window, off)),
        ),
        _Mistake(
            "window-w-plus-2",
            f"the window keeps {keys + 1} keys ({window + 1} before the query) instead of {keys}",
            _flex(mask_mod=_shifted_window(window + 1, right, off)),
        ),
        _Mistake("window-none", "no window is applied (every key is visible)", _flex()),
    ]
    if window >= 1:
        mistakes.insert(
            0,
            _Mistake(
                "window-w-keys",
                f"the window keeps {keys - 1} keys, counting the query as one of the "
                f"{window} (q_idx - kv_idx < {window}), instead of {keys} "
                f"(q_idx - kv_idx <= {window}: {window} before the query, and the query)",
                _flex(mask_mod=_shifted_window(window - 1, right, off)),
            ),
        )
    return _flex(mask_mod=_shifted_window(window, right, off)), mistakes, (L, S)


def _softcap(cap: float) -> tuple[Any, list[_Mistake], tuple[int, int]]:
    scale = 1.0 / math.sqrt(E)

    def capped_before_scale(score: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        raw = score / scale  # q . k, unscaled
        return scale * cap * np.tanh(raw / cap)

    mistakes = [
        _Mistake(
            "softcap-before-scale",
            f"the cap is applied before the scale: scale * {cap:g} * tanh(q.k / {cap:g}) "
            f"instead of {cap:g} * tanh(scale * q.k / {cap:g})",
            _flex(score_mod=capped_before_scale),
        ),
        _Mistake("softcap-none", "no soft cap is applied", _flex()),
    ]
    return _flex(score_mod=mods.softcap(cap)), mistakes, (L_SELF, L_SELF)


def _alibi(slopes: np.ndarray) -> tuple[Any, list[_Mistake], tuple[int, int]]:
    causal = mods.causal()
    mistakes = [
        _Mistake(
            "alibi-sign",
            "the ALiBi bias has the wrong sign (it rewards distance: "
            "score - slope * (kv_idx - q_idx))",
            _flex(score_mod=mods.alibi(-slopes), mask_mod=causal),
        ),
        _Mistake(
            "alibi-slope-order",
            "the ALiBi slopes are in reverse head order (head h gets slopes[H - 1 - h])",
            _flex(score_mod=mods.alibi(slopes[::-1]), mask_mod=causal),
        ),
        _Mistake("alibi-none", "no ALiBi bias is applied", _flex(mask_mod=causal)),
    ]
    return _flex(score_mod=mods.alibi(slopes), mask_mod=causal), mistakes, (L_SELF, L_SELF)


def _sinks(sinks: np.ndarray) -> tuple[Any, list[_Mistake], tuple[int, int]]:
    def in_numerator(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
        out, lse = flex_attention(q, k, v, sinks=sinks, return_lse=True)
        p_sink = np.exp(sinks[:, None] - lse)  # (B, H, L): the sink's share of each row
        return out + p_sink[..., None]  # e^sink added to every numerator sum_j e^s v_j

    mistakes = [
        _Mistake(
            "sink-in-numerator",
            "the sink is added to the numerator too: (sum_j e^s_j v_j + e^sink) / "
            "(e^sink + sum_j e^s_j), as if the sink were a key whose value is all ones",
            in_numerator,
        ),
        _Mistake(
            "sinks-ignored", "the sinks are ignored (or the row renormalised without them)", _flex()
        ),
    ]
    return _flex(sinks=sinks), mistakes, (L_SELF, L_SELF)


def _error(out: Any, expected: np.ndarray) -> float:
    """max |out - expected| where expected is not NaN; inf for a wrong shape or non-finite."""
    try:
        arr = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        return math.inf
    if arr.shape != expected.shape:
        return math.inf
    compared = ~np.isnan(expected)
    if not np.all(np.isfinite(arr[compared])):
        return math.inf
    return float(np.max(np.abs(arr - expected)[compared], initial=0.0))


def check_variant(
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
    variant: str,
    *,
    window: int | None = None,
    right: int = 0,
    alignment: str = "top-left",
    cap: float | None = None,
    slopes: Any = None,
    sinks: Any = None,
    atol: float | None = None,
    seed: int = 0,
) -> VariantReport:
    """Check an implementation of one attention variant; name the mistake it makes, if any.

    Parameters
    ----------
    fn : callable
        `fn(query, key, value)` with query `(B, H, L, E)`, key and value `(B, H, S, E)`
        (NumPy, float64), returning `(B, H, L, E)`: your implementation with the variant's
        parameters built in (the same ones you pass here).
    variant : str
        One of `"causal"`, `"sliding_window"`, `"softcap"`, `"alibi"`, `"sinks"`.
    window, right : int
        For `"sliding_window"`: keys before the query (required) and after it.
    alignment : str, default "top-left"
        For `"causal"` and `"sliding_window"`: the alignment you mean when $L \\ne S$,
        `"top-left"` (query $i$ is position $i$) or `"bottom-right"` (position $i + S - L$).
    cap : float
        For `"softcap"` (required).
    slopes, sinks : array_like of shape (4,), optional
        For `"alibi"` (default: $2^{-8 (h+1) / 4}$) and `"sinks"` (default
        `[0.0, 1.0, -1.0, 2.0]`); the inputs have 4 heads.
    atol : float, optional
        The largest error accepted; default $10^{-6}$ for a float64 output, else
        $2 \\times 10^{-3}$.
    seed : int, default 0
        The seed of the inputs.

    Returns
    -------
    VariantReport
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if alignment not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
    params: dict[str, Any]
    if variant == "causal":
        params = {"alignment": alignment}
        expected_fn, mistakes, (L, S) = _causal(alignment)
    elif variant == "sliding_window":
        if window is None:
            raise ValueError('check_variant(..., "sliding_window") needs window=')
        mods.sliding_window(window, right)  # the same checks as the mod's
        params = {"window": window, "right": right, "alignment": alignment}
        expected_fn, mistakes, (L, S) = _window(int(window), int(right), alignment)
    elif variant == "softcap":
        if cap is None:
            raise ValueError('check_variant(..., "softcap") needs cap=')
        mods.softcap(cap)
        params = {"cap": cap}
        expected_fn, mistakes, (L, S) = _softcap(float(cap))
    elif variant == "alibi":
        arr = 2.0 ** (-8.0 * np.arange(1, H + 1) / H) if slopes is None else np.asarray(slopes)
        _check_per_head(arr, "slopes")
        params = {"slopes": arr.tolist()}
        expected_fn, mistakes, (L, S) = _alibi(arr.astype(np.float64))
    else:
        arr = np.array([0.0, 1.0, -1.0, 2.0]) if sinks is None else np.asarray(sinks)
        _check_per_head(arr, "sinks")
        params = {"sinks": arr.tolist()}
        expected_fn, mistakes, (L, S) = _sinks(arr.astype(np.float64))

    q, k, v = _inputs(L, S, seed)
    expected = expected_fn(q, k, v)
    out = fn(q.copy(), k.copy(), v.copy())
    out_dtype = getattr(out, "dtype", np.dtype(np.float64))
    tol = atol if atol is not None else (1e-6 if out_dtype == np.float64 else 2e-3)
    error = _error(out, expected)
    if error <= tol:
        return VariantReport(variant, params, True, error, tol, (), "")
    matches = tuple(m.key for m in mistakes if _error(out, m.predict(q, k, v)) <= tol)
    words = [m.diagnosis for m in mistakes if m.key in matches]
    diagnosis = "; ".join(words) if words else "no known convention matches"
    return VariantReport(variant, params, False, error, tol, matches, diagnosis)


def _check_per_head(arr: np.ndarray, name: str) -> None:
    if arr.shape != (H,) or arr.dtype.kind not in "fiu":
        raise ValueError(
            f"{name} must be {H} real numbers, one per head of the inputs, got {arr.dtype} "
            f"of shape {arr.shape}"
        )
