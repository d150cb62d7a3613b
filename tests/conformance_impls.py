"""Implementations of attention for tests/test_conformance.py: one correct, many wrong.

`attention` is attention written out in NumPy, independently of attention_ref, with one knob
per convention; its defaults are attention_ref's conventions. Each wrong implementation below
changes one knob, as a port that got that one convention wrong would. The command-line tests
import them by name (`conformance_impls:inverted_mask`), so they are module-level functions.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def attention(
    q,
    k,
    v,
    attn_mask=None,
    is_causal=False,
    scale=None,
    enable_gqa=False,
    *,
    polarity=True,  # the bool mask value that means "may attend"
    causal_offset=lambda L, S: 0,  # tril(ones(L, S), offset): 0 is top-left
    default_scale=lambda q, k, v: 1 / math.sqrt(q.shape[-1]),
    fill=-np.inf,  # what masked scores become
    empty="zeros",  # fully masked rows: "zeros", or "nan" (a plain softmax)
    native_float16=False,
    subtract_max=True,
    expand=np.repeat,  # how kv heads reach the query's heads (enable_gqa)
    bool_as_float=False,
    float_mask_scaled=False,
    softmax_axis=-1,
):
    """Attention in attention_ref's conventions (with the defaults); q (..., H, L, E)."""
    dtype = np.result_type(q, k, v)
    work = dtype if native_float16 else np.promote_types(dtype, np.float32)
    q, k, v = (np.asarray(a, dtype=work) for a in (q, k, v))
    if enable_gqa and k.shape[-3] != q.shape[-3]:
        group = q.shape[-3] // k.shape[-3]
        if expand is np.repeat:
            k, v = np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3)
        else:
            k, v = np.tile(k, (1, group, 1, 1)), np.tile(v, (1, group, 1, 1))
    elif k.shape[-3] != q.shape[-3]:
        raise ValueError("key and value must have the query's number of heads")
    scale = default_scale(q, k, v) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2)  # (..., H, L, S)
    L, S = scores.shape[-2:]
    if attn_mask is not None and attn_mask.dtype == bool and not bool_as_float:
        scores = np.where(attn_mask == polarity, scores * work.type(scale), work.type(fill))
    elif attn_mask is not None:
        bias = attn_mask.astype(work)
        scores = (
            (scores + bias) * work.type(scale)
            if float_mask_scaled
            else scores * work.type(scale) + bias
        )
    else:
        scores = scores * work.type(scale)
    if is_causal:
        allowed = np.tril(np.ones((L, S), dtype=bool), causal_offset(L, S))
        scores = np.where(allowed, scores, work.type(fill))
    if subtract_max:
        top = scores.max(axis=softmax_axis, keepdims=True)
        scores = scores - (np.where(np.isfinite(top), top, 0) if empty == "zeros" else top)
    p = np.exp(scores)
    total = p.sum(axis=softmax_axis, keepdims=True)
    p = p / (np.where(total == 0, 1, total) if empty == "zeros" else total)
    return (p @ v).astype(dtype)


def backward(
    d_out,
    q,
    k,
    v,
    attn_mask=None,
    is_causal=False,
    scale=None,
    *,
    scaled=True,
    delta=True,
    empty="zeros",
):
    """The gradients of `attention` (float64 only), with knobs for three classic slips."""
    q, k, v, d_out = (np.asarray(a, dtype=np.float64) for a in (q, k, v, d_out))
    L, S = q.shape[-2], k.shape[-2]
    c = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = c * (q @ np.swapaxes(k, -1, -2))
    if is_causal:
        attn_mask = np.tril(np.ones((L, S), dtype=bool))
    if attn_mask is not None:
        scores = (
            np.where(attn_mask, scores, -np.inf) if attn_mask.dtype == bool else scores + attn_mask
        )
    top = scores.max(axis=-1, keepdims=True)
    p = np.exp(scores - (np.where(np.isfinite(top), top, 0) if empty == "zeros" else top))
    total = p.sum(axis=-1, keepdims=True)
    p = p / (np.where(total == 0, 1, total) if empty == "zeros" else total)
    out = p @ v
    d_v = np.swapaxes(p, -1, -2) @ d_out
    d_p = d_out @ np.swapaxes(v, -1, -2)
    d_s = p * (d_p - (np.sum(d_out * out, axis=-1, keepdims=True) if delta else 0))
    c = c if scaled else 1.0
    return c * (d_s @ k), c * (np.swapaxes(d_s, -1, -2) @ q), d_v


def _wrong(name, **knobs):
    """`attention` with some knobs turned, named `name` in reports."""
    fn = functools.partial(attention, **knobs)
    fn.__module__, fn.__qualname__ = __name__, name  # type: ignore[attr-defined]
    return fn


# --- the diagnoses --------------------------------------------------------------------
inverted_mask = _wrong("inverted_mask", polarity=False)
bottom_right = _wrong("bottom_right", causal_offset=lambda L, S: S - L)
scale_value_size = _wrong(
    "scale_value_size", default_scale=lambda q, k, v: 1 / math.sqrt(v.shape[-1])
)
scale_model_width = _wrong(
    "scale_model_width", default_scale=lambda q, k, v: 1 / math.sqrt(q.shape[-3] * q.shape[-1])
)
nan_rows = _wrong("nan_rows", empty="nan")
uniform_rows = _wrong("uniform_rows", fill=-1e9)
native_float16 = _wrong("native_float16", native_float16=True)
gqa_tiled = _wrong("gqa_tiled", expand=np.tile)

# --- more ---------------------------------------------------------------------------------------
unscaled = _wrong("unscaled", default_scale=lambda q, k, v: 1.0)
scaled_twice = _wrong("scaled_twice", default_scale=lambda q, k, v: 1 / q.shape[-1])
softmax_over_queries = _wrong("softmax_over_queries", softmax_axis=-2)
no_max = _wrong("no_max", subtract_max=False)
bool_mask_added = _wrong("bool_mask_added", bool_as_float=True)
float_mask_scaled = _wrong("float_mask_scaled", float_mask_scaled=True)
strictly_causal = _wrong("strictly_causal", causal_offset=lambda L, S: -1)


def scale_ignored(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    return attention(q, k, v, attn_mask, is_causal, None, enable_gqa)


def scale_divides(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    return attention(
        q, k, v, attn_mask, is_causal, None if scale is None else 1 / scale, enable_gqa
    )


def scale_times_default(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    scale = None if scale is None else scale / math.sqrt(q.shape[-1])
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)


def mask_ignored(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    return attention(q, k, v, None, is_causal, scale, enable_gqa)


def float_mask_multiplied(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    if attn_mask is None or attn_mask.dtype == bool:
        return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = scale * (q @ np.swapaxes(k, -1, -2)) * attn_mask
    return attention(np.zeros_like(q), k, v, scores, False, scale)  # softmax(scores) @ v


def float_mask_as_bool(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    if attn_mask is not None and attn_mask.dtype != bool:
        attn_mask = attn_mask != 0
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)


def causal_ignored(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    return attention(q, k, v, attn_mask, False, scale, enable_gqa)


def causal_reversed(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    if is_causal:
        attn_mask, is_causal = np.triu(np.ones((q.shape[-2], k.shape[-2]), dtype=bool)), False
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)


def jax_layout(q, k, v, attn_mask=None, is_causal=False, scale=None):
    """A (B, L, H, E) implementation given (B, H, L, E) arrays as they are."""
    swap = lambda a: np.swapaxes(a, -2, -3)  # noqa: E731
    return swap(attention(swap(q), swap(k), swap(v), attn_mask, is_causal, scale))


def no_gqa(q, k, v, attn_mask=None, is_causal=False, scale=None):
    """Correct, without grouped-query support: it raises on the GQA case."""
    return attention(q, k, v, attn_mask, is_causal, scale)


def returns_float64(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa).astype(np.float64)


def mutates(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    out = attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)
    q *= 2
    return out


def wrong_shape(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)[..., :-1]


def always_raises(q, k, v, attn_mask=None, is_causal=False, scale=None):
    raise RuntimeError("not implemented yet")


def _wrong_backward(name, **knobs):
    """`backward` with some knobs turned, named `name` in reports."""
    fn = functools.partial(backward, **knobs)
    fn.__module__, fn.__qualname__ = __name__, name  # type: ignore[attr-defined]
    return fn


grad_no_scale = _wrong_backward("grad_no_scale", scaled=False)
grad_no_delta = _wrong_backward("grad_no_delta", delta=False)
grad_nan_rows = _wrong_backward("grad_nan_rows", empty="nan")


# --- implementations that cannot express some cases, or compute in less precision ------------


def float32_inside(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """Correct, but computes in float32 whatever its inputs (JAX without x64, many kernels)."""
    dtype = np.result_type(q, k, v)
    q, k, v = (np.asarray(a, dtype=np.float32) for a in (q, k, v))
    if attn_mask is not None and attn_mask.dtype != bool:
        attn_mask = attn_mask.astype(np.float32)
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa).astype(dtype)


def float32_inside_inverted_mask(
    q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False
):
    """float32 inside, and True = masked: both must be named."""
    if attn_mask is not None and attn_mask.dtype == bool:
        attn_mask = ~attn_mask
    return float32_inside(q, k, v, attn_mask, is_causal, scale, enable_gqa)


def float32_inside_nan_rows(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """float32 inside, and fully masked rows give NaN (a plain softmax)."""
    dtype = np.result_type(q, k, v)
    q, k, v = (np.asarray(a, dtype=np.float32) for a in (q, k, v))
    if attn_mask is not None and attn_mask.dtype != bool:
        attn_mask = attn_mask.astype(np.float32)
    return nan_rows(q, k, v, attn_mask, is_causal, scale, enable_gqa).astype(dtype)


def float32_inside_unscaled(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """float32 inside, and the default scale is 1: the precision comes from `single key`."""
    dtype = np.result_type(q, k, v)
    q, k, v = (np.asarray(a, dtype=np.float32) for a in (q, k, v))
    if attn_mask is not None and attn_mask.dtype != bool:
        attn_mask = attn_mask.astype(np.float32)
    return unscaled(q, k, v, attn_mask, is_causal, scale, enable_gqa).astype(dtype)


def same_head_size(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """Correct, but refuses Ev != E (as fused kernels with one head size do)."""
    if v.shape[-1] != q.shape[-1]:
        raise ValueError(f"head sizes must match: value {v.shape[-1]}, query {q.shape[-1]}")
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)


def heads_second(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """Correct, in the (B, L, H, E) layout (JAX's, Flax's): q (B, L, H, E) -> (B, L, H, Ev)."""
    swap = lambda a: np.swapaxes(a, -2, -3)  # noqa: E731
    return swap(attention(swap(q), swap(k), swap(v), attn_mask, is_causal, scale, enable_gqa))


def no_scale_parameter(q, k, v, attn_mask=None, is_causal=False, enable_gqa=False):
    """Correct, without a scale parameter (always 1/sqrt(E), as nn.MultiheadAttention)."""
    return attention(q, k, v, attn_mask, is_causal, None, enable_gqa)


def no_enable_gqa(q, k, v, attn_mask=None, is_causal=False, scale=None):
    """Correct, without enable_gqa: NumPy's matmul fails to broadcast on the GQA case."""
    q @ np.swapaxes(k, -1, -2)  # (B, H, L, S); a broadcasting error when Hkv < H
    return attention(q, k, v, attn_mask, is_causal, scale)


def bool_masks_only(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """Correct, but accepts only boolean masks."""
    if attn_mask is not None and attn_mask.dtype != bool:
        raise TypeError("attn_mask must be boolean")
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa)


def float_on_row_dtype(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """Correct values, returned as float32 for float64 inputs: a FAIL under tolerance."""
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa).astype(np.float32)


def float16_inside(q, k, v, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """Correct conventions, inputs rounded to float16 (and computed in float32, as the
    contract computes float16), the result cast back to the inputs' dtype."""
    dtype = np.result_type(q, k, v)
    q, k, v = (np.asarray(a, dtype=np.float16) for a in (q, k, v))
    if attn_mask is not None and attn_mask.dtype != bool:
        attn_mask = attn_mask.astype(np.float16)
    return attention(q, k, v, attn_mask, is_causal, scale, enable_gqa).astype(dtype)
