"""The fast path of scaled_dot_product_attention against the plain one, and the dispatch.

Oracle: the plain vectorised path ``attend`` (checked against the loop oracle in test_sdpa.py).
Both are float64 computations of the same formula that round in a different order (the fast
one in base 2, with the row sums from the matrix product), so they agree at ``RTOL_F64``. The
fast path is called directly at small sizes, with tiles of 1 x 1, 7 x 5, 4 x 13 and
2048 x 256 queries by keys, so that tiles divide the lengths and do not; the public function
is checked to take it for large inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracle import ATOL_F64, RTOL_F64
from oracle import sdpa as sdpa_oracle

import attention_ref._sdpa as sdpa_module
from attention_ref import scaled_dot_product_attention
from attention_ref._checks import check_qkv
from attention_ref._sdpa import attend, attend_fast

EPS32 = float(np.finfo(np.float32).eps)

# float32: the flash-attention rule, as in test_sdpa.py: at most twice the error of a plain
# float32 computation against the float64 oracle, plus one float32 ulp at 1.
FLOOR_F32 = EPS32


@pytest.fixture(params=[(1, 1), (7, 5), (4, 13), (2048, 256)], ids=lambda b: f"tile={b[0]}x{b[1]}")
def tiles(request, monkeypatch):
    """Tiles of queries by keys: single scores, tiles that divide no length, one whole tile."""
    monkeypatch.setattr(sdpa_module, "ROWS_BLOCK", request.param[0])
    monkeypatch.setattr(sdpa_module, "KEYS_BLOCK", request.param[1])
    return request.param


def _normal(rng, shape, dtype=np.float64, scale=1.0):
    return (scale * rng.normal(size=shape)).astype(dtype)


def _both(q, k, v, mask=None, is_causal=False, scale=None, enable_gqa=False):
    """(fast, plain) outputs on the same checked arguments."""
    group = 1
    if enable_gqa:
        group = check_qkv(q, k, v, True)[1]
    fast = attend_fast(q, k, v, mask, is_causal, scale, group)
    plain = attend(q, k, v, mask, is_causal, scale, group)[0]
    return fast, plain


def _assert_fast_equals_plain(q, k, v, **kwargs):
    fast, plain = _both(q, k, v, **kwargs)
    assert fast.shape == plain.shape
    np.testing.assert_allclose(fast, plain, rtol=RTOL_F64, atol=ATOL_F64)
    return fast


SHAPES = {
    "2d": ((7, 5), (13, 5), (13, 3)),
    "3d": ((2, 7, 5), (2, 13, 5), (2, 13, 11)),
    "4d-broadcast": ((2, 1, 7, 5), (1, 3, 13, 5), (1, 3, 13, 4)),
    "broadcast-value": ((2, 3, 7, 5), (2, 3, 13, 5), (1, 1, 13, 4)),
    "batch-only-in-value": ((7, 5), (13, 5), (2, 3, 13, 4)),
    "long-key": ((1, 5, 7), (1, 97, 7), (1, 97, 3)),
    "long-query": ((1, 97, 7), (1, 13, 7), (1, 13, 3)),
}


@pytest.mark.parametrize("name", SHAPES)
def test_shapes(rng, tiles, name):
    q, k, v = (_normal(rng, s) for s in SHAPES[name])
    _assert_fast_equals_plain(q, k, v)


@pytest.mark.parametrize("kind", ["bool", "float", "bool-broadcast", "float-broadcast"])
def test_masks(rng, tiles, kind):
    q, k, v = (_normal(rng, s) for s in ((2, 3, 9, 5), (2, 3, 20, 5), (2, 3, 20, 4)))
    shape = (9, 20) if "broadcast" not in kind else (2, 1, 1, 20)
    if kind.startswith("bool"):
        mask = rng.random(shape) < 0.6
        mask[..., :3] = False
    else:
        mask = rng.normal(scale=2.0, size=shape)
        mask[rng.random(shape) < 0.2] = -np.inf
    _assert_fast_equals_plain(q, k, v, mask=mask)


@pytest.mark.parametrize(("L", "S"), [(5, 23), (23, 5), (16, 16), (1, 9), (9, 1)])
def test_causal(rng, tiles, L, S):
    q, k, v = (_normal(rng, s) for s in ((2, L, 5), (2, S, 5), (2, S, 3)))
    out = _assert_fast_equals_plain(q, k, v, is_causal=True)
    np.testing.assert_allclose(out[:, 0], v[:, 0], rtol=1e-14)


def test_gqa_and_scale(rng, tiles):
    q, k, v = (_normal(rng, s) for s in ((2, 6, 7, 5), (1, 2, 13, 5), (1, 2, 13, 3)))
    _assert_fast_equals_plain(q, k, v, enable_gqa=True)
    _assert_fast_equals_plain(q, k, v, enable_gqa=True, is_causal=True, scale=0.3)
    _assert_fast_equals_plain(q, k[:, :1], v[:, :1], scale=-2.0)  # heads broadcast


def test_fully_masked_rows_give_zeros(rng, tiles):
    q, k, v = (_normal(rng, s) for s in ((2, 7, 5), (2, 13, 5), (2, 13, 4)))
    bool_mask = rng.random((2, 7, 13)) < 0.6
    bool_mask[1, 3] = False
    float_mask = np.zeros((7, 13))
    float_mask[5] = -np.inf
    out = _assert_fast_equals_plain(q, k, v, mask=bool_mask)
    np.testing.assert_array_equal(out[1, 3], 0.0)
    out = _assert_fast_equals_plain(q, k, v, mask=float_mask)
    np.testing.assert_array_equal(out[:, 5], 0.0)


def test_huge_logits(rng, tiles):
    q = _normal(rng, (2, 7, 4), scale=80.0)
    k = _normal(rng, (2, 13, 4), scale=80.0)
    v = _normal(rng, (2, 13, 3))
    fast, _ = _both(q, k, v)
    expected, _ = sdpa_oracle(q, k, v)
    assert np.isfinite(fast).all()
    np.testing.assert_allclose(fast, expected, rtol=1e-9, atol=1e-9)  # as RTOL_HUGE in test_sdpa


def test_nan_propagates_as_in_the_plain_path(rng):
    q, k, v = (_normal(rng, s) for s in ((7, 5), (13, 5), (13, 4)))
    q[3, 1] = np.nan
    v[6, 2] = np.nan
    fast, plain = _both(q, k, v)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(plain))
    assert np.isnan(fast[3]).all()
    assert np.isnan(fast[:, 2]).all()


# --- the public function takes the fast path for large inputs --------------------------------


def test_public_function_dispatches(rng, monkeypatch):
    L = S = math.isqrt(sdpa_module.FAST_MIN_SCORES)  # just large enough
    q, k, v = (_normal(rng, (2, 2, n, 4)) for n in (L, S, S))
    mask = rng.random((L, S)) < 0.8
    calls = []
    real = sdpa_module.attend_fast
    monkeypatch.setattr(sdpa_module, "attend_fast", lambda *a: calls.append(1) or real(*a))
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert calls == [1]
    out_plain, _ = scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    assert calls == [1]  # the weights come from the plain path
    np.testing.assert_allclose(out, out_plain, rtol=RTOL_F64, atol=ATOL_F64)
    scaled_dot_product_attention(q[..., :-1, :], k, v)
    assert calls == [1]  # one query fewer: the plain path


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_reduced_precision_on_the_fast_path(rng, monkeypatch, dtype):
    monkeypatch.setattr(sdpa_module, "FAST_MIN_SCORES", 1)  # the fast path at any size
    q, k, v = (_normal(rng, (2, 2, n, 8), dtype) for n in (64, 96, 96))
    out = scaled_dot_product_attention(q, k, v)
    assert out.dtype == dtype
    expected, _ = sdpa_oracle(q, k, v)
    err = np.abs(out.astype(np.float64) - expected).max()
    scale = np.float32(1 / math.sqrt(8))
    q32, k32, v32 = (a.astype(np.float32) for a in (q, k, v))
    scores = (q32 @ np.swapaxes(k32, -1, -2)) * scale  # the plain float32 reference
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    plain = ((probs / probs.sum(-1, keepdims=True)) @ v32).astype(dtype)
    err_plain = np.abs(plain.astype(np.float64) - expected).max()
    assert err <= 2 * err_plain + FLOOR_F32, (err, err_plain)


def test_inputs_not_mutated_and_read_only_accepted(rng, monkeypatch):
    monkeypatch.setattr(sdpa_module, "FAST_MIN_SCORES", 1)
    q, k, v = (_normal(rng, (2, 3, n, 5)) for n in (64, 80, 80))
    fmask = rng.normal(size=(64, 80))
    bmask = rng.random((2, 1, 64, 80)) < 0.5
    arrays = (q, k, v, fmask, bmask)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    scaled_dot_product_attention(q, k, v, attn_mask=fmask)
    scaled_dot_product_attention(q, k, v, attn_mask=bmask, scale=0.3)
    scaled_dot_product_attention(q, k, v, is_causal=True)
    for after, before in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(after, before)


# --- the shift by a bound, and the rows it sends back to the plain path ----------------------


def _count_plain_rows(monkeypatch):
    """Record the number of query rows `attend_rows` hands back to the plain `attend`."""
    rows = []
    real = sdpa_module.attend
    monkeypatch.setattr(
        sdpa_module, "attend", lambda q, *a: rows.append(q.shape[-2]) or real(q, *a)
    )
    return rows


def test_ordinary_inputs_stay_on_the_fast_path(rng, tiles, monkeypatch):
    # Standard-normal queries and keys: every row's bound is within a few doublings of its
    # maximum, so no row is computed twice (else the fast path would be slower than the plain).
    rows = _count_plain_rows(monkeypatch)
    q, k, v = (_normal(rng, s) for s in ((2, 3, 40, 16), (2, 3, 50, 16), (2, 3, 50, 8)))
    _assert_fast_equals_plain(q, k, v)
    _assert_fast_equals_plain(q, k, v, is_causal=True)
    _assert_fast_equals_plain(q, k, v, mask=rng.random((40, 50)) < 0.5)
    assert rows == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_bound_far_above_the_maximum_recomputes_the_rows(rng, tiles, monkeypatch, dtype):
    # One key of norm 1e4 that the mask hides from every query: the Cauchy-Schwarz bound
    # counts it (|c q_i| |k_0| ~ 1e4, about 14 000 doublings), so exp2(s - b) underflows to 0
    # for every visible key, and every row must be recomputed, shifted by its maximum.
    rows = _count_plain_rows(monkeypatch)
    q, k, v = (_normal(rng, s, dtype) for s in ((9, 4), (20, 4), (20, 3)))
    k[0] *= 1e4
    mask = np.ones((9, 20), dtype=bool)
    mask[:, 0] = False
    fast = attend_fast(q, k, v, mask, False, None, 1)
    assert sum(rows) == 9
    expected, _ = sdpa_oracle(q, k, v, attn_mask=mask)
    eps = np.finfo(dtype).eps  # float32: a few ulps of the output's scale, |v| ~ 1
    np.testing.assert_allclose(fast, expected, rtol=16 * eps, atol=16 * eps)


def test_causal_rows_recomputed_see_only_their_keys(rng, tiles, monkeypatch):
    # The huge key is the last one: under is_causal only the last query sees it, so the bound
    # is far above the maximum for the others, which are recomputed with their causal row.
    rows = _count_plain_rows(monkeypatch)
    q, k, v = (_normal(rng, s) for s in ((11, 4), (11, 4), (11, 3)))
    k[-1] *= 1e4
    fast, plain = _both(q, k, v, is_causal=True)
    assert sum(rows) >= 10
    np.testing.assert_allclose(fast, plain, rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(fast[0], v[0], rtol=1e-14)


def test_inf_in_a_key_is_not_hidden_by_the_bound(rng):
    # An inf key makes every bound inf (so s - b is NaN): the rows go to the plain path,
    # which gives what the formula gives. (Both warn "invalid value", as NumPy does.)
    q, k, v = (_normal(rng, s) for s in ((7, 5), (13, 5), (13, 4)))
    k[4, 2] = np.inf
    with np.errstate(invalid="ignore"):
        fast, plain = _both(q, k, v)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(plain))
    np.testing.assert_allclose(fast, plain, rtol=RTOL_F64, atol=ATOL_F64)


def test_a_float_mask_that_raises_scores_is_in_the_bound(rng, tiles, monkeypatch):
    # +1000 on some entries: exp2(1000 log2 e) overflows float64 unless the shift includes
    # the mask's largest entry in the row. Then no row needs the plain path.
    rows = _count_plain_rows(monkeypatch)
    q, k, v = (_normal(rng, s) for s in ((2, 9, 5), (2, 20, 5), (2, 20, 4)))
    mask = rng.normal(size=(9, 20))
    mask[rng.random((9, 20)) < 0.2] = 1000.0
    mask[rng.random((9, 20)) < 0.2] = -np.inf
    _assert_fast_equals_plain(q, k, v, mask=mask)
    assert rows == []
