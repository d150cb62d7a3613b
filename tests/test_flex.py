"""flex_attention, flex_backward and attention_ref.mods against the loop oracle.

Oracle: ``oracle.flex``, a per-score loop in float64 with ``math.fsum``, and the mods written
again below as scalar Python functions (``SCALAR_MODS``), so neither the computation nor the
mods are shared with the package. Every check runs on every path: the reference (all scores
at once) and the tiled path with tiny and odd tiles (1 x 1, 2 x 3, 3 x 5) and the default.

Tolerances: float64 against the oracle at ``RTOL_F64``/``ATOL_F64`` (oracle.py says why);
gradients against central differences, whose truncation error is O(h^2 * f''') ~ 1e-10 at
h = 1e-5 and whose rounding error is O(eps / h) ~ 1e-11: ``rtol = atol = 1e-7`` leaves a
margin of 100 and still catches any wrong term (those are O(1e-2)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracle import ATOL_F64, RTOL_F64
from oracle import flex as flex_oracle

from attention_ref import (
    flash_attention,
    flex_attention,
    flex_backward,
    mods,
    scaled_dot_product_attention,
    sdpa_backward,
)
from attention_ref._flex import TILE_SCORES, flex, flex_grad

# (path, block_q, block_k): the readable reference; the tiled path (the band path for narrow
# hinted masks, the tile engine otherwise); and the engine forced (so that narrow masks are
# checked on both), with tiles that never divide the test sizes (L = 7, S = 9), tiles of one
# score, and the default tiles.
PATHS = [
    pytest.param("reference", None, None, id="reference"),
    pytest.param("tiled", 1, 1, id="tiled-1x1"),
    pytest.param("tiled", 2, 3, id="tiled-2x3"),
    pytest.param("tiled", 3, 5, id="tiled-3x5"),
    pytest.param("tiled", None, None, id="tiled-default"),
    pytest.param("engine", 1, 1, id="engine-1x1"),
    pytest.param("engine", 2, 3, id="engine-2x3"),
    pytest.param("engine", None, None, id="engine-default"),
]
# More engine tiles, for the masks alone.
ENGINE = [
    pytest.param("engine", 3, 5, id="engine-3x5"),
    pytest.param("engine", 1, 9, id="engine-1x9"),
]

# The band path, forced: one tile per block of queries, for mask_mods with a key_range hint.
BAND = [
    pytest.param("band", 1, None, id="band-1"),
    pytest.param("band", 3, None, id="band-3"),
    pytest.param("band", None, None, id="band-default"),
]

#: Gradient tolerance, see the module docstring.
FD_TOL = 1e-7
FD_STEP = 1e-5


def _close(actual, expected, rtol=RTOL_F64, atol=ATOL_F64):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# --- the mods again, as scalar Python functions (the oracle's side) --------------------------

DOCS_Q = [0, 0, 0, 1, 1, 2, 2]  # L = 7
DOCS_KV = [0, 0, 1, 1, 1, 1, 2, 2, 2]  # S = 9
SLOPES = [0.5, 0.25, 0.125]  # H = 3


def _scalar_causal(offset):
    return lambda b, h, i, j: j <= i + offset


def _scalar_window(left, right):
    return lambda b, h, i, j: i - left <= j <= i + right


def _scalar_alibi(slopes):
    return lambda s, b, h, i, j: s + slopes[h] * (j - i)


def _scalar_softcap(cap):
    return lambda s, b, h, i, j: cap * math.tanh(s / cap)


# name -> (package mask_mod, scalar mask_mod)
MASKS = {
    "causal": (mods.causal(), _scalar_causal(0)),
    "causal-bottom-right": (mods.causal(9 - 7), _scalar_causal(2)),
    "causal-negative": (mods.causal(-3), _scalar_causal(-3)),
    "window-2": (mods.sliding_window(2), _scalar_window(2, 0)),
    "window-1-3": (mods.sliding_window(1, 3), _scalar_window(1, 3)),
    "prefix-lm": (mods.prefix_lm(3), lambda b, h, i, j: j < 3 or j <= i),
    "document": (
        mods.document(DOCS_Q, DOCS_KV),
        lambda b, h, i, j: DOCS_Q[i] == DOCS_KV[j],
    ),
    "and": (
        mods.and_masks(mods.causal(2), mods.sliding_window(3)),
        lambda b, h, i, j: j <= i + 2 and i - 3 <= j <= i,
    ),
    "or": (
        mods.or_masks(mods.sliding_window(0), mods.prefix_lm(2)),
        lambda b, h, i, j: j == i or j < 2 or j <= i,
    ),
    "per-head": (  # a mask that depends on b and h: head 1 of batch 1 sees nothing
        lambda b, h, q_idx, kv_idx: ~((b == 1) & (h == 1)) & (kv_idx >= q_idx - h),
        lambda b, h, i, j: not (b == 1 and h == 1) and j >= i - h,
    ),
}

#: The masks of MASKS with a key_range hint (the band path needs one).
BAND_MASKS = [name for name in MASKS if callable(getattr(MASKS[name][0], "key_range", None))]

# name -> (package score_mod, scalar score_mod)
SCORES = {
    "alibi": (mods.alibi(SLOPES), _scalar_alibi(SLOPES)),
    "softcap": (mods.softcap(0.7), _scalar_softcap(0.7)),
    "chain": (
        mods.chain(mods.alibi(SLOPES), mods.softcap(1.5)),
        lambda s, b, h, i, j: 1.5 * math.tanh((s + SLOPES[h] * (j - i)) / 1.5),
    ),
}


@pytest.fixture
def qkv(rng):
    # Scores of size ~3 (norms several times a standard normal's) so the softcap bites.
    q = 2.0 * rng.normal(size=(2, 3, 7, 5))
    k = 2.0 * rng.normal(size=(2, 3, 9, 5))
    v = rng.normal(size=(2, 3, 9, 4))
    return q, k, v


# --- forward against the oracle --------------------------------------------------------------


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS + ENGINE)
@pytest.mark.parametrize("name", list(MASKS))
def test_mask_mods_match_oracle(qkv, name, path, bq, bk):
    mask_mod, scalar = MASKS[name]
    out, lse = flex(*qkv, mask_mod=mask_mod, return_lse=True, path=path, block_q=bq, block_k=bk)
    want_out, want_lse = flex_oracle(*qkv, mask_mod=scalar)
    _close(out, want_out)
    _close(lse, want_lse)


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS)
@pytest.mark.parametrize("name", list(SCORES))
def test_score_mods_match_oracle(qkv, name, path, bq, bk):
    score_mod, scalar = SCORES[name]
    mask_mod, scalar_mask = MASKS["window-1-3"]
    out, lse = flex(*qkv, score_mod, mask_mod, return_lse=True, path=path, block_q=bq, block_k=bk)
    want_out, want_lse = flex_oracle(*qkv, scalar, scalar_mask)
    _close(out, want_out)
    _close(lse, want_lse)


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS)
def test_builtin_mods_are_elementwise(qkv, path, bq, bk):
    """The package's own mods, called by the oracle one score at a time, give the same."""
    score_mod, mask_mod = SCORES["chain"][0], MASKS["document"][0]
    out = flex(*qkv, score_mod, mask_mod, path=path, block_q=bq, block_k=bk)
    _close(out, flex_oracle(*qkv, score_mod, mask_mod)[0])


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS)
def test_gqa_and_scale_match_oracle(rng, path, bq, bk):
    q = rng.normal(size=(1, 4, 7, 3))
    k, v = rng.normal(size=(1, 2, 9, 3)), rng.normal(size=(1, 2, 9, 2))
    head_mask = lambda b, h, q_idx, kv_idx: kv_idx <= q_idx + h  # noqa: E731
    out = flex(
        q, k, v, mods.alibi([1.0, 0.5, 0.25, 0.0]), head_mask, scale=0.3, enable_gqa=True,
        path=path, block_q=bq, block_k=bk,
    )  # fmt: skip
    want = flex_oracle(
        q, k, v, _scalar_alibi([1.0, 0.5, 0.25, 0.0]), lambda b, h, i, j: j <= i + h,
        scale=0.3, enable_gqa=True,
    )[0]  # fmt: skip
    _close(out, want)


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS)
def test_sinks_match_oracle(qkv, path, bq, bk):
    sinks = np.array([0.5, -1.0, 3.0])
    mask_mod, scalar = MASKS["per-head"]
    out, lse = flex(*qkv, mask_mod=mask_mod, sinks=sinks, return_lse=True, path=path, block_q=bq,
                    block_k=bk)  # fmt: skip
    want_out, want_lse = flex_oracle(*qkv, mask_mod=scalar, sinks=sinks)
    _close(out, want_out)
    _close(lse, want_lse)


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS)
def test_fully_masked_rows(qkv, path, bq, bk):
    """A row with no key: zeros, lse -inf; with sinks zeros and lse = the head's sink."""
    nothing = lambda b, h, q_idx, kv_idx: (kv_idx < 0) | (q_idx < 3)  # noqa: E731  rows 3.. empty
    out, lse = flex(*qkv, mask_mod=nothing, return_lse=True, path=path, block_q=bq, block_k=bk)
    assert np.all(out[:, :, 3:] == 0.0)
    assert np.all(lse[:, :, 3:] == -np.inf)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(lse[:, :, :3]))
    sinks = np.array([0.5, -1.0, 3.0])
    out, lse = flex(*qkv, mask_mod=nothing, sinks=sinks, return_lse=True, path=path, block_q=bq,
                    block_k=bk)  # fmt: skip
    assert np.all(out[:, :, 3:] == 0.0)
    # the engine works in base 2: sink * log2(e) * ln(2) is the sink to a rounding or two
    np.testing.assert_allclose(
        lse[:, :, 3:], np.broadcast_to(sinks[:, None], (2, 3, 4)), rtol=4e-16, atol=0
    )


def test_closed_forms():
    """One key with a sink of the same logit: half the weight; a huge softcap changes nothing."""
    q, k = np.zeros((1, 1, 1, 2)), np.zeros((1, 1, 1, 2))
    v = np.array([[[[4.0]]]])
    assert flex_attention(q, k, v, sinks=np.zeros(1)).tolist() == [[[[2.0]]]]
    _, lse = flex_attention(q, k, v, sinks=np.zeros(1), return_lse=True)
    assert np.isclose(lse[0, 0, 0], math.log(2.0))
    rng = np.random.default_rng(1)
    q, k, v = (
        rng.normal(size=(1, 2, 5, 3)),
        rng.normal(size=(1, 2, 6, 3)),
        rng.normal(size=(1, 2, 6, 2)),
    )
    _close(flex_attention(q, k, v, mods.softcap(1e8)), flex_attention(q, k, v), rtol=1e-10)


# --- the same as the other functions, where one is the other with a mod ----------------------


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS + ENGINE)
def test_causal_offsets_are_sdpa(rng, path, bq, bk):
    """causal(0) is is_causal=True (top-left); causal(S - L) is the bottom-right tril mask."""
    q, k, v = (
        rng.normal(size=(2, 2, 5, 4)),
        rng.normal(size=(2, 2, 8, 4)),
        rng.normal(size=(2, 2, 8, 3)),
    )
    kw = {"path": path, "block_q": bq, "block_k": bk}
    _close(
        flex(q, k, v, mask_mod=mods.causal(), **kw),
        scaled_dot_product_attention(q, k, v, is_causal=True),
    )
    bottom_right = np.tri(5, 8, 8 - 5, dtype=bool)
    _close(
        flex(q, k, v, mask_mod=mods.causal(8 - 5), **kw),
        scaled_dot_product_attention(q, k, v, attn_mask=bottom_right),
    )
    assert flex(q, k, v, mask_mod=mods.causal(8 - 5), **kw)[..., -1, :].shape == (2, 2, 3)
    # the last query sees every key under bottom-right: it is plain attention's last row
    _close(
        flex(q, k, v, mask_mod=mods.causal(3), **kw)[..., -1, :],
        scaled_dot_product_attention(q, k, v)[..., -1, :],
    )


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS + ENGINE)
def test_no_mods_is_sdpa_and_flash(rng, path, bq, bk):
    q, k, v = (
        rng.normal(size=(2, 4, 7, 4)),
        rng.normal(size=(2, 2, 9, 4)),
        rng.normal(size=(2, 2, 9, 5)),
    )
    want = scaled_dot_product_attention(q, k, v, enable_gqa=True)
    out, lse = flex(q, k, v, enable_gqa=True, return_lse=True, path=path, block_q=bq, block_k=bk)
    _close(out, want)
    _close(out, flash_attention(q, k, v, enable_gqa=True))
    _close(lse, flash_attention(q, k, v, enable_gqa=True, return_lse=True)[1])


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS + ENGINE)
def test_mask_mod_is_attn_mask(qkv, path, bq, bk):
    mask_mod = MASKS["document"][0]
    L, S = 7, 9
    dense = mask_mod(0, 0, np.arange(L)[:, None], np.arange(S)[None, :])
    out = flex(*qkv, mask_mod=mask_mod, path=path, block_q=bq, block_k=bk)
    _close(out, scaled_dot_product_attention(*qkv, attn_mask=dense))


def test_sdpa_and_flash_unchanged_by_flex(rng):
    """SDPA and flash keep their exact behaviour: is_causal stays top-left when L != S."""
    q, k, v = (
        rng.normal(size=(1, 1, 3, 2)),
        rng.normal(size=(1, 1, 5, 2)),
        rng.normal(size=(1, 1, 5, 2)),
    )
    _, w = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    assert (w[0, 0] > 0).tolist() == np.tri(3, 5, dtype=bool).tolist()
    _close(
        flash_attention(q, k, v, is_causal=True, block_size=2),
        flex_attention(q, k, v, mask_mod=mods.causal(0)),
    )


# --- tiles: skipped where the mask is False, memory per tile ----------------------------------


def test_tiles_skip_masked_blocks(rng):
    """A sliding window evaluates the score_mod on O(L x window) scores, not L x S."""
    L = S = 256
    seen = []

    def counting(score, b, h, q_idx, kv_idx):
        seen.append(score.size)
        return score

    q, k, v = (
        rng.normal(size=(1, 2, L, 8)),
        rng.normal(size=(1, 2, S, 8)),
        rng.normal(size=(1, 2, S, 8)),
    )
    window = mods.sliding_window(8)
    out = flex(q, k, v, counting, window, path="tiled", block_q=16, block_k=16)
    _close(out, flex(q, k, v, mask_mod=window, path="reference"))
    # each block of 16 queries meets at most two blocks of 16 keys: 2 * 16 * 16 per row of tiles
    assert sum(seen) <= 2 * (L // 16) * 2 * 16 * 16 < L * S * 2 / 7
    # and no tile is larger than the tile budget
    assert max(seen) <= TILE_SCORES


def test_default_tiles_are_bounded(rng):
    seen = []

    def counting(score, b, h, q_idx, kv_idx):
        seen.append(score.size)
        return score

    q, k, v = (
        rng.normal(size=(2, 3, 600, 4)),
        rng.normal(size=(2, 3, 700, 4)),
        rng.normal(size=(2, 3, 700, 4)),
    )
    flex_attention(q, k, v, counting)
    assert max(seen) <= TILE_SCORES and len(seen) > 1


# --- dtypes, inputs untouched ---------------------------------------------------------------


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS)
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_dtypes(qkv, dtype, path, bq, bk):
    """float32 and float16 in, the same dtype out, within the rounding of that dtype.

    float16 is computed in float32, so both are held to float32's error: scores ~ 10, softmax
    and sums over 9 keys: ~1e-5 relative; plus float16's own rounding of the inputs and the
    output (~1e-3) for float16.
    """
    q, k, v = (a.astype(dtype) for a in qkv)
    score_mod, mask_mod = SCORES["chain"][0], MASKS["window-1-3"][0]
    out, lse = flex(q, k, v, score_mod, mask_mod, sinks=np.ones(3, dtype=dtype), return_lse=True,
                    path=path, block_q=bq, block_k=bk)  # fmt: skip
    assert out.dtype == lse.dtype == dtype
    want = flex(*(a.astype(np.float64) for a in (q, k, v)), score_mod, mask_mod, sinks=np.ones(3),
                path="reference")  # fmt: skip
    tol = 2e-5 if dtype == np.float32 else 2e-3
    _close(out, want, rtol=tol, atol=tol)
    sinks = np.ones(3, dtype=dtype)
    grads = flex_grad(np.ones_like(out), q, k, v, score_mod, mask_mod, sinks=sinks, path=path,
                      block_q=bq, block_k=bk)  # fmt: skip
    assert [g.dtype for g in grads] == [dtype] * 4


def test_inputs_not_mutated(qkv):
    copies = [a.copy() for a in qkv]
    sinks = np.zeros(3)
    flex_attention(*qkv, SCORES["chain"][0], MASKS["and"][0], sinks=sinks)
    flex_backward(np.ones((2, 3, 7, 4)), *qkv, SCORES["chain"][0], MASKS["and"][0], sinks=sinks)
    for a, b in zip(qkv, copies, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(sinks, np.zeros(3))


def test_a_mod_writing_into_its_score_is_harmless(qkv):
    def in_place(score, b, h, q_idx, kv_idx):
        score *= 0.5
        return score

    in_place.grad = lambda score, b, h, q_idx, kv_idx: np.full_like(score, 0.5)
    for path in ("reference", "tiled"):
        _close(flex(*qkv, in_place, path=path), flex(*qkv, scale=0.5 / math.sqrt(5), path=path))
        got = flex_grad(np.ones((2, 3, 7, 4)), *qkv, in_place, path=path)
        want = flex_grad(np.ones((2, 3, 7, 4)), *qkv, scale=0.5 / math.sqrt(5), path=path)
        for a, b in zip(got, want, strict=True):
            _close(a, b)


# --- gradients -------------------------------------------------------------------------------


def _loss_grads_fd(fn, arrays, d_out, rng, n_probe=6):
    """Central differences of sum(d_out * fn(*arrays)) at a few random entries of each array."""
    result = []
    for a_idx, a in enumerate(arrays):
        probes = {}
        for _ in range(n_probe):
            pos = tuple(int(rng.integers(n)) for n in a.shape)
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[a_idx][pos] += FD_STEP
            minus[a_idx][pos] -= FD_STEP
            diff = np.sum(d_out * fn(*plus)) - np.sum(d_out * fn(*minus))
            probes[pos] = diff / (2 * FD_STEP)
        result.append(probes)
    return result


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS)
@pytest.mark.parametrize("score", [None, *SCORES])
@pytest.mark.parametrize("with_sinks", [False, True])
def test_gradients_by_central_differences(rng, score, with_sinks, path, bq, bk):
    q = 1.5 * rng.normal(size=(2, 4, 6, 3))
    k, v = 1.5 * rng.normal(size=(1, 2, 7, 3)), rng.normal(size=(1, 2, 7, 2))  # GQA, B broadcast
    sinks = rng.normal(size=4) if with_sinks else None
    score_mod = None if score is None else SCORES[score][0]
    if score == "alibi" or score == "chain":
        score_mod = mods.chain(
            mods.alibi([0.5, 0.25, 0.125, 0.0625]), *([mods.softcap(1.5)] * (score == "chain"))
        )
    mask_mod = mods.or_masks(
        mods.sliding_window(2), mods.document([0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1, 1])
    )
    d_out = rng.normal(size=(2, 4, 6, 2))

    def fwd(q, k, v, *s):
        return flex(q, k, v, score_mod, mask_mod, enable_gqa=True, sinks=s[0] if s else None,
                    path="reference")  # fmt: skip

    arrays = [q, k, v] + ([sinks] if with_sinks else [])
    grads = flex_grad(d_out, q, k, v, score_mod, mask_mod, enable_gqa=True, sinks=sinks, path=path,
                      block_q=bq, block_k=bk)  # fmt: skip
    assert len(grads) == len(arrays)
    for g, a, probes in zip(grads, arrays, _loss_grads_fd(fwd, arrays, d_out, rng), strict=True):
        assert g.shape == a.shape
        for pos, want in probes.items():
            assert abs(g[pos] - want) <= FD_TOL * (1 + abs(want)), (pos, g[pos], want)


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS[1:])
def test_tiled_backward_equals_reference(qkv, path, bq, bk):
    d_out = np.random.default_rng(3).normal(size=(2, 3, 7, 4))
    args = (d_out, *qkv, SCORES["chain"][0], MASKS["per-head"][0])
    want = flex_grad(*args, sinks=np.array([0.1, 0.2, 0.3]), path="reference")
    got = flex_grad(*args, sinks=np.array([0.1, 0.2, 0.3]), path=path, block_q=bq, block_k=bk)
    for a, b in zip(got, want, strict=True):
        _close(a, b)


def test_backward_without_mods_is_sdpa_backward(qkv):
    d_out = np.random.default_rng(4).normal(size=(2, 3, 7, 4))
    for got, want in zip(flex_backward(d_out, *qkv, mask_mod=mods.causal()),
                         sdpa_backward(d_out, *qkv, is_causal=True), strict=True):  # fmt: skip
        _close(got, want)


# --- bad input -------------------------------------------------------------------------------

Q, K, V = np.zeros((1, 2, 3, 4)), np.zeros((1, 2, 5, 4)), np.zeros((1, 2, 5, 4))


def _no_grad(score, b, h, q_idx, kv_idx):
    return score * 2.0


BAD = [
    ((Q[0], K, V), {}, ValueError, r"query must be 4-D \(B, H, L, E\), got shape \(2, 3, 4\)"),
    ((Q, K[0], V), {}, ValueError, r"key must be 4-D .*\(2, 5, 4\)"),
    ((Q, K, V[None]), {}, ValueError, r"value must be 4-D .*\(1, 1, 2, 5, 4\)"),
    ((Q.astype(int), K, V), {}, TypeError, r"query must be a floating-point array"),
    ((Q, K[..., :3], V), {}, ValueError, r"query and key must have the same head size E"),
    ((Q, K, V), {"mask_mod": lambda b, h, q, kv: (kv <= q).astype(int)}, TypeError,
     r"mask_mod must return a bool array .* got dtype int64"),
    ((Q, K, V), {"mask_mod": lambda b, h, q, kv: np.ones((3, 3), bool)}, ValueError,
     r"mask_mod returned shape \(3, 3\), which does not broadcast to the block of scores"),
    ((Q, K, V), {"score_mod": lambda s, b, h, q, kv: s.sum(-1)}, ValueError,
     r"score_mod must return scores of the shape it was given"),
    ((Q, K, V), {"score_mod": lambda s, b, h, q, kv: s > 0}, TypeError,
     r"score_mod must return floating-point scores, got dtype bool"),
    ((Q, K, V), {"score_mod": 3.0}, TypeError, r"score_mod must be None or a callable"),
    ((Q, K, V), {"mask_mod": "causal"}, TypeError, r"mask_mod must be None or a callable"),
    ((Q, K, V), {"sinks": np.zeros(3)}, ValueError,
     r"sinks must have shape \(H,\) = \(2,\), one logit per query head .* got shape \(3,\)"),
    ((Q, K, V), {"sinks": np.zeros((1, 2))}, ValueError, r"sinks must have shape \(H,\)"),
    ((Q, K, V), {"sinks": np.zeros(2, dtype=int)}, TypeError, r"sinks must be a floating-point"),
    ((Q, K, V), {"scale": "x"}, TypeError, r"scale must be None or a real number"),
    ((Q, np.zeros((1, 3, 5, 4)), np.zeros((1, 3, 5, 4))), {}, ValueError, r"do not broadcast"),
    ((Q, K, V), {"mask_mod": mods.document([0, 0], [0] * 5)}, ValueError,
     r"document: q_doc_ids has 2 ids but the attention has L > 2"),
    ((Q, K, V), {"score_mod": mods.alibi([1.0])}, ValueError, r"alibi has 1 slopes but"),
]  # fmt: skip


@pytest.mark.parametrize("path", ["reference", "tiled"])
@pytest.mark.parametrize(("args", "kwargs", "exc", "match"), BAD)
def test_bad_inputs(args, kwargs, exc, match, path):
    with pytest.raises(exc, match=match):
        flex(*args, **kwargs, path=path)
    if "score_mod" not in kwargs:  # (those lambdas have no grad: flex_backward says so first)
        with pytest.raises(exc, match=match):
            flex_grad(np.zeros((1, 2, 3, 4)), *args, **kwargs, path=path)


BAD_MODS = [
    (lambda: mods.sliding_window(-1), ValueError, r"sliding_window's left must be non-negative"),
    (lambda: mods.sliding_window(2, -3), ValueError, r"sliding_window's right must be non-neg"),
    (lambda: mods.sliding_window(1.5), TypeError, r"sliding_window's left must be an integer"),
    (lambda: mods.prefix_lm(-2), ValueError, r"prefix_len must be non-negative"),
    (lambda: mods.causal(0.5), TypeError, r"offset must be an integer"),
    (lambda: mods.softcap(0.0), ValueError, r"cap must be a positive finite number"),
    (lambda: mods.softcap(-1), ValueError, r"cap must be a positive finite number"),
    (lambda: mods.softcap("50"), TypeError, r"cap must be a positive number"),
    (lambda: mods.document([0.0, 1.0]), TypeError, r"q_doc_ids must be a 1-D array of integer"),
    (lambda: mods.document([[0, 1]]), ValueError, r"q_doc_ids must be a 1-D array .* \(1, 2\)"),
    (lambda: mods.alibi([[1.0]]), ValueError, r"alibi's slopes must be 1-D"),
    (lambda: mods.and_masks(mods.causal(), 3), TypeError, r"and_masks: argument 1 must be"),
    (lambda: mods.chain(None), TypeError, r"chain: argument 0 must be a callable"),
]


@pytest.mark.parametrize(("make", "exc", "match"), BAD_MODS)
def test_bad_mod_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_user_score_mod_without_grad():
    """Works in the forward; flex_backward names it in a TypeError, as does chain with it."""
    out = flex_attention(Q, K, V, _no_grad)
    assert out.shape == (1, 2, 3, 4)
    with pytest.raises(TypeError, match=r"derivative of score_mod \(_no_grad\).*score_mod.grad"):
        flex_backward(np.zeros((1, 2, 3, 4)), Q, K, V, _no_grad)
    with pytest.raises(TypeError, match=r"derivative of score_mod \(chain\(softcap\(2\), _no_grad"):
        flex_backward(np.zeros((1, 2, 3, 4)), Q, K, V, mods.chain(mods.softcap(2.0), _no_grad))
    with pytest.raises(ValueError, match=r"grad_output must have the shape .* \(1, 2, 3, 4\)"):
        flex_backward(np.zeros((1, 2, 3, 5)), Q, K, V)


def test_path_arguments():
    with pytest.raises(ValueError, match="path must be one of"):
        flex(Q, K, V, path="fast")
    with pytest.raises(ValueError, match="block_q must be positive"):
        flex(Q, K, V, block_q=0)


# --- the key_range hint of the built-in mask mods --------------------------------------------

HINTED = {
    "causal": mods.causal(),
    "causal-offset": mods.causal(5),
    "causal-negative": mods.causal(-4),
    "window": mods.sliding_window(3),
    "window-two-sided": mods.sliding_window(2, 6),
    "window-zero": mods.sliding_window(0),
    "prefix-lm": mods.prefix_lm(7),
    "document-sorted": mods.document(np.repeat([0, 1, 2, 5], [5, 9, 2, 4]),
                                     np.repeat([0, 1, 2, 3, 5], [3, 4, 6, 4, 6])),
    "and": mods.and_masks(mods.causal(3), mods.sliding_window(4), lambda b, h, q, kv: kv != 2),
    "or": mods.or_masks(mods.sliding_window(1), mods.prefix_lm(3)),
    "or-empty": mods.or_masks(),
}  # fmt: skip


@pytest.mark.parametrize("name", list(HINTED))
def test_key_range_hides_no_visible_key(name):
    """Every key a query block may see lies in the hint's range, for every block of queries."""
    mask_mod = HINTED[name]
    L, S = 20, 23
    dense = np.broadcast_to(mask_mod(0, 0, np.arange(L)[:, None], np.arange(S)[None, :]), (L, S))
    assert callable(mask_mod.key_range)
    for i0 in range(L):
        for i1 in range(i0 + 1, L + 1):
            lo, hi = mask_mod.key_range(i0, i1, S)
            visible = np.flatnonzero(dense[i0:i1].any(axis=0))
            assert np.all((visible >= lo) & (visible < hi)), (i0, i1, lo, hi, visible)


@pytest.mark.parametrize("name", [n for n in HINTED if hasattr(HINTED[n], "query_range")])
def test_query_range_hides_no_visible_query(name):
    """Every query that sees a key of a block of keys lies in the hint's query range."""
    mask_mod = HINTED[name]
    L, S = 20, 23
    dense = np.broadcast_to(mask_mod(0, 0, np.arange(L)[:, None], np.arange(S)[None, :]), (L, S))
    for j0 in range(S):
        for j1 in range(j0 + 1, S + 1):
            lo, hi = mask_mod.query_range(j0, j1, L)
            seeing = np.flatnonzero(dense[:, j0:j1].any(axis=1))
            assert np.all((seeing >= lo) & (seeing < hi)), (j0, j1, lo, hi, seeing)


def test_query_range_hints():
    """The masks that carry a query_range: causal and windows, and their combinations."""
    have = {n for n in HINTED if hasattr(HINTED[n], "query_range")}
    assert {"causal", "causal-offset", "window", "window-two-sided", "and"} <= have
    assert not hasattr(mods.prefix_lm(3), "query_range")


def test_no_hint_without_order():
    """Unsorted document ids, or a user's mod in or_masks: no hint, every tile is evaluated."""
    assert not hasattr(mods.document([1, 0, 1]), "key_range")
    assert not hasattr(mods.or_masks(mods.causal(), lambda b, h, q, kv: kv == 0), "key_range")


def test_hint_spares_the_mask_evaluation(rng):
    """A built-in sliding window is evaluated on O(L x window) positions only."""
    L = S = 512
    window = mods.sliding_window(8)
    evaluated = []

    def counting(b, h, q_idx, kv_idx):
        evaluated.append(np.broadcast_shapes(q_idx.shape, kv_idx.shape))
        return window(b, h, q_idx, kv_idx)

    counting.key_range = window.key_range
    q, k, v = (rng.normal(size=(1, 1, n, 4)) for n in (L, S, S))
    out = flex(q, k, v, mask_mod=counting, path="tiled", block_q=32, block_k=32)
    _close(out, flex(q, k, v, mask_mod=window, path="reference"))
    assert sum(math.prod(s) for s in evaluated) <= (L // 32) * 2 * 32 * 32  # two tiles per row


@pytest.mark.parametrize(("path", "bq", "bk"), ENGINE)
def test_engine_rows_and_gradients(qkv, path, bq, bk):
    """The engine, forced: fully masked rows, and gradients equal to the reference's."""
    nothing = lambda b, h, q_idx, kv_idx: (kv_idx < 0) | (q_idx < 3)  # noqa: E731  rows 3.. empty
    out, lse = flex(*qkv, mask_mod=nothing, return_lse=True, path=path, block_q=bq, block_k=bk)
    assert np.all(out[:, :, 3:] == 0.0) and np.all(lse[:, :, 3:] == -np.inf)
    d_out = np.random.default_rng(5).normal(size=(2, 3, 7, 4))
    for name in ("per-head", "document", "and"):
        mask_mod = MASKS[name][0]
        got = flex_grad(d_out, *qkv, mask_mod=mask_mod, path=path, block_q=bq, block_k=bk)
        want = flex_grad(d_out, *qkv, mask_mod=mask_mod, path="reference")
        for a, b in zip(got, want, strict=True):
            _close(a, b)
    # score_mods and sinks run on the engine too (the score hook; the sink as a key)
    sinks = np.array([0.5, -1.0, 3.0])
    kw = {"sinks": sinks, "block_q": bq, "block_k": bk}
    want_out = flex(*qkv, mods.softcap(2.0), MASKS["and"][0], sinks=sinks, path="reference")
    _close(flex(*qkv, mods.softcap(2.0), MASKS["and"][0], path=path, **kw), want_out)
    got = flex_grad(d_out, *qkv, mods.softcap(2.0), MASKS["and"][0], path=path, **kw)
    want = flex_grad(d_out, *qkv, mods.softcap(2.0), MASKS["and"][0], sinks=sinks,
                     path="reference")  # fmt: skip
    for a, b in zip(got, want, strict=True):
        _close(a, b)
    with pytest.raises(ValueError, match="path='band' needs a mask_mod with a key_range hint"):
        flex(*qkv, mods.softcap(2.0), MASKS["per-head"][0], path="band")


# --- large scores and NaN: the lazy shift and the dropped terms --------------------------------


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS + ENGINE)
def test_large_scores_and_nan(rng, path, bq, bk):
    """Scores in the hundreds (norms 30 times standard): the loop's lazy shift and its dropped
    terms below e^-700 change nothing; a NaN in a query reaches that row only."""
    q = 30.0 * rng.normal(size=(1, 2, 7, 5))
    k = 30.0 * rng.normal(size=(1, 2, 9, 5))
    v = rng.normal(size=(1, 2, 9, 4))
    mask_mod = MASKS["window-1-3"][0]
    kw = {"path": path, "block_q": bq, "block_k": bk}
    _close(
        flex(q, k, v, mask_mod=mask_mod, **kw),
        flex_oracle(q, k, v, mask_mod=MASKS["window-1-3"][1])[0],
    )
    q[0, 1, 4, 2] = np.nan
    out = flex(q, k, v, mask_mod=mask_mod, **kw)
    assert np.all(np.isnan(out[0, 1, 4])) and not np.any(np.isnan(np.delete(out[0, 1], 4, axis=0)))
    assert not np.any(np.isnan(out[0, 0]))


@pytest.mark.parametrize("path", ["tiled", "engine", "reference"])
def test_float32_with_large_scores(rng, path):
    """float32, scaled scores up to ~100: within float32's error of the float64 reference."""
    q = (10.0 * rng.normal(size=(1, 2, 300, 16))).astype(np.float32)
    k = (10.0 * rng.normal(size=(1, 2, 300, 16))).astype(np.float32)
    v = rng.normal(size=(1, 2, 300, 8)).astype(np.float32)
    window = mods.sliding_window(40)
    out = flex(q, k, v, mods.softcap(30.0), window, path=path, block_q=64, block_k=32)
    want = flex(*(a.astype(np.float64) for a in (q, k, v)), mods.softcap(30.0), window,
                path="reference")  # fmt: skip
    # scores ~100 carry float32 rounding ~1e-5 absolute, which the softmax passes on
    _close(out, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("path", "bq", "bk"), PATHS + ENGINE)
@pytest.mark.parametrize(("L", "S"), [(0, 3), (3, 0)])
def test_empty(path, bq, bk, L, S):
    """No queries: an empty output. No keys: every row fully masked, zeros and lse -inf."""
    q, k, v = np.ones((1, 2, L, 2)), np.ones((1, 2, S, 2)), np.ones((1, 2, S, 3))
    out, lse = flex(q, k, v, mask_mod=mods.causal(), return_lse=True, path=path, block_q=bq,
                    block_k=bk)  # fmt: skip
    assert out.shape == (1, 2, L, 3) and np.all(out == 0) and np.all(lse == -np.inf)


# --- the band path: one tile per block of queries ---------------------------------------------


@pytest.mark.parametrize(("path", "bq", "bk"), BAND)
@pytest.mark.parametrize("name", BAND_MASKS)
def test_band_masks_match_oracle(qkv, name, path, bq, bk):
    mask_mod, scalar = MASKS[name]
    out, lse = flex(*qkv, mask_mod=mask_mod, return_lse=True, path=path, block_q=bq, block_k=bk)
    want_out, want_lse = flex_oracle(*qkv, mask_mod=scalar)
    _close(out, want_out)
    _close(lse, want_lse)


@pytest.mark.parametrize(("path", "bq", "bk"), BAND)
@pytest.mark.parametrize("name", list(SCORES))
def test_band_score_mods_and_sinks_match_oracle(qkv, name, path, bq, bk):
    score_mod, scalar = SCORES[name]
    mask_mod, scalar_mask = MASKS["window-1-3"]
    sinks = np.array([0.5, -1.0, 3.0])
    out, lse = flex(*qkv, score_mod, mask_mod, sinks=sinks, return_lse=True, path=path,
                    block_q=bq, block_k=bk)  # fmt: skip
    want_out, want_lse = flex_oracle(*qkv, scalar, scalar_mask, sinks=sinks)
    _close(out, want_out)
    _close(lse, want_lse)


@pytest.mark.parametrize("scale", [1.0, 3.0, 10.0, 30.0])
@pytest.mark.parametrize("group", [1, 4])
def test_band_large_inputs_and_gqa_float32(rng, scale, group):
    """Both of the band path's cases, unshifted (standard-normal inputs) and shifted (larger
    ones), in float32 against the float64 reference, with and without GQA.

    Tolerance: float32 rounds a score s to ~6e-8 |s|; at 30 times standard normal (E = 16)
    scores reach ~2000 * scale, so the weights move by ~1e-4 relative; the outputs are
    averages of N(0, 1) values, so atol 2e-3 covers it with a margin of 10 and still catches
    a wrong key or a wrong row (errors of order 1).
    """
    L, S, E = 300, 300, 16
    q = scale * rng.normal(size=(1, 4, L, E))
    k = scale * rng.normal(size=(1, 4 // group, S, E))
    v = rng.normal(size=(1, 4 // group, S, E))
    window = mods.sliding_window(40)
    kw = {"mask_mod": window, "enable_gqa": group > 1, "return_lse": True}
    want_out, want_lse = flex(q, k, v, path="reference", **kw)
    f32 = [a.astype(np.float32) for a in (q, k, v)]
    for path in ("band", "tiled"):
        out, lse = flex(*f32, path=path, **kw)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, want_out, atol=2e-3 * max(1.0, scale / 10), rtol=0)
        np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=1e-3)
    out64 = flex(q, k, v, path="band", **kw)[0]
    _close(out64, want_out, rtol=1e-11, atol=1e-11)


def test_band_hidden_nan_and_inf_stay_hidden(rng):
    """NaN or inf in a key that a query's window hides does not reach that query's output."""
    L = S = 64
    q, k, v = rng.normal(size=(1, 2, L, 8)), rng.normal(size=(1, 2, S, 8)), rng.normal(
        size=(1, 2, S, 8))  # fmt: skip
    k[0, 0, 20] = np.nan
    k[0, 1, 30] = np.inf
    window = mods.sliding_window(4)
    out = flex(q, k, v, mask_mod=window, path="band", block_q=8)
    clean = np.ones(L, dtype=bool)
    clean[20:25] = False  # queries 20..24 see key 20
    assert np.all(np.isnan(out[0, 0, ~clean])) and np.all(np.isfinite(out[0, 0, clean]))
    want = flex(q, k, v, mask_mod=window, path="reference")
    _close(out[0, 0, clean], want[0, 0, clean])
    seen_inf = np.zeros(L, dtype=bool)
    seen_inf[30:35] = True
    _close(out[0, 1, ~seen_inf], want[0, 1, ~seen_inf])


def test_band_is_taken_for_windows_only(rng):
    """The public path runs a narrow window on the band path, and what is not narrow on the
    engine or the loop (band_plan says None)."""
    from attention_ref._flex import band_plan, prepare_flex

    q = k = v = rng.normal(size=(1, 2, 4096, 8))
    plan = band_plan(prepare_flex(q, k, v, None, mods.sliding_window(512), None, False, None))
    assert plan is not None and plan[0] == 128 and plan[2] == 512 + 128
    for wide in (None, mods.causal(), mods.sliding_window(3000), lambda b, h, i, j: j <= i):
        assert band_plan(prepare_flex(q, k, v, None, wide, None, False, None)) is None


def test_relative_hint_is_honest():
    """The built-in mods that say relative = True answer the same for every shift of q and kv."""
    i, j = np.arange(6)[:, None], np.arange(8)[None, :]
    relative = [
        mods.causal(), mods.causal(-2), mods.sliding_window(2, 1),
        mods.and_masks(mods.causal(1), mods.sliding_window(3)),
        mods.or_masks(mods.sliding_window(0), mods.causal(-3)),
    ]  # fmt: skip
    for m in relative:
        assert m.relative is True
        for shift in (1, 5, 100):
            assert np.array_equal(m(0, 0, i, j), m(3, 7, i + shift, j + shift))
    for m in (mods.prefix_lm(2), mods.document([0, 0, 1]), mods.and_masks(mods.prefix_lm(1))):
        assert getattr(m, "relative", False) is False


@pytest.mark.parametrize("scale", [10.0, 30.0])
@pytest.mark.parametrize("name", list(SCORES))
@pytest.mark.parametrize(
    ("path", "bq", "bk"),
    [("engine", 2, 3), ("engine", None, None), ("band", 3, None), ("tiled", None, None)],
)
def test_large_scores_with_score_mods_match_oracle(rng, scale, name, path, bq, bk):
    """Soft-capped and ALiBi scores from queries and keys 10 and 30 times standard normal,
    against the loop oracle: the score hook's shift stays safe (no overflow, no lost row),
    with and without sinks."""
    score_mod, scalar = SCORES[name]
    mask_mod, scalar_mask = MASKS["window-1-3"]
    q, k = scale * rng.normal(size=(2, 3, 7, 5)), scale * rng.normal(size=(2, 3, 9, 5))
    v = rng.normal(size=(2, 3, 9, 4))
    for sinks in (None, np.array([0.5, -1.0, 30.0])):
        out, lse = flex(q, k, v, score_mod, mask_mod, sinks=sinks, return_lse=True, path=path,
                        block_q=bq, block_k=bk)  # fmt: skip
        want_out, want_lse = flex_oracle(q, k, v, scalar, scalar_mask, sinks=sinks)
        # scores reach ~|q||k| ~ 100 * scale: float64's rounding of a score is ~1e-14 * that
        _close(out, want_out, rtol=1e-10, atol=1e-10)
        _close(lse, want_lse, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", list(SCORES))
def test_large_scores_float32_on_the_engine(rng, name):
    """float32 on the engine with a score_mod, inputs 10 times standard normal, no mask:
    within float32's error of the float64 reference (scores ~100 carry ~1e-5 absolute
    rounding, which the softmax passes on), forward and backward."""
    score_mod = SCORES[name][0]
    q = 10.0 * rng.normal(size=(1, 3, 200, 16))
    k = 10.0 * rng.normal(size=(1, 3, 230, 16))
    v = rng.normal(size=(1, 3, 230, 8))
    d_out = rng.normal(size=(1, 3, 200, 8))
    f32 = [a.astype(np.float32) for a in (q, k, v)]
    out = flex(*f32, score_mod, path="engine", block_q=64, block_k=32)
    want = flex(q, k, v, score_mod, path="reference")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=0, atol=2e-3)
    got = flex_grad(d_out.astype(np.float32), *f32, score_mod, path="engine", block_q=64)
    want_g = flex_grad(d_out, q, k, v, score_mod, path="reference")
    for a, b in zip(got, want_g, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-3 * max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_band_key_far_above_the_rest_takes_the_shifted_case(rng, dtype):
    """Inputs 3 times standard normal, and one key that one query sees 150 doublings above
    the rest: past `BAND_CLAMPED`, so its block is shifted by each row's true maximum (without
    a shift, its terms would meet exp2's ceiling)."""
    L = S = 64
    q = 3.0 * rng.normal(size=(1, 2, L, 16))
    k = 3.0 * rng.normal(size=(1, 2, S, 16))
    v = rng.normal(size=(1, 2, S, 8))
    i = 31  # the last query of a block of 16; its own key is in the block's partial span
    k[0, 1, i] = (
        q[0, 1, i]
        / np.linalg.norm(q[0, 1, i])
        * 150
        * 4
        / np.log2(np.e)
        / np.linalg.norm(q[0, 1, i])
    )  # c q_i . k_i = 150 doublings
    window = mods.sliding_window(40)
    args = [a.astype(dtype) for a in (q, k, v)]
    out, lse = flex(*args, mask_mod=window, return_lse=True, path="band", block_q=16)
    want_out, want_lse = flex(q, k, v, mask_mod=window, return_lse=True, path="reference")
    tol = 1e-12 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(out, want_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(lse, want_lse, rtol=tol, atol=tol * 100)
    assert np.allclose(out[0, 1, i], v[0, 1, i], atol=1e-3)  # that key takes all the weight


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_band_clamped_case_redoes_rows_far_below_zero(rng, dtype, monkeypatch):
    """The band path's clamped case (scores past the Cauchy-Schwarz bound of 60 doublings,
    but none above `BAND_CLAMPED`) leaves the scores unshifted and clamps them at exp2's
    floor. A query whose every score lies 80 to 100 doublings below 0 would then weigh its
    keys equally (every term clamped to the floor); its sum flags it, and the row is
    computed again with its true maximum. In float64 the floor is far lower: nothing to
    redo. Tolerance: the float32 one of `test_band_large_inputs_and_gqa_float32`'s inputs
    (scores of order 100 carry ~1e-5 rounding); uniform weights would be off by ~1e-1.
    """
    from attention_ref import _flex

    L = S = 64
    E = 16
    c = np.log2(np.e) / np.sqrt(E)  # base-2 scores: c q . k
    u = rng.normal(size=E)
    u *= 20.0 / np.linalg.norm(u)  # |u| = 20: other queries' scores within ~+-30 doublings
    k = u + 0.5 * rng.normal(size=(1, 1, S, E))  # every key near u
    q = rng.normal(size=(1, 1, L, E))
    i = 40
    q[0, 0, i] = -90.0 / (c * 20.0) * u / 20.0  # c q_i . u = -90: every score ~ -90 +- 7
    v = rng.normal(size=(1, 1, S, 8))
    window = mods.sliding_window(20)
    scores = c * np.einsum("e,se->s", q[0, 0, i], k[0, 0, i - 20 : i + 1])
    assert scores.max() < -75 and scores.min() > -110  # the row the test is about
    redone: list[np.ndarray] = []
    exact = _flex._band_rows_exact

    def spy(*args):
        redone.append(args[-1])  # the rows computed again
        return exact(*args)

    monkeypatch.setattr(_flex, "_band_rows_exact", spy)
    args = [a.astype(dtype) for a in (q, k, v)]
    out, lse = flex(*args, mask_mod=window, return_lse=True, path="band", block_q=16)
    want_out, want_lse = flex(q, k, v, mask_mod=window, return_lse=True, path="reference")
    if dtype == np.float32:
        assert [list(rows) for rows in redone] == [[i - 32]]  # row 8 of the block at 32
        np.testing.assert_allclose(out, want_out, rtol=0, atol=2e-3)
        np.testing.assert_allclose(lse, want_lse, rtol=1e-5, atol=1e-3)
    else:
        assert redone == []
        _close(out, want_out, rtol=1e-11, atol=1e-11)
        _close(lse, want_lse, rtol=1e-11, atol=1e-11)
    uniform = v[0, 0, i - 20 : i + 1].mean(axis=0)
    assert np.abs(out[0, 0, i] - uniform).max() > 0.05  # what the clamp alone would give


@pytest.mark.parametrize("tile_scores", [None, 3 * 16 * 56])
def test_band_gqa_heads_in_tiles_across_groups(rng, monkeypatch, tile_scores):
    """The band path's products take whole kv groups in one call, and go head by head when
    a tile's heads cut across groups (here tiles of 3 heads, 2 query heads per kv head)."""
    from attention_ref import _flex

    if tile_scores is not None:  # blocks of 16 queries see 56 keys: 3 heads a tile
        monkeypatch.setattr(_flex, "BAND_TILE_SCORES", tile_scores)
    q = rng.normal(size=(2, 6, 64, 8))
    k, v = rng.normal(size=(2, 3, 64, 8)), rng.normal(size=(2, 3, 64, 5))
    window = mods.sliding_window(40)
    call = _flex.prepare_flex(q, k, v, None, window, None, True, None)
    assert _flex.band_plan(call, 16, forced=True) == (16, 6 if tile_scores is None else 3, 56)
    for scale in (1.0, 3.0, 10.0):  # the unshifted, clamped and shifted cases
        args = (scale * q, scale * k, v)
        out, lse = flex(*args, mask_mod=window, enable_gqa=True, return_lse=True, path="band",
                        block_q=16)  # fmt: skip
        want_out, want_lse = flex_oracle(*args, mask_mod=_scalar_window(40, 0), enable_gqa=True)
        _close(out, want_out)
        _close(lse, want_lse)
