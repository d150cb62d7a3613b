r"""The alternative conventions: what an implementation that follows one of them outputs.

When a case fails, `check` compares the implementation's output with each alternative listed
for the case and names the ones that match. Each alternative is a small emulation: most are
attention_ref itself with one argument changed (an inverted mask is attention_ref given
`~attn_mask`; a causal mask aligned bottom-right is attention_ref given
`tril(ones(L, S), S - L)`), the rest a few lines of NumPy (`emulate`).

An emulation returns the outputs, and optionally the query rows not to compare: rows that the
alternative leaves with no key to attend to, whose values depend on the implementation's own
choice for fully masked rows, a separate convention with its own case.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._masks import causal_mask
from .._sdpa import scaled_dot_product_attention
from ._case import Alternative, Case, Outputs, Prediction, empty_rows, truth

#: An emulation: a case's prediction, or None where the convention does not apply.
Predict = Callable[[Case], "Prediction | None"]

#: An alternative convention matches when the output is within this many tolerances of its
#: emulation (plus twice the error of rounding the emulation to the case's dtype): the
#: emulation runs in float64, not in the implementation's own arithmetic.
MATCH_SLACK = 4


def _default_scale(case: Case) -> float:
    """$1/\\sqrt{E}$ (kept for modules written before `Case.default_scale`)."""
    return case.default_scale


def _changed(**changes: Any) -> Callable[[Case], Prediction]:
    """The alternative that is attention_ref with some arguments changed."""

    def predict(case: Case) -> Prediction:
        resolved = {k: v(case) if callable(v) else v for k, v in changes.items()}
        changed = case.replace(**resolved)
        return truth(changed), None if case.backward else empty_rows(changed)

    return predict


# --- the scale -------------------------------------------------------------------------------


def _only_default_scale(predict: Predict) -> Predict:
    """Alternatives to the default scale apply only where the scale is not given."""
    return lambda case: predict(case) if case.scale is None else None


def _only_given_scale(predict: Predict) -> Predict:
    return lambda case: predict(case) if case.scale is not None else None


SCALE_NONE = Alternative(
    "scale-none",
    "the scores are not scaled (scale 1 instead of 1/sqrt(E))",
    _only_default_scale(_changed(scale=1.0)),
    short="the scores are not scaled",
)
SCALE_SQUARED = Alternative(
    "scale-squared",
    "the scale is applied twice (1/E instead of 1/sqrt(E))",
    _only_default_scale(_changed(scale=lambda c: 1.0 / c.query.shape[-1])),
    short="the default scale is 1/E instead of 1/sqrt(E)",
)
SCALE_VALUE_SIZE = Alternative(
    "scale-value-size",
    "scale is 1/sqrt(Ev) of the value head size, instead of 1/sqrt(E) of the query/key head size",
    _only_default_scale(_changed(scale=lambda c: 1.0 / math.sqrt(c.value.shape[-1]))),
    short="the default scale is 1/sqrt(Ev) instead of 1/sqrt(E)",
)
SCALE_MODEL_WIDTH = Alternative(
    "scale-model-width",
    "scale is 1/sqrt(D) of the model width D = H·E, instead of 1/sqrt(E) of the head size",
    _only_default_scale(
        _changed(scale=lambda c: 1.0 / math.sqrt(c.query.shape[-3] * c.query.shape[-1]))
    ),
    short="the default scale is 1/sqrt(H·E) instead of 1/sqrt(E)",
)
SCALE_IGNORED = Alternative(
    "scale-ignored",
    "the scale argument is ignored (1/sqrt(E) is used)",
    _only_given_scale(_changed(scale=None)),
    short="the scale argument is ignored",
)
SCALE_TIMES_DEFAULT = Alternative(
    "scale-times-default",
    "the scale argument multiplies the default 1/sqrt(E) instead of replacing it",
    _only_given_scale(_changed(scale=lambda c: c.scale * c.default_scale)),
    short="the scale argument multiplies 1/sqrt(E)",
)
SCALE_DIVIDES = Alternative(
    "scale-divides",
    "the scores are divided by the scale argument instead of multiplied by it",
    _only_given_scale(_changed(scale=lambda c: 1.0 / c.scale)),
    short="the scores are divided by the scale argument",
)

# --- plain NumPy emulations ------------------------------------------------------------------


def emulate(
    case: Case,
    dtype: np.dtype | type = np.float64,
    softmax_axis: int = -1,
    subtract_max: bool = True,
    multiply_mask: bool = False,
) -> np.ndarray:
    """Attention written out, in `dtype` throughout, with a knob per deviation.

    `softmax_axis=-2` normalises over the queries; `subtract_max=False` exponentiates the
    scores as they are; `multiply_mask=True` multiplies the scores by a float mask; a
    `dtype` of float16 computes natively in float16. Fully masked rows give zeros.
    """
    dt = np.dtype(dtype)
    q, k, v = (a.astype(dt) for a in (case.query, case.key, case.value))
    if case.gqa:  # (B, Hkv, S, E) -> (B, H, S, E), kv head g serving query heads gG .. gG+G-1
        group = q.shape[-3] // k.shape[-3]
        k, v = np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3)
    scale = dt.type(case.resolved_scale)
    scores = (q * scale) @ np.swapaxes(k, -1, -2)  # (B, H, L, S)
    mask = causal_mask(*scores.shape[-2:]) if case.is_causal else case.attn_mask
    if mask is not None and mask.dtype == np.bool_:
        scores = np.where(mask, scores, -np.inf).astype(dt)
    elif mask is not None:
        scores = scores * mask.astype(dt) if multiply_mask else scores + mask.astype(dt)
    if subtract_max:
        top = np.max(scores, axis=softmax_axis, keepdims=True)
        scores = scores - np.where(np.isfinite(top), top, 0).astype(dt)
    probs = np.exp(scores)
    total = np.sum(probs, axis=softmax_axis, keepdims=True)
    probs = probs / np.where(total == 0, 1, total).astype(dt)
    return probs @ v  # (B, H, L, Ev)


def _emulated(**knobs: Any) -> Predict:
    """A forward-only alternative computed by `emulate` (in float64 unless told)."""
    return lambda case: None if case.backward else ((emulate(case, **knobs),), None)


SOFTMAX_AXIS = Alternative(
    "softmax-axis",
    "the softmax is taken over the queries (axis -2) instead of the keys (axis -1)",
    _emulated(softmax_axis=-2),
    short="the softmax is taken over the queries",
)


def _swapped_layout(case: Case) -> Prediction | None:
    """An implementation for `(B, L, H, E)`, given our `(B, H, L, E)` arrays, as they are."""
    L, S = case.query.shape[-2], case.key.shape[-2]
    if case.backward or case.attn_mask is not None or L != S:
        return None  # the swapped call would not run
    swap = lambda a: np.swapaxes(a, -2, -3)  # noqa: E731
    swapped = case.replace(
        query=swap(case.query), key=swap(case.key), value=swap(case.value), gqa=False
    )  # L = S "heads" each: no grouping needed
    return (swap(truth(swapped)[0]),), None


LAYOUT = Alternative(
    "layout",
    "the heads and sequence axes are swapped: the implementation reads the other layout, "
    "(B, L, H, E) (JAX's) where it was checked with (B, H, L, E) (PyTorch's), or the reverse; "
    'check it with the other one: check(fn, layout="BLHE") or --layout BLHE',
    _swapped_layout,
    short="it reads the other layout (check it with the other layout=)",
)

# --- masks -----------------------------------------------------------------------------------


def _bool_mask_only(predict: Predict) -> Predict:
    return lambda case: (
        predict(case) if case.attn_mask is not None and case.attn_mask.dtype == np.bool_ else None
    )


MASK_POLARITY = Alternative(
    "mask-polarity",
    "boolean mask polarity is inverted (True = masked): adapt with ~attn_mask, as for "
    "nn.MultiheadAttention",
    _bool_mask_only(_changed(attn_mask=lambda c: ~c.attn_mask)),
    short="boolean mask polarity is inverted (True = masked)",
)
BOOL_MASK_ADDED = Alternative(
    "bool-mask-added",
    "a boolean mask is added to the scores as 0/1 numbers instead of masking",
    _bool_mask_only(_changed(attn_mask=lambda c: c.attn_mask.astype(c.dtype))),
    short="a boolean mask is added as 0/1",
)
MASK_IGNORED = Alternative(
    "mask-ignored",
    "the attention mask is ignored",
    _changed(attn_mask=None),
    short="the attention mask is ignored",
)
FLOAT_MASK_BEFORE_SCALE = Alternative(
    "float-mask-before-scale",
    "a float mask is added before the scale, so it is scaled with the scores",
    _changed(attn_mask=lambda c: c.attn_mask * c.resolved_scale),
    short="a float mask is scaled with the scores",
)
FLOAT_MASK_MULTIPLIED = Alternative(
    "float-mask-multiplied",
    "a float mask multiplies the scores instead of being added to them",
    _emulated(multiply_mask=True),
    short="a float mask multiplies the scores",
)
FLOAT_MASK_AS_BOOL = Alternative(
    "float-mask-as-bool",
    "a float mask is read as a boolean (nonzero = may attend) instead of being added",
    _changed(attn_mask=lambda c: c.attn_mask != 0),
    short="a float mask is read as a boolean",
)

# --- causal masks ----------------------------------------------------------------------------


def _causal(offset: Callable[[int, int], int], upper: bool = False) -> Callable[[Case], Prediction]:
    """is_causal replaced by the mask `tril(ones(L, S), offset(L, S))` (`triu` if `upper`)."""

    def mask(case: Case) -> np.ndarray:
        L, S = case.query.shape[-2], case.key.shape[-2]
        make = np.triu if upper else np.tril
        return make(np.ones((L, S), dtype=bool), offset(L, S))

    return _changed(is_causal=False, attn_mask=mask)


CAUSAL_BOTTOM_RIGHT = Alternative(
    "causal-bottom-right",
    "causal mask is aligned bottom-right, tril(ones(L, S), S - L) (as FlashAttention 2.1+), "
    "instead of top-left, tril(ones(L, S)) (as PyTorch's SDPA)",
    _causal(lambda L, S: S - L),
    short="the causal mask is aligned bottom-right",
)
CAUSAL_IGNORED = Alternative(
    "causal-ignored",
    "is_causal is ignored",
    _changed(is_causal=False, attn_mask=None),
    short="is_causal is ignored",
)
CAUSAL_STRICT = Alternative(
    "causal-strict",
    "the causal mask excludes the diagonal: query i sees keys j < i instead of j <= i",
    _causal(lambda L, S: -1),
    short="the causal mask excludes the diagonal",
)
CAUSAL_REVERSED = Alternative(
    "causal-reversed",
    "the causal mask is reversed: query i sees keys j >= i instead of j <= i",
    _causal(lambda L, S: 0, upper=True),
    short="the causal mask is reversed",
)

# --- fully masked rows -----------------------------------------------------------------------


def _fill_empty_rows(
    fill: Callable[[Case, np.ndarray], np.ndarray],
) -> Callable[[Case], Prediction]:
    """The truth, with the rows that have no key to attend to replaced by `fill`."""

    def predict(case: Case) -> Prediction:
        (out,) = truth(case)
        out = out.copy()
        rows = empty_rows(case)
        out[rows] = fill(case, out)[rows]
        return (out,), None

    return predict


MASKED_ROWS_NAN = Alternative(
    "masked-rows-nan",
    "fully masked rows give NaN (a softmax over no keys) instead of zeros",
    lambda c: None if c.backward else _fill_empty_rows(lambda c, out: np.full_like(out, np.nan))(c),
    short="fully masked rows give NaN",
)
MASKED_ROWS_UNIFORM = Alternative(
    "masked-rows-uniform",
    "fully masked rows give uniform weights, the mean of the values, instead of zeros "
    "(masked scores filled with a large finite number, as JAX does)",
    lambda c: (
        None
        if c.backward
        else _fill_empty_rows(
            lambda c, out: np.broadcast_to(
                c.value.astype(np.float64).mean(axis=-2, keepdims=True), out.shape
            )
        )(c)
    ),
    short="fully masked rows give the mean of the values",
)

# --- grouped-query attention -----------------------------------------------------------------


def _tiled(case: Case) -> Prediction:
    """kv heads tiled (0 1 0 1 ...) to the query's H heads, instead of repeated (0 0 1 1 ...)."""
    H, Hkv = case.query.shape[-3], case.key.shape[-3]
    reps = (1,) * (case.key.ndim - 3) + (H // Hkv, 1, 1)
    tiled = case.replace(key=np.tile(case.key, reps), value=np.tile(case.value, reps), gqa=False)
    return truth(tiled), None


GQA_TILED = Alternative(
    "gqa-tiled",
    "GQA groups heads by tiling instead of repeat-interleave: query head h reads kv head "
    "h % Hkv instead of h // G",
    _tiled,
    short="GQA tiles the key/value heads instead of repeating them",
)

# --- precision -------------------------------------------------------------------------------


def _bad_rows(a: np.ndarray) -> np.ndarray:
    """The query rows `(B, H, L)` with a NaN or an infinity in their output."""
    return ~np.isfinite(a).all(axis=-1)


def _same_overflow(case: Case, got: Outputs, emulated: np.ndarray) -> bool:
    """The implementation overflows in exactly the rows where the emulation does."""
    bad = _bad_rows(emulated)
    return bool(bad.any()) and np.array_equal(_bad_rows(np.asarray(got[0])), bad)


def _native(case: Case) -> np.ndarray | None:
    """The case computed natively in float16 (None unless the case is a float16 forward)."""
    if case.backward or case.dtype != np.float16:
        return None
    with np.errstate(all="ignore"):
        return emulate(case, np.float16)


def _float16_overflow(case: Case, got: Outputs, tolerance: float) -> bool:
    """float16 computed in float16: NaN or inf in the rows where that overflows."""
    native = _native(case)
    return native is not None and _same_overflow(case, got, native)


def _float16_precision(case: Case, got: Outputs, tolerance: float) -> bool:
    """float16 computed in float16, where nothing overflows: an error of that size."""
    native = _native(case)
    if native is None or _bad_rows(native).any() or _bad_rows(got[0]).any():
        return False
    (want,) = truth(case)
    error = float(np.max(np.abs(got[0].astype(np.float64) - want)))
    native_error = float(np.max(np.abs(native.astype(np.float64) - want)))
    return tolerance < error <= MATCH_SLACK * native_error + tolerance


def _no_max(case: Case, got: Outputs, tolerance: float) -> bool:
    """exp of the scores as they are: overflow in the same rows (forward cases only)."""
    dtype = np.float64 if case.dtype == np.float64 else np.float32
    with np.errstate(all="ignore"):
        return _same_overflow(case, got, emulate(case, dtype, subtract_max=False))


FLOAT16_OVERFLOW = Alternative(
    "float16-overflow",
    "float16 overflows (computed natively): compute float16 in float32 and cast the result "
    "back, as attention_ref and PyTorch do",
    matches=_float16_overflow,
    short="float16 overflows (computed natively)",
)
FLOAT16_PRECISION = Alternative(
    "float16-precision",
    "float16 loses precision (computed natively): its error is that of a computation in "
    "float16; compute in float32 and cast the result back",
    matches=_float16_precision,
    short="float16 loses precision (computed natively)",
)
SOFTMAX_NO_MAX = Alternative(
    "softmax-no-max",
    "the softmax does not subtract the row maximum before exp, which overflows on large scores",
    matches=_no_max,
    short="the softmax does not subtract the row maximum",
)

# --- gradients -------------------------------------------------------------------------------


def _gradients(
    case: Case, scaled: bool = True, delta: bool = True, nan_rows: bool = False
) -> Prediction:
    """The backward pass written out in float64, with a knob per deviation."""
    d_out, q, k, v = (a.astype(np.float64) for a in case.arrays())
    kwargs: dict[str, Any] = case.keywords()
    out, probs = scaled_dot_product_attention(q, k, v, **kwargs, return_weights=True)
    if nan_rows:
        probs = probs.copy()
        probs[empty_rows(case)] = np.nan
        out = probs @ v
    scale = case.resolved_scale if scaled else 1.0
    d_v = np.swapaxes(probs, -1, -2) @ d_out  # (B, H, S, Ev)
    d_probs = d_out @ np.swapaxes(v, -1, -2)  # (B, H, L, S)
    rowsum = np.sum(d_out * out, axis=-1, keepdims=True) if delta else 0.0
    d_scores = probs * (d_probs - rowsum)
    return (scale * (d_scores @ k), scale * (np.swapaxes(d_scores, -1, -2) @ q), d_v), None


def _backward_only(**knobs: Any) -> Predict:
    return lambda case: _gradients(case, **knobs) if case.backward and not case.gqa else None


GRAD_NO_SCALE = Alternative(
    "grad-no-scale",
    "grad_query and grad_key miss the scale factor (the chain rule through scale * Q K^T)",
    _backward_only(scaled=False),
    short="the gradients miss the scale factor",
)
GRAD_NO_DELTA = Alternative(
    "grad-no-delta",
    "the softmax's backward omits the row-sum term: dS = P ∘ dP instead of "
    "P ∘ (dP - rowsum(dO ∘ O))",
    _backward_only(delta=False),
    short="the softmax's backward omits the row-sum term",
)
GRAD_MASKED_ROWS_NAN = Alternative(
    "grad-masked-rows-nan",
    "fully masked rows give NaN gradients (a softmax over no keys) instead of zeros",
    lambda c: _gradients(c, nan_rows=True) if c.backward and empty_rows(c) is not None else None,
    short="fully masked rows give NaN gradients",
)

#: The alternatives that can explain a failure of any case: the scale and the softmax axis.
GENERIC = (
    SCALE_NONE,
    SCALE_SQUARED,
    SCALE_VALUE_SIZE,
    SCALE_MODEL_WIDTH,
    SCALE_IGNORED,
    SCALE_TIMES_DEFAULT,
    SCALE_DIVIDES,
    SOFTMAX_AXIS,
    LAYOUT,
)

#: Every alternative, in the order of the battery.
ALL = (
    *GENERIC,
    MASK_POLARITY,
    BOOL_MASK_ADDED,
    MASK_IGNORED,
    FLOAT_MASK_BEFORE_SCALE,
    FLOAT_MASK_MULTIPLIED,
    FLOAT_MASK_AS_BOOL,
    CAUSAL_BOTTOM_RIGHT,
    CAUSAL_IGNORED,
    CAUSAL_STRICT,
    CAUSAL_REVERSED,
    MASKED_ROWS_NAN,
    MASKED_ROWS_UNIFORM,
    GQA_TILED,
    FLOAT16_OVERFLOW,
    FLOAT16_PRECISION,
    SOFTMAX_NO_MAX,
    GRAD_NO_SCALE,
    GRAD_NO_DELTA,
    GRAD_MASKED_ROWS_NAN,
)
