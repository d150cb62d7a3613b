"""scaled_dot_product_attention against the loop oracle, closed forms and the dtype rules.

Oracle: ``oracle.sdpa`` (plain loops over b, h, i, j with ``math.exp`` and ``math.fsum`` in
float64), compared at ``RTOL_F64``/``ATOL_F64`` (see oracle.py for where those come from).
Reduced precision is compared with the same float64 oracle applied to the same input values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import normal
from oracle import ATOL_F64, RTOL_F64
from oracle import sdpa as sdpa_oracle

from attention_ref import causal_mask, padding_mask, scaled_dot_product_attention

EPS16 = float(np.finfo(np.float16).eps)  # 2**-10
EPS32 = float(np.finfo(np.float32).eps)  # 2**-23

# float16: the contract says float16 is computed in float32 and cast back. The cast is one
# rounding, at most half an ulp: <= 2**-11 |x| for normal x (2**-11 = eps16 / 2 is the unit
# roundoff). The float32 computation before the cast is off by
# delta32 <~ (E + S) * eps32 * max|v| ~ 1e-6 here, and it can move a value across a float16
# rounding boundary, which costs at most delta32 more. So |out16 - exact| <= 2**-11 |exact|
# + delta32 (1 + 2**-11) + 2**-25 (half the float16 subnormal spacing). A float16-native
# computation (every product and partial sum rounded to float16) is off by ~S * eps16 ~ 1e-2
# and fails this by far.
RTOL_F16 = EPS16 / 2
ATOL_F16 = 1e-5

# float32: the flash-attention rule (Dao-AILab/flash-attention tests): the implementation's
# max error against the float64 oracle must be at most twice the max error of a
# same-precision (float32) run of a plain vectorised reference, plus one float32 ulp at 1 as a
# floor for the case where the plain reference happens to be unusually accurate.
FLOOR_F32 = EPS32

# Scores of size ~1e4: each carries an absolute rounding error of ~E * eps64 * 1e4 ~ 1e-11,
# which becomes a relative error of the same size in the weights; 1e-9 leaves a margin of 100.
RTOL_HUGE = 1e-9


def _qkv(rng, q_shape, k_shape, v_shape, dtype=np.float64):
    return normal(rng, q_shape, dtype), normal(rng, k_shape, dtype), normal(rng, v_shape, dtype)


def _check(q, k, v, **kwargs):
    """Compare out and weights with the oracle, with and without return_weights."""
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True, **kwargs)
    out_ref, weights_ref = sdpa_oracle(q, k, v, **kwargs)
    assert out.shape == out_ref.shape
    assert weights.shape == weights_ref.shape
    np.testing.assert_allclose(out, out_ref, rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(weights, weights_ref, rtol=RTOL_F64, atol=ATOL_F64)
    out_only = scaled_dot_product_attention(q, k, v, **kwargs)
    np.testing.assert_allclose(out_only, out_ref, rtol=RTOL_F64, atol=ATOL_F64)
    return out, weights


def _plain_float32(q, k, v, scale=None):
    """A plain vectorised attention in float32: the 'same-precision reference' of the rule."""
    q, k, v = (np.asarray(a, dtype=np.float32) for a in (q, k, v))
    scale = np.float32(1.0 / math.sqrt(q.shape[-1]) if scale is None else scale)
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    scores = scores - scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs = probs / probs.sum(axis=-1, keepdims=True)
    return probs @ v


SHAPES = {
    # name: (query, key, value) shapes
    "2d": ((7, 5), (13, 5), (13, 3)),
    "3d": ((2, 7, 5), (2, 13, 5), (2, 13, 11)),
    "4d": ((2, 3, 7, 5), (2, 3, 13, 5), (2, 3, 13, 4)),
    "4d-broadcast": ((2, 1, 7, 5), (1, 3, 13, 5), (1, 3, 13, 4)),
    "4d-broadcast-value": ((2, 3, 7, 5), (2, 3, 13, 5), (1, 1, 13, 4)),
    "5d-broadcast": ((2, 1, 3, 5, 4), (1, 2, 1, 6, 4), (2, 2, 3, 6, 3)),
    "3d-vs-2d": ((3, 7, 5), (13, 5), (13, 2)),
    "batch-only-in-value": ((7, 5), (13, 5), (2, 3, 13, 4)),
    "batch-only-in-key": ((7, 5), (2, 13, 5), (13, 4)),
    "one-query-one-key": ((1, 1, 4), (1, 1, 4), (1, 1, 2)),
    "long-query": ((1, 97, 7), (1, 13, 7), (1, 13, 3)),
    "long-key": ((1, 5, 7), (1, 97, 7), (1, 97, 3)),
    "wide-head": ((1, 2, 13, 59), (1, 2, 9, 59), (1, 2, 9, 17)),
}


@pytest.mark.parametrize("name", SHAPES)
def test_matches_oracle(rng, name):
    q, k, v = _qkv(rng, *SHAPES[name])
    out, weights = _check(q, k, v)
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    assert out.shape == (*lead, q.shape[-2], v.shape[-1])
    assert weights.shape == (*lead, q.shape[-2], k.shape[-2])
    assert out.dtype == np.float64


def test_without_return_weights_returns_the_array(rng):
    q, k, v = _qkv(rng, *SHAPES["4d"])
    out = scaled_dot_product_attention(q, k, v)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, sdpa_oracle(q, k, v)[0], rtol=RTOL_F64, atol=ATOL_F64)
    out2, _ = scaled_dot_product_attention(q, k, v, return_weights=True)
    np.testing.assert_array_equal(out, out2)


# --- masks -----------------------------------------------------------------------------------

B, H, L, S, E, EV = 2, 3, 7, 13, 5, 4
MASK_SHAPES = [(L, S), (1, 1, L, S), (B, 1, 1, S), (B, H, L, S), (1, H, 1, S), (S,), (B, 1, L, S)]


@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
def test_bool_mask_broadcasts(rng, mask_shape):
    q, k, v = _qkv(rng, (B, H, L, E), (B, H, S, E), (B, H, S, EV))
    mask = rng.random(mask_shape) < 0.7
    _, weights = _check(q, k, v, attn_mask=mask)
    full = np.broadcast_to(mask, weights.shape)
    assert np.all(weights[~full] == 0.0)  # True = may attend: False entries get exactly 0


@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
def test_float_mask_is_added_to_scores(rng, mask_shape):
    q, k, v = _qkv(rng, (B, H, L, E), (B, H, S, E), (B, H, S, EV))
    mask = rng.normal(scale=2.0, size=mask_shape)
    mask[rng.random(mask_shape) < 0.2] = -np.inf
    _check(q, k, v, attn_mask=mask)


def test_float_mask_equals_bias_closed_form():
    # One query, two keys, zero scores: a float mask [0, log 3] gives weights [1/4, 3/4].
    q = np.zeros((1, 2))
    k = np.array([[1.0, 2.0], [3.0, 4.0]])
    v = np.array([[4.0], [8.0]])
    out, weights = scaled_dot_product_attention(
        q, k, v, attn_mask=np.array([[0.0, math.log(3.0)]]), return_weights=True
    )
    np.testing.assert_allclose(weights, [[0.25, 0.75]], rtol=1e-14)
    np.testing.assert_allclose(out, [[7.0]], rtol=1e-14)


def test_bool_mask_true_means_may_attend():
    q = np.zeros((1, 2))
    k = np.ones((3, 2))
    v = np.array([[1.0], [10.0], [100.0]])
    out = scaled_dot_product_attention(q, k, v, attn_mask=np.array([[False, True, True]]))
    np.testing.assert_allclose(out, [[55.0]], rtol=1e-14)


def test_key_padding_mask(rng):
    q, k, v = _qkv(rng, (3, H, L, E), (3, H, S, E), (3, H, S, EV))
    keep = padding_mask([S, 4, 1], S)  # (B, S): True = a real token
    _, weights = _check(q, k, v, attn_mask=keep[:, None, None, :])
    assert np.all(weights[1, :, :, 4:] == 0.0)
    np.testing.assert_allclose(weights[2, :, :, 0], 1.0, rtol=1e-15)


# --- is_causal -------------------------------------------------------------------------------


@pytest.mark.parametrize(("L_", "S_"), [(5, 9), (7, 7), (9, 5), (1, 6), (6, 1), (13, 97)])
def test_is_causal_is_top_left_tril(rng, L_, S_):
    q, k, v = _qkv(rng, (2, 2, L_, 3), (2, 2, S_, 3), (2, 2, S_, 4))
    _, weights = _check(q, k, v, is_causal=True)
    tril = np.tril(np.ones((L_, S_), dtype=bool))
    assert np.all(weights[..., ~tril] == 0.0)
    assert np.all(weights[..., tril] > 0.0)


def test_is_causal_first_row_is_first_value(rng):
    q, k, v = _qkv(rng, (7, 5), (9, 5), (9, 3))
    out = scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out[0], v[0], rtol=1e-15)


def test_is_causal_equals_explicit_causal_mask(rng):
    q, k, v = _qkv(rng, (2, 3, 7, 5), (2, 3, 11, 5), (2, 3, 11, 4))
    out_causal = scaled_dot_product_attention(q, k, v, is_causal=True)
    out_mask = scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(7, 11))
    np.testing.assert_allclose(out_causal, out_mask, rtol=RTOL_F64, atol=ATOL_F64)


# --- scale -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.37, 2.0, -0.5, 1.0])
def test_scale(rng, scale):
    q, k, v = _qkv(rng, (2, 7, 5), (2, 13, 5), (2, 13, 3))
    _check(q, k, v, scale=scale)


def test_scale_none_is_inverse_sqrt_E(rng):
    q, k, v = _qkv(rng, (2, 7, 9), (2, 13, 9), (2, 13, 3))
    np.testing.assert_allclose(
        scaled_dot_product_attention(q, k, v),
        scaled_dot_product_attention(q, k, v, scale=1 / 3),
        rtol=RTOL_F64,
        atol=ATOL_F64,
    )


def test_scale_zero_is_not_the_default(rng):
    # scale=0.0 is a real scale (uniform weights: the mean of the values), not "None".
    q, k, v = _qkv(rng, (7, 5), (13, 5), (13, 3))
    out, weights = scaled_dot_product_attention(q, k, v, scale=0.0, return_weights=True)
    np.testing.assert_allclose(weights, np.full((7, 13), 1 / 13), rtol=1e-14)
    np.testing.assert_allclose(out, np.broadcast_to(v.mean(axis=0), (7, 3)), rtol=1e-13)


# --- closed forms ----------------------------------------------------------------------------


def test_single_key_returns_its_value(rng):
    q, k, v = _qkv(rng, (2, 7, 5), (2, 1, 5), (2, 1, 3))
    out = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(out, np.broadcast_to(v, (2, 7, 3)), rtol=1e-15)


def test_equal_scores_average_the_values(rng):
    q = np.zeros((3, 4))
    k = rng.normal(size=(13, 4))
    v = rng.normal(size=(13, 2))
    out = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(out, np.broadcast_to(v.mean(axis=0), (3, 2)), rtol=1e-13)


# --- grouped-query attention -----------------------------------------------------------------

GQA_SHAPES = {
    "G=3": ((2, 6, 7, 5), (2, 2, 13, 5), (2, 2, 13, 3)),
    "MQA": ((2, 5, 7, 4), (2, 1, 13, 4), (2, 1, 13, 3)),
    "G=1": ((1, 3, 7, 4), (1, 3, 9, 4), (1, 3, 9, 2)),
    "3d": ((6, 7, 5), (3, 13, 5), (3, 13, 3)),
    "broadcast-batch": ((2, 4, 7, 5), (1, 2, 13, 5), (1, 2, 13, 3)),
}


@pytest.mark.parametrize("name", GQA_SHAPES)
def test_gqa_matches_oracle(rng, name):
    q, k, v = _qkv(rng, *GQA_SHAPES[name])
    _, weights = _check(q, k, v, enable_gqa=True)
    assert weights.shape[-3] == q.shape[-3]


def test_gqa_uses_repeat_interleave_head_order(rng):
    # Query heads 0, 1 read kv head 0; heads 2, 3 read kv head 1 (not 0, 1, 0, 1).
    q, k, v = _qkv(rng, (4, 7, 5), (2, 13, 5), (2, 13, 3))
    out = scaled_dot_product_attention(q, k, v, enable_gqa=True)
    for h in range(4):
        expected = scaled_dot_product_attention(q[h], k[h // 2], v[h // 2])
        np.testing.assert_allclose(out[h], expected, rtol=RTOL_F64, atol=ATOL_F64)


def test_gqa_with_mask_and_causal(rng):
    q, k, v = _qkv(rng, (2, 6, 7, 5), (2, 3, 9, 5), (2, 3, 9, 4))
    mask = rng.random((2, 6, 7, 9)) < 0.7
    _check(q, k, v, attn_mask=mask, enable_gqa=True)
    _check(q, k, v, is_causal=True, enable_gqa=True)


# --- fully masked rows -----------------------------------------------------------------------


def test_fully_masked_bool_row_gives_zeros_not_nan(rng):
    q, k, v = _qkv(rng, (2, 3, 7, 5), (2, 3, 13, 5), (2, 3, 13, 4))
    mask = rng.random((2, 3, 7, 13)) < 0.7
    mask[0, 1, 2, :] = False
    mask[1, :, 5, :] = False
    out, weights = _check(q, k, v, attn_mask=mask)
    assert not np.isnan(out).any()
    assert not np.isnan(weights).any()
    np.testing.assert_array_equal(out[0, 1, 2], 0.0)
    np.testing.assert_array_equal(weights[0, 1, 2], 0.0)
    np.testing.assert_array_equal(out[1, :, 5], 0.0)
    np.testing.assert_array_equal(weights[1, :, 5], 0.0)


def test_fully_masked_float_row_gives_zeros_not_nan(rng):
    q, k, v = _qkv(rng, (7, 5), (13, 5), (13, 4))
    mask = np.zeros((7, 13))
    mask[3, :] = -np.inf
    out, weights = _check(q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(out[3], 0.0)
    np.testing.assert_array_equal(weights[3], 0.0)
    assert np.isfinite(out).all()


def test_zero_length_sequence_in_padding_mask_gives_zeros(rng):
    q, k, v = _qkv(rng, (2, 7, 5), (2, 13, 5), (2, 13, 4))
    keep = padding_mask([13, 0], 13)[:, None, :]  # (B, 1, S)
    out = scaled_dot_product_attention(q, k, v, attn_mask=keep)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_allclose(
        out[0], sdpa_oracle(q[0], k[0], v[0])[0], rtol=RTOL_F64, atol=ATOL_F64
    )


# --- NaN and inf propagate -------------------------------------------------------------------


def test_nan_in_query_propagates_to_its_row(rng):
    q, k, v = _qkv(rng, (2, 7, 5), (2, 13, 5), (2, 13, 4))
    q[1, 3, 2] = np.nan
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert np.isnan(out[1, 3]).all()
    assert np.isnan(weights[1, 3]).all()
    others = np.ones((2, 7), dtype=bool)
    others[1, 3] = False
    assert np.isfinite(out[others]).all()


def test_nan_in_key_propagates_to_every_row(rng):
    q, k, v = _qkv(rng, (7, 5), (13, 5), (13, 4))
    k[6, 0] = np.nan
    out = scaled_dot_product_attention(q, k, v)
    assert np.isnan(out).all()


def test_nan_in_value_propagates_to_its_column(rng):
    q, k, v = _qkv(rng, (7, 5), (13, 5), (13, 4))
    v[6, 1] = np.nan
    out = scaled_dot_product_attention(q, k, v)
    assert np.isnan(out[:, 1]).all()
    assert np.isfinite(np.delete(out, 1, axis=1)).all()


def test_inf_in_value_propagates(rng):
    q, k, v = _qkv(rng, (7, 5), (13, 5), (13, 4))
    v[6, 2] = np.inf
    out = scaled_dot_product_attention(q, k, v)
    assert np.all(out[:, 2] == np.inf)  # every weight is > 0, so every row sees +inf


def test_nan_in_float_mask_propagates(rng):
    q, k, v = _qkv(rng, (7, 5), (13, 5), (13, 4))
    mask = np.zeros((7, 13))
    mask[4, 9] = np.nan
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert np.isnan(out[4]).all()
    assert np.isfinite(np.delete(out, 4, axis=0)).all()


# --- huge logits -----------------------------------------------------------------------------


def test_huge_logits_stay_finite(rng):
    q = normal(rng, (2, 7, 4), scale=80.0)
    k = normal(rng, (2, 13, 4), scale=80.0)
    v = normal(rng, (2, 13, 3))
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    out_ref, weights_ref = sdpa_oracle(q, k, v)
    assert np.abs(q @ np.swapaxes(k, -1, -2) / 2).max() > 1e3  # the scores really are huge
    assert np.isfinite(out).all()
    assert np.isfinite(weights).all()
    np.testing.assert_allclose(out, out_ref, rtol=RTOL_HUGE, atol=RTOL_HUGE)
    np.testing.assert_allclose(weights, weights_ref, rtol=RTOL_HUGE, atol=RTOL_HUGE)


def test_huge_logits_closed_form():
    q = np.array([[100.0, 0.0]])
    k = np.array([[100.0, 0.0], [0.0, 0.0], [100.0, 0.0]])  # scores 1e4, 0, 1e4 with scale 1
    v = np.array([[2.0], [50.0], [4.0]])
    out, weights = scaled_dot_product_attention(q, k, v, scale=1.0, return_weights=True)
    np.testing.assert_array_equal(weights, [[0.5, 0.0, 0.5]])
    np.testing.assert_allclose(out, [[3.0]], rtol=1e-15)


def test_huge_logits_float16_stay_finite():
    # float16 products of 200 * 200 overflow float16 (max 65504); computed in float32 they don't.
    q = np.full((3, 4), 200.0, dtype=np.float16)
    k = np.full((5, 4), 200.0, dtype=np.float16)
    k[0] = -200.0
    v = np.arange(10, dtype=np.float16).reshape(5, 2)
    out = scaled_dot_product_attention(q, k, v)
    assert out.dtype == np.float16
    # Keys 1..4 tie (score 8e4), key 0 gets exp(-1.6e5) = 0: the mean of v[1:].
    np.testing.assert_array_equal(out, np.broadcast_to(v[1:].astype(np.float64).mean(0), (3, 2)))


# --- dtypes ----------------------------------------------------------------------------------


def test_float16_in_float16_out_accurate(rng):
    q, k, v = _qkv(rng, (2, 3, 13, 8), (2, 3, 29, 8), (2, 3, 29, 5), dtype=np.float16)
    mask = rng.random((13, 29)) < 0.8
    out, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    assert out.dtype == np.float16
    assert weights.dtype == np.float16
    out_ref, weights_ref = sdpa_oracle(q, k, v, attn_mask=mask)  # exact float16 values, float64
    np.testing.assert_allclose(out.astype(np.float64), out_ref, rtol=RTOL_F16, atol=ATOL_F16)
    np.testing.assert_allclose(
        weights.astype(np.float64), weights_ref, rtol=RTOL_F16, atol=ATOL_F16
    )


def test_float32_in_float32_out_flash_attention_rule(rng):
    q, k, v = _qkv(rng, (2, 3, 13, 8), (2, 3, 29, 8), (2, 3, 29, 5), dtype=np.float32)
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert out.dtype == np.float32
    assert weights.dtype == np.float32
    out_ref, _ = sdpa_oracle(q, k, v)
    err = np.abs(out.astype(np.float64) - out_ref).max()
    err_plain = np.abs(_plain_float32(q, k, v).astype(np.float64) - out_ref).max()
    assert err <= 2 * err_plain + FLOOR_F32, (err, err_plain)


@pytest.mark.parametrize(
    ("dtypes", "expected"),
    [
        ((np.float32, np.float64, np.float32), np.float64),
        ((np.float64, np.float32, np.float32), np.float64),
        ((np.float32, np.float32, np.float64), np.float64),
        ((np.float16, np.float32, np.float16), np.float32),
        ((np.float16, np.float16, np.float64), np.float64),
    ],
)
def test_mixed_dtypes_follow_result_type(rng, dtypes, expected):
    shapes = ((2, 7, 5), (2, 13, 5), (2, 13, 3))
    q, k, v = (normal(rng, s, dt) for s, dt in zip(shapes, dtypes, strict=True))
    assert np.result_type(*dtypes) == expected
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert out.dtype == expected
    assert weights.dtype == expected
    if expected == np.float64:
        # float16/float32 values are exact in float64, so a float64 computation must agree
        # with the oracle at the float64 tolerance.
        out_ref, _ = sdpa_oracle(q, k, v)
        np.testing.assert_allclose(out, out_ref, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("mask_dtype", [np.bool_, np.float16, np.float32, np.float64])
def test_mask_dtype_never_changes_output_dtype(rng, dtype, mask_dtype):
    q, k, v = _qkv(rng, (7, 5), (13, 5), (13, 3), dtype=dtype)
    if mask_dtype is np.bool_:
        mask = rng.random((7, 13)) < 0.7
    else:
        mask = rng.normal(size=(7, 13)).astype(mask_dtype)
    out, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    assert out.dtype == dtype
    assert weights.dtype == dtype


def test_float64_mask_with_float32_inputs_is_accurate(rng):
    q, k, v = _qkv(rng, (2, 7, 5), (2, 13, 5), (2, 13, 3), dtype=np.float32)
    mask = rng.normal(size=(7, 13))
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert out.dtype == np.float32
    out_ref, _ = sdpa_oracle(q, k, v, attn_mask=mask)
    err = np.abs(out.astype(np.float64) - out_ref).max()
    # The plain float32 reference, with the mask rounded to float32 and added before the max.
    scores = (q @ np.swapaxes(k, -1, -2)) * np.float32(1 / math.sqrt(5))
    scores = scores + mask.astype(np.float32)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    plain = (probs / probs.sum(-1, keepdims=True)) @ v
    err_plain = np.abs(plain.astype(np.float64) - out_ref).max()
    assert err <= 2 * err_plain + FLOOR_F32, (err, err_plain)


# --- no mutation -----------------------------------------------------------------------------


def test_inputs_not_mutated(rng):
    q, k, v = _qkv(rng, (2, 3, 7, 5), (2, 3, 13, 5), (2, 3, 13, 4))
    q[0, 0, 0, 0] = np.nan
    fmask = rng.normal(size=(7, 13))
    fmask[2, :] = -np.inf
    bmask = rng.random((2, 1, 7, 13)) < 0.5
    copies = [a.copy() for a in (q, k, v, fmask, bmask)]
    scaled_dot_product_attention(q, k, v, attn_mask=fmask, return_weights=True)
    scaled_dot_product_attention(q, k, v, attn_mask=bmask, scale=0.3)
    scaled_dot_product_attention(q, k, v, is_causal=True)
    for after, before in zip((q, k, v, fmask, bmask), copies, strict=True):
        np.testing.assert_array_equal(after, before)


def test_read_only_inputs_accepted(rng):
    q, k, v = _qkv(rng, (2, 6, 7, 5), (2, 3, 13, 5), (2, 3, 13, 4))
    mask = rng.random((7, 13)) < 0.7
    fmask = rng.normal(size=(7, 13))
    for a in (q, k, v, mask, fmask):
        a.flags.writeable = False
    _check(q, k, v, attn_mask=mask, enable_gqa=True)
    _check(q, k, v, attn_mask=fmask, enable_gqa=True)


# --- long sequences --------------------------------------------------------------------------
# An implementation may switch to a blocked algorithm for long sequences when the weights are
# not requested (this one does above L * S = 256 * 256). The public function must agree with
# the oracle on both sides of any such switch, so these use L * S > 2**16 with odd sizes that
# no block size divides, and compare the output without return_weights.

LONG = {
    "no mask": ((263, 3), (257, 3), (257, 2), {}),
    "causal L > S": ((263, 3), (257, 3), (257, 2), {"is_causal": True}),
    "causal L < S": ((257, 3), (263, 3), (263, 2), {"is_causal": True}),
    "gqa": ((2, 257, 3), (1, 263, 3), (1, 263, 2), {"enable_gqa": True, "scale": 0.7}),
}


@pytest.mark.parametrize("name", LONG)
def test_long_sequences_match_oracle(rng, name):
    q_shape, k_shape, v_shape, kwargs = LONG[name]
    q, k, v = _qkv(rng, q_shape, k_shape, v_shape)
    out = scaled_dot_product_attention(q, k, v, **kwargs)
    np.testing.assert_allclose(out, sdpa_oracle(q, k, v, **kwargs)[0], rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_long_sequences_with_mask_and_fully_masked_rows(rng, kind):
    q, k, v = _qkv(rng, (263, 3), (257, 3), (257, 2))
    allowed = rng.random((263, 257)) < 0.6
    allowed[[0, 100, 262]] = False  # fully masked rows, in different blocks
    mask = allowed if kind == "bool" else np.where(allowed, rng.normal(size=allowed.shape), -np.inf)
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(out[[0, 100, 262]], 0.0)
    np.testing.assert_allclose(
        out, sdpa_oracle(q, k, v, attn_mask=mask)[0], rtol=RTOL_F64, atol=ATOL_F64
    )


def test_long_sequences_nan_propagates(rng):
    q, k, v = _qkv(rng, (263, 3), (257, 3), (257, 2))
    q[200, 1] = np.nan
    v[13, 0] = np.nan
    out = scaled_dot_product_attention(q, k, v)
    assert np.isnan(out[200]).all()
    assert np.isnan(out[:, 0]).all()
    assert np.isfinite(np.delete(out[:, 1], 200)).all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_long_sequences_reduced_precision(rng, dtype):
    q, k, v = _qkv(rng, (263, 4), (257, 4), (257, 3), dtype=dtype)
    out = scaled_dot_product_attention(q, k, v)
    assert out.dtype == dtype
    out_ref, _ = sdpa_oracle(q, k, v)
    if dtype == np.float16:
        np.testing.assert_allclose(out.astype(np.float64), out_ref, rtol=RTOL_F16, atol=ATOL_F16)
    else:
        err = np.abs(out.astype(np.float64) - out_ref).max()
        err_plain = np.abs(_plain_float32(q, k, v).astype(np.float64) - out_ref).max()
        assert err <= 2 * err_plain + FLOOR_F32, (err, err_plain)


def test_long_sequences_huge_logits(rng):
    q = normal(rng, (263, 4), scale=60.0)
    k = normal(rng, (257, 4), scale=60.0)
    v = normal(rng, (257, 2))
    out = scaled_dot_product_attention(q, k, v)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, sdpa_oracle(q, k, v)[0], rtol=RTOL_HUGE, atol=RTOL_HUGE)
