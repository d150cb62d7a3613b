"""flash_attention: equal to scaled_dot_product_attention, block by block, in O(L x block) memory.

Oracles:

- ``scaled_dot_product_attention`` itself (its plain path, checked against the loop oracle in
  test_sdpa.py) for the many block sizes, masks and shapes: both are float64 computations of the
  same formula that differ only in the order of roundings, so they agree at ``RTOL_F64``.
- The loop oracle ``oracle.sdpa`` directly on a few shapes, and a loop ``logsumexp`` written here
  with ``math.fsum`` for ``return_lse``.
- tracemalloc for the memory claim.

Block sizes 1, 7, 97 and 128 are used with lengths they divide and lengths they do not, so the
last block is sometimes full and sometimes short. The kernel's query tiles are large by default
(thousands of rows), so the ``tiles`` fixture also passes tiles of 3 query rows (by argument, to
the private ``_flash``) to exercise the tiling of queries (and causal tile skipping) at test
sizes.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from conftest import mask_of_kind, normal
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import ATOL_F64, RTOL_F64
from oracle import sdpa as sdpa_oracle

import attention_ref._flash as flash_module
from attention_ref import flash_attention, padding_mask, scaled_dot_product_attention
from attention_ref._checks import prepare
from attention_ref._flash import online_softmax_attention

EPS32 = float(np.finfo(np.float32).eps)

# float32: the flash-attention rule (Dao-AILab/flash-attention tests, as in test_sdpa.py): the
# error against the float64 oracle is at most twice the error of a plain float32 computation,
# plus one float32 ulp at 1 as a floor.
FLOOR_F32 = EPS32

# Scores of size ~1e4 carry an absolute rounding error of ~E * eps64 * 1e4 ~ 1e-11 each (in
# both implementations, in different orders), which becomes a relative error of that size in
# the weights; 1e-9 leaves a margin of 100. (The same constant as test_sdpa.py's.)
RTOL_HUGE = 1e-9

# Memory: flash_attention's extra memory is a few buffers of L x (block_size or E + 1 or
# Ev + 1) elements plus the output (and its log-sum-exp). Allowing 4 x L x (block + E + Ev + 3)
# elements plus the output is generous for those buffers and their temporaries, and still a
# small fraction of one L x S array at the sizes tested.
MEMORY_FACTOR = 4

BLOCK_SIZES = [1, 7, 97, 128]


def _lengths(block, divides):
    """(L, S) that `block` divides (both), or that it divides neither."""
    if divides:
        return {1: (5, 9), 7: (14, 21), 97: (97, 194), 128: (128, 256)}[block]
    return {1: (5, 9), 7: (13, 23), 97: (50, 150), 128: (100, 300)}[block]


def _qkv(rng, L, S, lead=(2,), E=5, Ev=3, dtype=np.float64):
    return (
        normal(rng, (*lead, L, E), dtype),
        normal(rng, (*lead, S, E), dtype),
        normal(rng, (*lead, S, Ev), dtype),
    )


@pytest.fixture(params=[None, 3], ids=["default tiles", "small tiles"])
def tiles(request):
    """Query rows per tile: the default (thousands), and 3 (several tiles at test sizes)."""
    return request.param


def _flash(q, k, v, block_size, block_q=None, return_lse=False, **kwargs):
    """flash_attention with `block_q` query rows per tile (None: its default)."""
    p = prepare(
        q,
        k,
        v,
        kwargs.get("attn_mask"),
        kwargs.get("is_causal", False),
        kwargs.get("scale"),
        kwargs.get("enable_gqa", False),
    )
    out, lse = flash_module._flash(p, block_size=block_size, block_q=block_q)
    out, lse = out.astype(p.out_dtype), lse.astype(p.out_dtype)
    return (out, lse) if return_lse else out


def _assert_equal_to_sdpa(q, k, v, block_size, block_q=None, **kwargs):
    out = _flash(q, k, v, block_size, block_q=block_q, **kwargs)
    expected = scaled_dot_product_attention(q, k, v, return_weights=True, **kwargs)[0]
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=RTOL_F64, atol=ATOL_F64)
    return out


# --- equal to scaled_dot_product_attention ---------------------------------------------------


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
@pytest.mark.parametrize("divides", [True, False], ids=["divides", "does-not-divide"])
@pytest.mark.parametrize("block_size", BLOCK_SIZES)
def test_equals_sdpa_for_block_sizes_and_masks(rng, tiles, block_size, divides, kind):
    L, S = _lengths(block_size, divides)
    q, k, v = _qkv(rng, L, S)
    mask, causal = mask_of_kind(rng, kind, L, S)
    _assert_equal_to_sdpa(q, k, v, block_size, block_q=tiles, attn_mask=mask, is_causal=causal)


@pytest.mark.parametrize(("L", "S"), [(5, 23), (23, 5), (16, 16), (1, 9), (9, 1), (40, 97)])
@pytest.mark.parametrize("block_size", [1, 4, 7, 128])
def test_causal_with_L_below_and_above_S(rng, tiles, L, S, block_size):
    q, k, v = _qkv(rng, L, S, lead=(2, 2))
    out = _assert_equal_to_sdpa(q, k, v, block_size, block_q=tiles, is_causal=True)
    np.testing.assert_allclose(out[..., 0, :], v[..., 0, :], rtol=1e-14)  # row 0 sees key 0


@pytest.mark.parametrize(
    "mask_shape", [(7, 13), (1, 1, 7, 13), (2, 1, 1, 13), (2, 3, 7, 13), (1, 3, 1, 13), (13,)]
)
@pytest.mark.parametrize("mask_dtype", [np.bool_, np.float32, np.float64])
def test_masks_broadcast(rng, tiles, mask_shape, mask_dtype):
    q, k, v = _qkv(rng, 7, 13, lead=(2, 3))
    if mask_dtype is np.bool_:
        mask = rng.random(mask_shape) < 0.6
    else:
        mask = rng.normal(size=mask_shape).astype(mask_dtype)
    _assert_equal_to_sdpa(q, k, v, 4, block_q=tiles, attn_mask=mask)


def test_key_padding_mask_skips_padded_blocks(rng, tiles):
    q, k, v = _qkv(rng, 9, 40, lead=(3, 2))
    keep = padding_mask([40, 11, 0], 40)[:, None, None, :]  # (B, 1, 1, S)
    out = _assert_equal_to_sdpa(q, k, v, 8, block_q=tiles, attn_mask=keep)
    np.testing.assert_array_equal(out[2], 0.0)  # no real token: zeros


SHAPES = {
    # name: (query, key, value) shapes
    "2d": ((7, 5), (13, 5), (13, 3)),
    "4d-broadcast": ((2, 1, 7, 5), (1, 3, 13, 5), (1, 3, 13, 4)),
    "broadcast-value": ((2, 3, 7, 5), (2, 3, 13, 5), (1, 1, 13, 4)),
    "batch-only-in-value": ((7, 5), (13, 5), (2, 3, 13, 4)),
    "wide-head": ((1, 2, 13, 59), (1, 2, 9, 59), (1, 2, 9, 17)),
}


@pytest.mark.parametrize("name", SHAPES)
def test_shapes_against_the_loop_oracle(rng, name):
    q_shape, k_shape, v_shape = SHAPES[name]
    q, k, v = (normal(rng, s) for s in (q_shape, k_shape, v_shape))
    out = flash_attention(q, k, v, block_size=4)
    expected, _ = sdpa_oracle(q, k, v)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize(
    ("q_shape", "kv_shape"),
    [((2, 6, 7, 5), (2, 2, 13, 5)), ((2, 5, 7, 4), (2, 1, 13, 4)), ((2, 4, 7, 5), (1, 2, 13, 5))],
)
def test_gqa(rng, tiles, q_shape, kv_shape):
    q = normal(rng, q_shape)
    k = normal(rng, kv_shape)
    v = normal(rng, (*kv_shape[:-1], 3))
    _assert_equal_to_sdpa(q, k, v, 5, block_q=tiles, enable_gqa=True)
    _assert_equal_to_sdpa(q, k, v, 5, block_q=tiles, enable_gqa=True, is_causal=True)


@pytest.mark.parametrize("scale", [0.37, 2.0, -0.5, 0.0])
def test_scale(rng, scale):
    q, k, v = _qkv(rng, 7, 13)
    _assert_equal_to_sdpa(q, k, v, 3, scale=scale)


def test_zero_lengths(rng):
    q, k, v = _qkv(rng, 0, 5)
    assert flash_attention(q, k, v).shape == (2, 0, 3)
    q, k, v = _qkv(rng, 4, 0)
    out, lse = flash_attention(q, k, v, return_lse=True)
    np.testing.assert_array_equal(out, np.zeros((2, 4, 3)))  # nothing to attend to
    assert np.all(lse == -np.inf)


def test_online_softmax_reference_equals_sdpa(rng):
    # The readable recurrence of the papers, one head: the same result.
    for block_size in BLOCK_SIZES:
        for kind in ["none", "bool", "float", "causal"]:
            L, S = _lengths(block_size, divides=False)
            q, k, v = _qkv(rng, L, S, lead=())
            mask, causal = mask_of_kind(rng, kind, L, S)
            out, lse = online_softmax_attention(q, k, v, mask, causal, None, block_size)
            expected = scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
            np.testing.assert_allclose(out, expected, rtol=RTOL_F64, atol=ATOL_F64)
            np.testing.assert_allclose(
                lse, _logsumexp_oracle(q, k, mask, causal), rtol=RTOL_F64, atol=ATOL_F64
            )


@settings(max_examples=40, deadline=None)
@given(
    L=st.integers(1, 20),
    S=st.integers(1, 20),
    block_size=st.integers(1, 25),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["none", "bool", "float", "causal"]),
)
def test_property_equals_sdpa(L, S, block_size, seed, kind):
    rng = np.random.default_rng(seed)
    q, k, v = _qkv(rng, L, S, lead=(2,), E=3, Ev=2)
    mask, causal = mask_of_kind(rng, kind, L, S)
    _assert_equal_to_sdpa(q, k, v, block_size, attn_mask=mask, is_causal=causal)


# --- return_lse ------------------------------------------------------------------------------


def _logsumexp_oracle(q, k, mask=None, is_causal=False, scale=None):
    """ln sum_j exp(score_ij) by loops with math.fsum, for q (L, E), k (S, E); float64."""
    L, E = q.shape
    S = k.shape[0]
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    lse = np.empty(L)
    for i in range(L):
        scores = []
        for j in range(S):
            if is_causal and j > i:
                continue
            s = scale * math.fsum(float(a) * float(b) for a, b in zip(q[i], k[j], strict=True))
            if mask is not None:
                if mask.dtype == np.bool_:
                    if not mask[i, j]:
                        continue
                else:
                    s += float(mask[i, j])
            if s != -math.inf:
                scores.append(s)
        if not scores:
            lse[i] = -math.inf
            continue
        m = max(scores)
        lse[i] = m + math.log(math.fsum(math.exp(s - m) for s in scores))
    return lse


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
@pytest.mark.parametrize("block_size", [1, 7, 128])
def test_return_lse_equals_float64_logsumexp(rng, tiles, kind, block_size):
    L, S = 11, 30
    q, k, v = _qkv(rng, L, S, lead=())
    mask, causal = mask_of_kind(rng, kind, L, S)
    out, lse = _flash(
        q, k, v, block_size, block_q=tiles, attn_mask=mask, is_causal=causal, return_lse=True
    )
    assert lse.shape == (L,)
    assert lse.dtype == np.float64
    np.testing.assert_allclose(
        lse, _logsumexp_oracle(q, k, mask, causal), rtol=RTOL_F64, atol=ATOL_F64
    )
    out_alone = _flash(q, k, v, block_size, block_q=tiles, attn_mask=mask, is_causal=causal)
    np.testing.assert_array_equal(out, out_alone)


def test_lse_of_a_fully_masked_row_is_minus_inf(rng):
    q, k, v = _qkv(rng, 3, 6, lead=())
    mask = np.ones((3, 6), dtype=bool)
    mask[1] = False
    _, lse = flash_attention(q, k, v, attn_mask=mask, return_lse=True)
    assert lse[1] == -np.inf
    assert np.isfinite(lse[[0, 2]]).all()


def test_lse_closed_form():
    # Two zero scores and one score ln 2 (scale 1): ln(1 + 1 + 2) = ln 4.
    q = np.array([[1.0, 0.0]])
    k = np.array([[0.0, 1.0], [0.0, -1.0], [math.log(2.0), 0.0]])
    v = np.eye(3)
    out, lse = flash_attention(q, k, v, scale=1.0, block_size=2, return_lse=True)
    np.testing.assert_allclose(lse, [math.log(4.0)], rtol=1e-15)
    np.testing.assert_allclose(out, [[0.25, 0.25, 0.5]], rtol=1e-15)


# --- rescaling, huge logits, NaN -------------------------------------------------------------


@pytest.mark.parametrize("order", ["increasing", "decreasing", "alternating"])
def test_rescaling_when_the_maximum_moves(rng, order):
    # Scores 0, 40, 80, ... (scale 1): every block raises the running maximum far past the
    # lazy-rescaling threshold, so acc and l are rescaled at every block.
    S = 24
    steps = np.arange(S) * 40.0
    if order == "decreasing":
        steps = steps[::-1]
    elif order == "alternating":
        steps = np.where(np.arange(S) % 2, steps, -steps)
    q = np.ones((3, 1))
    k = steps[:, None] / 1.0
    v = rng.normal(size=(S, 2))
    out, lse = flash_attention(q, k, v, scale=1.0, block_size=5, return_lse=True)
    expected, _ = sdpa_oracle(q, k, v, scale=1.0)
    np.testing.assert_allclose(out, expected, rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(lse, _logsumexp_oracle(q, k, scale=1.0), rtol=RTOL_F64)


def test_huge_logits(rng):
    q = normal(rng, (2, 7, 4), scale=80.0)
    k = normal(rng, (2, 13, 4), scale=80.0)
    v = normal(rng, (2, 13, 3))
    out = flash_attention(q, k, v, block_size=3)
    expected, _ = sdpa_oracle(q, k, v)
    assert np.abs(q @ np.swapaxes(k, -1, -2) / 2).max() > 1e3  # the scores really are huge
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, expected, rtol=RTOL_HUGE, atol=RTOL_HUGE)


def test_nan_and_inf_propagate(rng):
    q, k, v = _qkv(rng, 7, 13, lead=())
    q_nan = q.copy()
    q_nan[3, 1] = np.nan
    out = flash_attention(q_nan, k, v, block_size=4)
    assert np.isnan(out[3]).all()
    assert np.isfinite(np.delete(out, 3, axis=0)).all()
    k_nan = k.copy()
    k_nan[10, 0] = np.nan  # in the last block: the earlier blocks' sums become NaN too
    assert np.isnan(flash_attention(q, k_nan, v, block_size=4)).all()
    v_inf = v.copy()
    v_inf[5, 2] = np.inf
    assert np.all(flash_attention(q, k, v_inf, block_size=4)[:, 2] == np.inf)
    mask = np.zeros((7, 13))
    mask[4, 9] = np.nan
    out = flash_attention(q, k, v, attn_mask=mask, block_size=4)
    assert np.isnan(out[4]).all()
    assert np.isfinite(np.delete(out, 4, axis=0)).all()


# --- dtypes ----------------------------------------------------------------------------------


def test_float32_stays_float32_and_is_accurate(rng):
    q, k, v = _qkv(rng, 13, 200, lead=(2, 3), E=8, Ev=5, dtype=np.float32)
    out, lse = flash_attention(q, k, v, block_size=16, return_lse=True)
    assert out.dtype == np.float32
    assert lse.dtype == np.float32
    expected, _ = sdpa_oracle(q, k, v)
    err = np.abs(out.astype(np.float64) - expected).max()
    scale = np.float32(1 / math.sqrt(8))
    scores = (q @ np.swapaxes(k, -1, -2)) * scale  # the plain float32 reference
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    plain = (probs / probs.sum(-1, keepdims=True)) @ v
    err_plain = np.abs(plain.astype(np.float64) - expected).max()
    assert err <= 2 * err_plain + FLOOR_F32, (err, err_plain)


@pytest.mark.parametrize(
    ("dtypes", "expected"),
    [
        ((np.float16, np.float16, np.float16), np.float16),
        ((np.float32, np.float64, np.float32), np.float64),
        ((np.float16, np.float32, np.float16), np.float32),
    ],
)
def test_dtypes_follow_result_type(rng, dtypes, expected):
    shapes = ((2, 7, 5), (2, 13, 5), (2, 13, 3))
    q, k, v = (normal(rng, s, dt) for s, dt in zip(shapes, dtypes, strict=True))
    out, lse = flash_attention(q, k, v, block_size=4, return_lse=True)
    assert out.dtype == expected
    assert lse.dtype == expected
    reference = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(out, reference, rtol=10 * float(np.finfo(expected).eps), atol=0)


def test_mask_dtype_never_changes_the_output_dtype(rng):
    q, k, v = _qkv(rng, 7, 13, dtype=np.float32)
    out = flash_attention(q, k, v, attn_mask=rng.normal(size=(7, 13)), block_size=4)
    assert out.dtype == np.float32


# --- memory ----------------------------------------------------------------------------------


def _peak_bytes(f):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_peak_memory_is_order_L_times_block(rng, dtype):
    L, E, Ev, block = 256, 16, 16, 32
    itemsize = np.dtype(dtype).itemsize
    q = normal(rng, (L, E), dtype)
    peaks = {}
    for S in (512, 4096):
        k = normal(rng, (S, E), dtype)
        v = normal(rng, (S, Ev), dtype)
        peaks[S] = _peak_bytes(lambda k=k, v=v: flash_attention(q, k, v, block_size=block))
    output = L * Ev * itemsize
    budget = MEMORY_FACTOR * L * (block + E + Ev + 3) * itemsize + output
    assert peaks[4096] <= budget, (peaks, budget)
    assert peaks[4096] < L * 4096 * itemsize / 8  # far from one L x S array
    # No S in the peak: eight times the keys, about the same memory (key norms add 4 bytes/key).
    assert peaks[4096] <= peaks[512] + (4096 - 512) * itemsize + 4096, peaks


def test_float32_computes_in_float32(rng):
    # "In the input's own precision": the float32 peak is about half the float64 one.
    L, S, E = 256, 2048, 16
    peaks = {}
    for dtype in (np.float32, np.float64):
        q, k, v = (normal(rng, (n, E), dtype) for n in (L, S, S))
        peaks[dtype] = _peak_bytes(lambda q=q, k=k, v=v: flash_attention(q, k, v, block_size=64))
    assert peaks[np.float32] < 0.6 * peaks[np.float64], peaks


# --- arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize("block_size", [0, -3])
def test_block_size_must_be_positive(rng, block_size):
    q, k, v = _qkv(rng, 3, 5)
    with pytest.raises(ValueError, match="block_size"):
        flash_attention(q, k, v, block_size=block_size)


@pytest.mark.parametrize("block_size", [2.0, "4", None, True])
def test_block_size_must_be_an_integer(rng, block_size):
    q, k, v = _qkv(rng, 3, 5)
    with pytest.raises(TypeError, match="block_size"):
        flash_attention(q, k, v, block_size=block_size)


def test_block_size_accepts_numpy_integers(rng):
    q, k, v = _qkv(rng, 3, 5)
    _assert_equal_to_sdpa(q, k, v, np.int64(2))


def test_inputs_not_mutated_and_read_only_accepted(rng):
    q, k, v = _qkv(rng, 7, 13, lead=(2, 3))
    fmask = rng.normal(size=(7, 13))
    fmask[2, :] = -np.inf
    bmask = rng.random((2, 1, 7, 13)) < 0.5
    arrays = (q, k, v, fmask, bmask)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    flash_attention(q, k, v, attn_mask=fmask, block_size=3, return_lse=True)
    flash_attention(q, k, v, attn_mask=bmask, block_size=3)
    flash_attention(q, k, v, is_causal=True, block_size=3)
    for after, before in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(after, before)
