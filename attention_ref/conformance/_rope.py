r"""Does my RoPE match? `rope_check(fn)`: a rotary embedding against `attention_ref`'s.

The function is called in attention_ref's convention,

```python
fn(x, positions, *, base=..., rotary_dim=..., interleaved=...)  # x (B, H, L, E) float64
```

on a handful of cases (each layout, another base, a partial `rotary_dim`, explicit, default,
fractional and very large positions). A case whose output differs from
`attention_ref.rotary_embedding` is explained, when it can be, by the convention the
function follows instead: each hypothesis is `attention_ref.rotary_embedding` called with the
arguments a known bug would use (the other layout, base 10000, all `E` features, positions
off by one, ...), alone or two at a time, and the first that reproduces the output names
the difference. Frequencies or angles computed in float32 reproduce nothing exactly (the
roundings depend on the order of operations); they are recognised by their signature:
right to float64 precision at small positions, wrong at position $2^{20}$ by about what
float32 angles are wrong by.

All inputs are float64, so a correct implementation agrees to float64 rounding: the tolerance
of a case is $64\,\varepsilon_{64} \max|x| \,(1 + \max_{l,i} |m_l \theta_i|)$, the rounding of
the largest angle carried through the rotation, with a margin of 64.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from .._positions import rotary_embedding, rotary_frequencies
from ._report import CaseResult, Report

__all__ = ["ROPE_CONVENTIONS", "rope_check"]

#: What every key a RoPE report can name means.
ROPE_CONVENTIONS = {
    "rope-interleaved-pairs": "pairs features (2i, 2i + 1) (interleaved: GPT-J, Meta's Llama) "
    "where interleaved=False asks for (i, i + R/2) (rotate_half: GPT-NeoX, Hugging Face)",
    "rope-half-split-pairs": "pairs features (i, i + R/2) (rotate_half: GPT-NeoX, Hugging "
    "Face) where interleaved=True asks for (2i, 2i + 1) (GPT-J, Meta's Llama)",
    "rope-base-ignored": "ignores base: its frequencies are those of base 10000",
    "rope-rotary-dim-ignored": "ignores rotary_dim: rotates all E features",
    "rope-rotary-dim-exponent": "uses E instead of rotary_dim in the frequencies' exponent "
    "(theta_i = base^(-2i/E) on the first rotary_dim features)",
    "rope-positions-plus-one": "positions off by one: rotates position m as m + 1 "
    "(counts positions from 1)",
    "rope-positions-minus-one": "positions off by one: rotates position m as m - 1",
    "rope-positions-ignored": "ignores positions: rotates row l as position l",
    "rope-float32-angles": "computes the frequencies or angles in float32: exact at position "
    "0, off by about m * theta * 2^-24 radians at position m (1e-7 at small positions, "
    "0.01 to 0.1 at 2^20)",
    "rope-float32": "computes in float32 (the rotation itself, not only the angles)",
}


@dataclass(frozen=True)
class _Case:
    name: str
    positions: np.ndarray | None
    base: float = 10000.0
    rotary_dim: int | None = None
    interleaved: bool = False
    large: bool = False  # positions near 2^20, where float32 angles show

    def kwargs(self) -> dict[str, object]:
        return {"base": self.base, "rotary_dim": self.rotary_dim, "interleaved": self.interleaved}

    def describe(self, shape: tuple[int, ...]) -> str:
        pos = "None" if self.positions is None else _short(self.positions)
        return (
            f"x {shape}, positions {pos}, base {self.base:g}, rotary_dim {self.rotary_dim}, "
            f"interleaved {self.interleaved}"
        )


def _short(a: np.ndarray) -> str:
    values = a.tolist()
    return "[" + ", ".join(f"{v:g}" for v in values[:3]) + (", ...]" if len(values) > 3 else "]")


SHAPE = (2, 3, 6, 16)  # (B, H, L, E)
_L, _E = SHAPE[-2:]


def _cases() -> list[_Case]:
    ar = np.arange(_L)
    return [
        _Case("half-split pairs", ar),
        _Case("interleaved pairs", ar, interleaved=True),
        _Case("base 500000", ar, base=500000.0),
        _Case("rotary_dim 8 of 16", ar, rotary_dim=8),
        _Case("rotary_dim 8, interleaved", ar, rotary_dim=8, interleaved=True),
        _Case("positions 37 ... 42", ar + 37),
        _Case("positions default", None),
        _Case("positions fractional", ar * 0.25 + 3.0),
        _Case("positions 2^20 ...", ar + 2**20, large=True),
        _Case("positions 2^20, base 500000", ar + 2**20, base=500000.0, large=True),
    ]


@dataclass(frozen=True)
class _Hypothesis:
    key: str
    applies: Callable[[_Case], bool]
    change: Callable[[_Case, np.ndarray, dict], tuple[np.ndarray, dict]]
    tags: frozenset[str] = field(default_factory=frozenset)


def _pos(case: _Case) -> np.ndarray:
    return np.arange(_L, dtype=np.float64) if case.positions is None else case.positions


def _set(**changes: object) -> Callable[[_Case, np.ndarray, dict], tuple[np.ndarray, dict]]:
    return lambda case, pos, kw: (pos, kw | changes)


def _exponent_e(case: _Case, pos: np.ndarray, kw: dict) -> tuple[np.ndarray, dict]:
    R = kw["rotary_dim"] or _E
    return pos, kw | {"base": kw["base"] ** (R / _E)}  # (b^(R/E))^(-2i/R) = b^(-2i/E)


_HYPOTHESES = [
    _Hypothesis(
        "rope-interleaved-pairs",
        lambda c: not c.interleaved,
        _set(interleaved=True),
        frozenset({"layout"}),
    ),
    _Hypothesis(
        "rope-half-split-pairs",
        lambda c: c.interleaved,
        _set(interleaved=False),
        frozenset({"layout"}),
    ),
    _Hypothesis(
        "rope-base-ignored", lambda c: c.base != 10000.0, _set(base=10000.0), frozenset({"base"})
    ),
    _Hypothesis(
        "rope-rotary-dim-ignored",
        lambda c: c.rotary_dim not in (None, _E),
        _set(rotary_dim=None),
        frozenset({"dim"}),
    ),
    _Hypothesis(
        "rope-rotary-dim-exponent",
        lambda c: c.rotary_dim not in (None, _E),
        _exponent_e,
        frozenset({"dim", "base"}),
    ),
    _Hypothesis(
        "rope-positions-plus-one", lambda c: True, lambda c, p, kw: (p + 1, kw), frozenset({"pos"})
    ),
    _Hypothesis(
        "rope-positions-minus-one", lambda c: True, lambda c, p, kw: (p - 1, kw), frozenset({"pos"})
    ),
    _Hypothesis(
        "rope-positions-ignored",
        lambda c: c.positions is not None and not np.array_equal(c.positions, np.arange(_L)),
        lambda c, p, kw: (np.arange(_L, dtype=np.float64), kw),
        frozenset({"pos"}),
    ),
]


def _tolerance(x: np.ndarray, case: _Case) -> float:
    angle = float(np.abs(_pos(case)).max()) * 1.0  # theta_0 = 1 is the largest frequency
    return 64 * np.finfo(np.float64).eps * float(np.abs(x).max()) * (1.0 + angle)


def _float32_angles(x: np.ndarray, case: _Case) -> np.ndarray:
    """attention_ref's rotation with the angles rounded as a float32 implementation does."""
    R = case.rotary_dim or _E
    inv_freq = rotary_frequencies(R, case.base).astype(np.float32)
    angles = (_pos(case).astype(np.float32)[:, None] * inv_freq).astype(np.float64)  # (L, R/2)
    # a rotation by the float32 angle: RoPE at angle a_i = m * 1 with frequencies "1"
    out = x.copy()
    idx_a, idx_b = (np.arange(0, R, 2), np.arange(1, R, 2)) if case.interleaved else (
        np.arange(R // 2), np.arange(R // 2, R))  # fmt: skip
    a, b = x[..., idx_a], x[..., idx_b]
    cos, sin = np.cos(angles), np.sin(angles)
    out[..., idx_a] = a * cos - b * sin
    out[..., idx_b] = b * cos + a * sin
    return out


def _float32_like(got: np.ndarray, want: np.ndarray, x: np.ndarray, case: _Case) -> bool:
    """Whether `got` is off from `want` the way float32 arithmetic is: at small positions, by
    at most a few float32 roundings of each angle and of `x`; at position 2^20, by no more
    than 8 times what float32 angles are off by (emulated)."""
    if case.large:
        return _distance(got, want) <= 8 * _distance(_float32_angles(x, case), want)
    eps32 = float(np.finfo(np.float32).eps)
    m = np.abs(_pos(case))  # (L,)
    with np.errstate(invalid="ignore"):
        rows = np.abs(got - want).max(axis=(*range(got.ndim - 2), -1))  # (L,)
    bound = 16 * eps32 * float(np.abs(x).max()) * (1.0 + m)
    return bool((rows <= bound).all())


def _distance(got: np.ndarray, want: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):
        diff = np.abs(got - want)
    diff[np.isnan(diff)] = np.inf
    return float(diff.max(initial=0.0))


def _explain(fn_out: np.ndarray, x: np.ndarray, case: _Case, tol: float) -> tuple[str, ...]:
    """The keys of the first hypothesis (or pair of them) that reproduces `fn_out`."""
    usable = [h for h in _HYPOTHESES if h.applies(case)]
    pos0, kw0 = _pos(case), case.kwargs()
    for size in (1, 2):
        for combo in itertools.combinations(usable, size):
            if size == 2 and combo[0].tags & combo[1].tags:
                continue  # two changes of the same thing (two layouts, +1 and -1)
            pos, kw = pos0, kw0
            for h in combo:
                pos, kw = h.change(case, pos, kw)
            if _distance(fn_out, rotary_embedding(x, pos, **cast("dict[str, Any]", kw))) <= tol:
                return tuple(h.key for h in combo)
    return ()


def _name(fn: object) -> str:
    qualname = getattr(fn, "__qualname__", None) or type(fn).__name__ + "()"
    module = getattr(fn, "__module__", None)
    if module in (None, "__main__") or module.startswith("_"):
        return qualname  # a script, a notebook, or code executed by a tool
    return f"{module}.{qualname}"


def rope_check(fn: Callable[..., object], *, seed: int = 0) -> Report:
    r"""Check a rotary embedding against `attention_ref.rotary_embedding`; name what differs.

    Parameters
    ----------
    fn : callable
        Called as `fn(x, positions, base=..., rotary_dim=..., interleaved=...)` with `x` a
        float64 array `(B, H, L, E)` = `(2, 3, 6, 16)` and `positions` an array `(L,)` (int,
        or float for the fractional case) or None (meaning `arange(L)`). It must return the
        rotated array, of the same shape (anything `np.asarray` converts).
    seed : int, default 0
        The seed of `x`.

    Returns
    -------
    Report
        One `CaseResult` per case (`dtype` is always `"float64"`); a failing case's
        `diagnosis` names the convention the function follows instead, and its `matches`
        holds the keys of `ROPE_CONVENTIONS` (e.g. `"rope-interleaved-pairs"`,
        `"rope-positions-plus-one"`, `"rope-float32-angles"`).

    Notes
    -----
    The cases, and what each one exposes: the two layouts (`interleaved=False`: pairs
    $(i, i + R/2)$, `True`: pairs $(2i, 2i+1)$); base 500000 (a base that is ignored);
    `rotary_dim=8` of 16 features (rotating everything, or $E$ in the exponent); positions
    37 to 42, None and fractional (positions ignored, or off by one); positions from
    $2^{20}$ (angles in float32, off by $\sim 2^{20}\theta_i 2^{-24}$).

    A function that takes only some of the keywords (a fixed layout, say) fails the cases that
    need the others with the exception as its diagnosis: wrap it in an adapter that takes
    them all, refusing what it does not support.

    Examples
    --------
    >>> import numpy as np
    >>> import attention_ref as ar
    >>> from attention_ref.conformance import rope_check
    >>> rope_check(ar.rotary_embedding).ok
    True

    A rotary function that counts positions from 1:

    >>> def from_one(x, positions=None, **kw):
    ...     if positions is None:
    ...         positions = np.arange(x.shape[-2])
    ...     pos = np.asarray(positions)
    ...     return ar.rotary_embedding(x, pos + 1, **kw)
    >>> report = rope_check(from_one)
    >>> report.ok, report.matches
    (False, ('rope-positions-plus-one',))
    """
    x = np.random.default_rng(seed).standard_normal(SHAPE)
    results = []
    exact_at_zero = True  # in the float32-like cases, position 0 is exact
    for case in _cases():
        description = case.describe(SHAPE)
        want = rotary_embedding(x, case.positions, **cast("dict[str, Any]", case.kwargs()))
        tol = _tolerance(x, case)
        arg = x.copy()
        positions = None if case.positions is None else case.positions.copy()
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                raw = fn(arg, positions, **case.kwargs())
            got = np.asarray(raw, dtype=np.float64)
        except Exception as raised:
            results.append(
                CaseResult(
                    case.name, "float64", description, "error",
                    diagnosis=f"raises {type(raised).__name__}: {raised}",
                )
            )  # fmt: skip
            continue
        if got.shape != x.shape:
            results.append(
                CaseResult(
                    case.name, "float64", description, "fail",
                    diagnosis=f"returns shape {got.shape}, not the shape of x {x.shape}",
                )
            )  # fmt: skip
            continue
        if not np.array_equal(arg, x):
            results.append(
                CaseResult(
                    case.name, "float64", description, "fail",
                    diagnosis="modifies its input x in place",
                )
            )  # fmt: skip
            continue
        error = _distance(got, want)
        if error <= tol:
            results.append(CaseResult(case.name, "float64", description, "pass", error, None, tol))
            continue
        matches = _explain(got, x, case, tol)
        if not matches and _float32_like(got, want, x, case):
            matches = ("float32",)  # which kind is decided below, from all the cases
            at_zero = _pos(case) == 0
            if at_zero.any():
                exact_at_zero &= _distance(got[..., at_zero, :], want[..., at_zero, :]) <= tol
        results.append(
            CaseResult(case.name, "float64", description, "fail", error, None, tol, "", matches)
        )
    # Angles in float32 leave position 0 exact (its angle is 0); computing the rotation in
    # float32 rounds x itself, so position 0 is off too.
    float32 = "rope-float32-angles" if exact_at_zero else "rope-float32"
    for i, r in enumerate(results):
        if r.status == "fail" and not r.diagnosis:
            keys = tuple(float32 if k == "float32" else k for k in r.matches)
            diagnosis = (
                "; ".join(ROPE_CONVENTIONS[k] for k in keys) or "no known convention matches"
            )
            results[i] = replace(r, matches=keys, diagnosis=diagnosis)
    rule = (
        "Inputs are float64; a case passes when max |fn - attention_ref| <= 64 eps64 max|x| "
        "(1 + the largest angle in radians): the rounding of the angles, with a margin of 64."
    )
    conventions = {key: (_ROPE_SHORT[key], meaning) for key, meaning in ROPE_CONVENTIONS.items()}
    return Report(_name(fn), tuple(results), seed, rule, conventions=conventions)


#: The short phrase a report's headline uses for each key of `ROPE_CONVENTIONS`.
_ROPE_SHORT = {
    "rope-interleaved-pairs": "interleaved pairs (2i, 2i + 1) where half-split was asked",
    "rope-half-split-pairs": "half-split pairs (i, i + R/2) where interleaved was asked",
    "rope-base-ignored": "base ignored",
    "rope-rotary-dim-ignored": "rotary_dim ignored",
    "rope-rotary-dim-exponent": "E instead of rotary_dim in the exponent",
    "rope-positions-plus-one": "positions off by one (m + 1)",
    "rope-positions-minus-one": "positions off by one (m - 1)",
    "rope-positions-ignored": "positions ignored",
    "rope-float32-angles": "angles in float32",
    "rope-float32": "computes in float32",
}
