"""Every path under the same oracles: the plain reference and the tile engine (SDPA, flash).

Each test takes the ``impl`` (or ``grad_impl``) fixture of conftest.py, so it runs on the plain
path, on the tiled path with tiles of 1 x 1, 7 x 5, 4 x 13 queries by keys and the defaults,
and on flash_attention's tiling with blocks of 1 and 7 keys.

Oracles and tolerances:

- the loop oracle ``oracle.sdpa`` (float64, ``math.exp`` and ``math.fsum``) at ``RTOL_F64``;
- with large inputs (queries and keys 3 and 10 times standard normal: scores in the hundreds),
  each score carries an absolute rounding error of ~E * eps64 * |score| ~ 1e-13, a relative
  error of that size in the weights: ``RTOL_LARGE = 1e-10`` leaves a margin of ~1000;
- float32: the flash-attention rule (at most twice the error of a plain float32 computation
  against the float64 oracle, plus one float32 ulp at 1);
- Hypothesis properties (no oracle needed), with shapes up to 9 so that the tiny tiles make
  several tiles of queries and of keys;
- the backward paths against the plain backward pass (itself checked by central differences
  in test_backward.py) at ``RTOL_F64``, relative to the largest gradient entry.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import mask_of_kind, normal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from oracle import ATOL_F64, RTOL_F64
from oracle import sdpa as sdpa_oracle

from attention_ref import causal_mask

RTOL_LARGE = 1e-10
FLOOR_F32 = float(np.finfo(np.float32).eps)

# Hypothesis with the (stateless) impl fixture: the fixture is not reset between examples,
# which is what we want; 25 examples per path keep the module to seconds.
PATH_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

SHAPES = {
    "2d": ((7, 5), (13, 5), (13, 3)),
    "4d": ((2, 3, 9, 4), (2, 3, 20, 4), (2, 3, 20, 3)),
    "broadcast": ((2, 1, 7, 5), (1, 3, 13, 5), (1, 3, 13, 4)),
    "batch-only-in-value": ((7, 5), (13, 5), (2, 3, 13, 4)),
    "long-key": ((1, 5, 7), (1, 41, 7), (1, 41, 3)),
    "long-query": ((1, 41, 7), (1, 13, 7), (1, 13, 3)),
}
KINDS = ["none", "causal", "bool", "float"]


def _close(actual, expected, rtol=RTOL_F64, atol=ATOL_F64):
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SHAPES)
def test_matches_loop_oracle(rng, impl, name, kind):
    q, k, v = (normal(rng, s) for s in SHAPES[name])
    mask, causal = mask_of_kind(rng, kind, q.shape[-2], k.shape[-2])
    out = impl(q, k, v, attn_mask=mask, is_causal=causal)
    _close(out, sdpa_oracle(q, k, v, attn_mask=mask, is_causal=causal)[0])


@pytest.mark.parametrize("causal", [False, True])
def test_gqa_and_scale_match_loop_oracle(rng, impl, causal):
    q, k, v = (normal(rng, s) for s in ((2, 6, 9, 5), (1, 2, 17, 5), (1, 2, 17, 3)))
    for scale in (0.3, -2.0, 0.0):
        kwargs = {"is_causal": causal, "scale": scale, "enable_gqa": True}
        _close(impl(q, k, v, **kwargs), sdpa_oracle(q, k, v, **kwargs)[0])


# --- large inputs: what trained models' queries and keys look like --------------------------


@pytest.mark.parametrize("factor", [3.0, 10.0])
@pytest.mark.parametrize("kind", [*KINDS, "gqa", "large-float-mask", "finite-float-mask"])
def test_large_norm_inputs_match_loop_oracle(rng, impl, factor, kind):
    L, S, E = 19, 29, 16
    lead, lead_kv = (2, 4), ((2, 2) if kind == "gqa" else (2, 4))
    q = normal(rng, (*lead, L, E), scale=factor)
    k = normal(rng, (*lead_kv, S, E), scale=factor)
    v = normal(rng, (*lead_kv, S, 3))
    if kind == "large-float-mask":  # entries of +-100 and -inf: the shift must follow them
        mask, causal = rng.normal(scale=100.0, size=(L, S)), False
        mask[rng.random((L, S)) < 0.2] = -np.inf
    elif kind == "finite-float-mask":  # no -inf, but entries down to -1000: still clamped
        mask, causal = rng.uniform(-1000.0, 10.0, size=(L, S)), False
    else:
        mask, causal = mask_of_kind(rng, "none" if kind == "gqa" else kind, L, S)
    kwargs = {"attn_mask": mask, "is_causal": causal, "enable_gqa": kind == "gqa"}
    out = impl(q, k, v, **kwargs)
    assert np.isfinite(out).all()
    _close(out, sdpa_oracle(q, k, v, **kwargs)[0], rtol=RTOL_LARGE, atol=RTOL_LARGE)


@pytest.mark.parametrize("factor", [1.0, 3.0, 10.0])
@pytest.mark.parametrize("causal", [False, True])
def test_large_norm_float32_flash_attention_rule(rng, impl, factor, causal):
    q, k = (normal(rng, (2, 33, 16), np.float32, factor) for _ in range(2))
    v = normal(rng, (2, 33, 4), np.float32)
    out = impl(q, k, v, is_causal=causal)
    assert out.dtype == np.float32
    expected = sdpa_oracle(q, k, v, is_causal=causal)[0]
    scores = (q @ np.swapaxes(k, -1, -2)) * np.float32(0.25)  # the plain float32 computation
    if causal:
        scores[..., ~causal_mask(33)] = -np.inf
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    plain = (probs / probs.sum(-1, keepdims=True)) @ v
    err = np.abs(out.astype(np.float64) - expected).max()
    err_plain = np.abs(plain.astype(np.float64) - expected).max()
    # The floor is one float32 ulp of the largest score rather than of 1: a score s is
    # rounded to within |s| eps32 in any float32 computation, which moves its weight by that
    # relative amount (the values are ~1), and with scores in the hundreds that rounding,
    # different in every implementation, dominates both errors.
    floor = FLOOR_F32 * max(1.0, float(np.abs(scores[np.isfinite(scores)]).max()))
    assert err <= 2 * err_plain + floor, (err, err_plain, floor)


def test_a_hidden_key_of_huge_norm_changes_nothing(rng, impl):
    # One key of norm 1e4 that the mask hides from every query: a bound on the scores that
    # counted it would be 14 000 doublings above every visible score.
    q, k, v = (normal(rng, s) for s in ((9, 4), (20, 4), (20, 3)))
    k[0] *= 1e4
    mask = np.ones((9, 20), dtype=bool)
    mask[:, 0] = False
    _close(impl(q, k, v, attn_mask=mask), sdpa_oracle(q, k, v, attn_mask=mask)[0])
    _close(impl(q, k, v, is_causal=True)[1:], sdpa_oracle(q, k, v, is_causal=True)[0][1:])


def test_a_late_key_far_above_the_shift(rng, impl):
    # The last key's scores are ~1000 doublings above the others: float32 and float64 sums
    # overflow unless the shift moves; the row is recomputed, the result is that key's value.
    q, k, v = (normal(rng, s) for s in ((5, 4), (30, 4), (30, 3)))
    k[-1] = 300.0 * q.mean(axis=0) / np.linalg.norm(q.mean(axis=0))
    q[:] = np.abs(q.mean(axis=0))[None] * np.sign(k[-1])[None]
    _close(impl(q, k, v), sdpa_oracle(q, k, v)[0], rtol=RTOL_LARGE, atol=RTOL_LARGE)


# --- inf and NaN propagate, without a warning ------------------------------------------------


@pytest.mark.parametrize("where", ["query", "key", "value", "key-nan", "float-mask-nan"])
def test_inf_and_nan_propagate_silently(rng, impl, where):
    q, k, v = (normal(rng, s) for s in ((2, 9, 5), (2, 17, 5), (2, 17, 4)))
    mask = None
    if where == "query":
        q[0, 3, 1] = np.inf
    elif where == "key":
        k[1, 4, 2] = np.inf
    elif where == "value":
        v[0, 6, 2] = np.inf
    elif where == "key-nan":
        k[0, 4, 0] = np.nan
    else:
        mask = np.zeros((9, 17))
        mask[4, 9] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the suite's own setting, stated here
        out = impl(q, k, v, attn_mask=mask)
    with np.errstate(all="ignore"):
        expected = sdpa_oracle(q, k, v, attn_mask=mask)[0]
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=RTOL_F64, atol=ATOL_F64)


# --- properties, with Hypothesis, on every path ---------------------------------------------

dims = st.integers(min_value=1, max_value=9)
values = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, width=64)


@st.composite
def qkv(draw, H=None, Hkv=None):
    """query (B, H, L, E), key/value (B, Hkv, S, E|Ev); Hkv defaults to H."""
    B = draw(st.integers(1, 2))
    H = draw(st.integers(1, 3)) if H is None else H
    Hkv = H if Hkv is None else Hkv
    L, S = draw(dims), draw(dims)
    E, Ev = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    q = draw(hnp.arrays(np.float64, (B, H, L, E), elements=values))
    k = draw(hnp.arrays(np.float64, (B, Hkv, S, E), elements=values))
    v = draw(hnp.arrays(np.float64, (B, Hkv, S, Ev), elements=values))
    return q, k, v


@PATH_SETTINGS
@given(data=st.data())
def test_property_matches_oracle_with_any_mask(impl, data):
    q, k, v = data.draw(qkv())
    L, S = q.shape[-2], k.shape[-2]
    mask = data.draw(st.none() | hnp.arrays(np.bool_, (L, S)))
    causal = mask is None and data.draw(st.booleans())
    out = impl(q, k, v, attn_mask=mask, is_causal=causal)
    _close(out, sdpa_oracle(q, k, v, attn_mask=mask, is_causal=causal)[0])


@PATH_SETTINGS
@given(data=st.data(), shift=st.floats(min_value=-50.0, max_value=50.0))
def test_property_bool_mask_equals_float_mask_of_minus_inf(impl, data, shift):
    q, k, v = data.draw(qkv())
    mask = data.draw(hnp.arrays(np.bool_, (q.shape[-2], k.shape[-2])))
    out_float = impl(q, k, v, attn_mask=np.where(mask, shift, -np.inf))
    _close(out_float, impl(q, k, v, attn_mask=mask))


@PATH_SETTINGS
@given(data=st.data())
def test_property_permutations(impl, data):
    q, k, v = data.draw(qkv())
    perm_q = np.array(data.draw(st.permutations(range(q.shape[-2]))), dtype=np.intp)
    perm_k = np.array(data.draw(st.permutations(range(k.shape[-2]))), dtype=np.intp)
    out = impl(q, k, v)
    _close(impl(q[..., perm_q, :], k, v), out[..., perm_q, :])
    _close(impl(q, k[..., perm_k, :], v[..., perm_k, :]), out)


@PATH_SETTINGS
@given(data=st.data(), Hkv=st.integers(1, 3), G=st.integers(1, 3))
def test_property_gqa_equals_mha_and_causal_equals_tril(impl, data, Hkv, G):
    q, k, v = data.draw(qkv(H=Hkv * G, Hkv=Hkv))
    causal = data.draw(st.booleans())
    out = impl(q, k, v, enable_gqa=True, is_causal=causal)
    k_rep, v_rep = np.repeat(k, G, axis=-3), np.repeat(v, G, axis=-3)
    _close(out, impl(q, k_rep, v_rep, is_causal=causal))
    if causal:
        _close(out, impl(q, k_rep, v_rep, attn_mask=causal_mask(q.shape[-2], k.shape[-2])))


# --- the backward pass on every path ---------------------------------------------------------


@pytest.mark.parametrize("factor", [1.0, 3.0, 10.0])
@pytest.mark.parametrize("kind", [*KINDS, "gqa"])
def test_backward_paths_agree(rng, grad_impl, kind, factor):
    from conftest import BACKWARD_PATHS

    L, S = 11, 17
    lead_kv = (2, 1) if kind == "gqa" else (2, 2)
    q = normal(rng, (2, 2, L, 5), scale=factor)
    k = normal(rng, (*lead_kv, S, 5), scale=factor)
    v = normal(rng, (*lead_kv, S, 3))
    mask, causal = mask_of_kind(rng, "none" if kind == "gqa" else kind, L, S)
    d_out = normal(rng, (2, 2, L, 3))
    kwargs = {"attn_mask": mask, "is_causal": causal, "enable_gqa": kind == "gqa"}
    grads = grad_impl(d_out, q, k, v, **kwargs)
    plain = BACKWARD_PATHS["plain"](d_out, q, k, v, **kwargs)
    for g, p in zip(grads, plain, strict=True):
        assert g.shape == p.shape
        np.testing.assert_allclose(g, p, rtol=RTOL_LARGE, atol=RTOL_LARGE * np.abs(p).max())


@pytest.mark.parametrize("where", ["key", "query-nan"])
def test_backward_inf_and_nan_propagate_silently(rng, grad_impl, where):
    q, k, v, d_out = (normal(rng, s) for s in ((9, 5), (17, 5), (17, 4), (9, 4)))
    if where == "key":
        k[4, 2] = np.inf
    else:
        q[3, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grads = grad_impl(d_out, q, k, v)
    assert all(np.isnan(g).any() for g in grads)


# --- heads on a thread pool ------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_one_worker_or_several_give_the_same_result(rng, causal):
    # The heads are independent tasks; the backward pass groups the query heads that share a
    # kv head into one task (they add to the same d_k, d_v). Same arithmetic either way.
    from attention_ref import _tiles
    from attention_ref._checks import prepare

    q, d_out = normal(rng, (2, 6, 40, 8)), normal(rng, (2, 6, 40, 5))
    k, v = normal(rng, (2, 2, 50, 8), scale=3.0), normal(rng, (2, 2, 50, 5))
    p = prepare(q, k, v, None, causal, None, True, grad_output=d_out)
    outs = [_tiles.forward(p, block_q=7, block_k=5, workers=w)[0] for w in (1, 3)]
    grads = [_tiles.backward(p, block_q=7, workers=w) for w in (1, 3)]
    _close(outs[1], outs[0])
    for g3, g1 in zip(grads[1], grads[0], strict=True):
        _close(g3, g1)
    assert _tiles.default_workers() >= 1


def test_causal_tile_masks_are_shared_read_only_and_bounded() -> None:
    """The causal mask's diagonal tiles are made once per call and shared by the heads'
    threads (read-only); the backward pass's wide blocks are not kept past the budget."""
    from attention_ref import _tiles

    masks = _tiles._CausalMask(4096, 4096)
    keep, bias = masks.tile((0, 0), 1024, 2048, 1024, 1280)
    assert bias is None and not keep.flags.writeable
    assert np.array_equal(keep, np.tri(1024, 256, 0, dtype=bool))
    assert masks.tile((0, 3), 1024, 2048, 1024, 1280)[0] is keep  # another head, same tile
    assert masks.tile((0, 0), 0, 1024, 0, 1024)[0] is not keep
    for i0 in range(0, 4096, 512):  # the backward pass: each block of queries by every key
        block, _ = masks.tile((0, 0), i0, i0 + 512, 0, i0 + 512)
        assert np.array_equal(block, np.tri(512, i0 + 512, i0, dtype=bool))
    assert sum(a.nbytes for a in masks._tiles.values()) <= _tiles._CAUSAL_TILES_KEPT


def test_tile_sizes_grow_with_the_reach_of_the_scores(rng) -> None:
    """The tiled path's default tiles: small ones for standard-normal queries and keys
    (E = 64: the Cauchy-Schwarz bound is about 20 doublings), four times larger beyond
    LARGE_REACH (three times standard normal: about 180; or a float mask of large entries),
    half the queries in float64, and large ones when the bound is not a number."""
    from attention_ref import _sdpa, _tiles
    from attention_ref._checks import prepare

    def sizes(q, k, mask=None, causal=False, scale=None):
        p = prepare(q, k, v, mask, causal, scale, False)
        return _sdpa.tile_sizes(p, _tiles.tile_masks(p))

    q, k, v = (normal(rng, (1, 2, 256, 64), np.float32) for _ in range(3))
    small = (_sdpa.BLOCK_Q, _sdpa.BLOCK_K)
    large = (_sdpa.BLOCK_Q_LARGE, _sdpa.BLOCK_K_LARGE)
    assert sizes(q, k) == small
    assert sizes(3 * q, 3 * k, causal=True) == large
    assert sizes(3 * q, k, scale=0.1) == small  # the scale counts
    assert sizes(q, k, mask=normal(rng, (256, 256), np.float32)) == small
    assert sizes(q, k, mask=normal(rng, (256, 256), np.float32, scale=100.0)) == large
    assert sizes(q, k, mask=np.tri(256, dtype=bool)) == small
    assert sizes(3 * q.astype(np.float64), 3 * k) == (_sdpa.BLOCK_Q_LARGE // 2, _sdpa.BLOCK_K_LARGE)
    q[0, 1, 7, 3] = np.nan
    assert sizes(q, k) == large


def test_float_mask_bounds_seen_once_per_call() -> None:
    """What the engine learns of a float mask before its tiles: the least and greatest
    entries, and whether any is -inf (a hidden score). NaN entries are left out of the
    bounds; +inf is kept (the engine then always clamps at exp2's ceiling)."""
    from attention_ref import _tiles

    def bounds(entries):
        m = _tiles._ArrayMask(np.array(entries, dtype=np.float32)[None, :], (1, 1, 1, len(entries)))
        return m.bias_min, m.bias_max, m.bias_may_hide

    assert bounds([0.5, -2.0, 3.0]) == (-2.0, 3.0, False)
    assert bounds([0.5, -np.inf, 3.0]) == (-np.inf, 3.0, True)
    assert bounds([0.5, np.inf, -1.0]) == (-1.0, np.inf, False)
    assert bounds([0.5, np.nan, -1.0]) == (-1.0, 0.5, False)
    assert bounds([np.nan, -np.inf, 2.0]) == (-np.inf, 2.0, True)
    assert bounds([]) == (np.inf, -np.inf, False)
    bool_mask = _tiles._ArrayMask(np.ones((2, 3), dtype=bool), (1, 1, 2, 3))
    assert (bool_mask.bias_min, bool_mask.bias_max, bool_mask.bias_may_hide) == (
        -np.inf,
        np.inf,
        True,
    )
