"""MultiHeadAttention against the loop oracle, and its parameter layout and call conventions.

Oracle: ``oracle.multihead``, which reads the module's parameter arrays (``w_q`` ... ``b_o``)
and does the projections and the per-head attention with plain loops in float64 following the
contract's layout (``Q = X @ w_q + b_q``; head ``h`` owns columns ``[h*hd, (h+1)*hd)`` of
``w_q``, ``w_k``, ``w_v`` and rows of ``w_o``). Compared at ``RTOL_F64``/``ATOL_F64``.

Biases are overwritten in place with random values before each comparison, so that a module
whose biases start at zero still has its bias path checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import ATOL_F64, RTOL_F64
from oracle import multihead as mha_oracle

from attention_ref import MultiHeadAttention

PARAM_NAMES = ("w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o")


def _params(module):
    return {name: getattr(module, name) for name in PARAM_NAMES}


def _module(rng, embed_dim, num_heads, **kwargs):
    module = MultiHeadAttention(embed_dim, num_heads, rng=rng, **kwargs)
    for name in ("b_q", "b_k", "b_v", "b_o"):
        bias = getattr(module, name)
        if bias is not None:
            bias[...] = rng.normal(size=bias.shape)
    return module


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL_F64, atol=ATOL_F64)


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("D", "H", "Hkv", "kdim", "vdim"),
    [
        (12, 3, None, None, None),
        (12, 4, 2, 5, 7),
        (12, 4, 1, None, None),
        (15, 5, None, 9, None),
        (14, 7, 7, None, 3),
    ],
)
def test_parameter_shapes(D, H, Hkv, kdim, vdim):
    module = MultiHeadAttention(D, H, num_kv_heads=Hkv, kdim=kdim, vdim=vdim, rng=0)
    hd = D // H
    kv = (H if Hkv is None else Hkv) * hd
    kdim = D if kdim is None else kdim
    vdim = D if vdim is None else vdim
    expected = {
        "w_q": (D, D), "b_q": (D,),
        "w_k": (kdim, kv), "b_k": (kv,),
        "w_v": (vdim, kv), "b_v": (kv,),
        "w_o": (D, D), "b_o": (D,),
    }  # fmt: skip
    for name, shape in expected.items():
        param = getattr(module, name)
        assert isinstance(param, np.ndarray), name
        assert param.shape == shape, name
        assert np.isfinite(param).all(), name


def test_weights_are_random_and_distinct():
    module = MultiHeadAttention(12, 3, rng=1)
    assert np.unique(module.w_q).size == module.w_q.size
    assert not np.array_equal(module.w_q, module.w_k)
    assert not np.array_equal(module.w_k, module.w_v)


def test_bias_false_sets_biases_to_none(rng):
    module = MultiHeadAttention(12, 3, bias=False, rng=rng)
    for name in ("b_q", "b_k", "b_v", "b_o"):
        assert getattr(module, name) is None
    x = rng.normal(size=(2, 7, 12))
    out, weights = module(x, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x, x, x, _params(module), 3)
    _close(out, out_ref)
    _close(weights, weights_ref)


@pytest.mark.parametrize("make_rng", [lambda: 1234, lambda: np.random.default_rng(1234)])
def test_seeded_rng_is_reproducible(make_rng):
    a = MultiHeadAttention(12, 4, num_kv_heads=2, rng=make_rng())
    b = MultiHeadAttention(12, 4, num_kv_heads=2, rng=make_rng())
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_different_seeds_give_different_weights():
    a = MultiHeadAttention(12, 3, rng=1)
    b = MultiHeadAttention(12, 3, rng=2)
    assert not np.array_equal(a.w_q, b.w_q)


def test_rng_none_is_accepted():
    module = MultiHeadAttention(12, 3)
    assert module.w_q.shape == (12, 12)


# --- forward against the oracle --------------------------------------------------------------


def test_self_attention(rng):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    out, weights = module(x, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x, x, x, _params(module), 3)
    assert out.shape == (2, 7, 12)
    assert weights.shape == (2, 3, 7, 7)
    _close(out, out_ref)
    _close(weights, weights_ref)


def test_key_and_value_default_to_query(rng):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    out, _ = module(x)
    out_explicit, _ = module(x, x, x)
    np.testing.assert_array_equal(out, out_explicit)


def test_cross_attention_value_defaults_to_key(rng):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, 11, 12))
    out, weights = module(x, memory, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x, memory, memory, _params(module), 3)
    assert out.shape == (2, 7, 12)
    assert weights.shape == (2, 3, 7, 11)
    _close(out, out_ref)
    _close(weights, weights_ref)


def test_kdim_vdim(rng):
    module = _module(rng, 12, 3, kdim=5, vdim=9)
    x = rng.normal(size=(2, 7, 12))
    key = rng.normal(size=(2, 11, 5))
    value = rng.normal(size=(2, 11, 9))
    out, weights = module(x, key, value, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x, key, value, _params(module), 3)
    _close(out, out_ref)
    _close(weights, weights_ref)


@pytest.mark.parametrize(("H", "Hkv"), [(4, 2), (4, 1), (6, 3), (6, 6)])
def test_grouped_and_multi_query(rng, H, Hkv):
    module = _module(rng, 12, H, num_kv_heads=Hkv)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, 9, 12))
    out, weights = module(x, memory, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x, memory, memory, _params(module), H, Hkv)
    assert weights.shape == (2, H, 7, 9)
    _close(out, out_ref)
    _close(weights, weights_ref)


# --- weights ---------------------------------------------------------------------------------


def test_need_weights_false_gives_none(rng):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    result = module(x)
    assert isinstance(result, tuple)
    assert len(result) == 2
    assert result[1] is None
    assert module(x, need_weights=False, average_attn_weights=False)[1] is None


def test_average_attn_weights_is_mean_over_heads(rng):
    module = _module(rng, 12, 4, num_kv_heads=2)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, 9, 12))
    out, avg = module(x, memory, need_weights=True)
    _, per_head = module(x, memory, need_weights=True, average_attn_weights=False)
    assert avg.shape == (2, 7, 9)
    assert per_head.shape == (2, 4, 7, 9)
    _close(avg, per_head.mean(axis=1))
    out_ref, weights_ref = mha_oracle(x, memory, memory, _params(module), 4, 2)
    _close(avg, weights_ref.mean(axis=1))
    _close(out, out_ref)


def test_unbatched_input_drops_batch_axis(rng):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(7, 12))
    memory = rng.normal(size=(11, 12))
    out, avg = module(x, memory, need_weights=True)
    _, per_head = module(x, memory, need_weights=True, average_attn_weights=False)
    assert out.shape == (7, 12)
    assert avg.shape == (7, 11)
    assert per_head.shape == (3, 7, 11)
    out_ref, weights_ref = mha_oracle(x[None], memory[None], memory[None], _params(module), 3)
    _close(out, out_ref[0])
    _close(per_head, weights_ref[0])
    _close(avg, weights_ref[0].mean(axis=0))


def test_unbatched_with_mask(rng):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(7, 12))
    mask = rng.random((7, 7)) < 0.7
    mask[:, 0] = True
    out, weights = module(x, attn_mask=mask, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x[None], x[None], x[None], _params(module), 3, attn_mask=mask)
    _close(out, out_ref[0])
    _close(weights, weights_ref[0])


# --- masks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mask_shape", [(7, 11), (2, 1, 7, 11), (2, 3, 7, 11), (2, 1, 1, 11)])
def test_bool_attn_mask(rng, mask_shape):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, 11, 12))
    mask = rng.random(mask_shape) < 0.7
    out, weights = module(x, memory, attn_mask=mask, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x, memory, memory, _params(module), 3, attn_mask=mask)
    _close(out, out_ref)
    _close(weights, weights_ref)
    assert np.all(weights[~np.broadcast_to(mask, weights.shape)] == 0.0)


def test_bool_mask_true_means_may_attend(rng):
    # The package's convention, not nn.MultiheadAttention's (where True = masked out).
    module = _module(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    mask = np.zeros((7, 7), dtype=bool)
    mask[:, 2] = True
    _, weights = module(x, attn_mask=mask, need_weights=True, average_attn_weights=False)
    np.testing.assert_array_equal(weights[..., 2], 1.0)


@pytest.mark.parametrize("mask_shape", [(7, 11), (2, 3, 7, 11)])
def test_float_attn_mask(rng, mask_shape):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, 11, 12))
    mask = rng.normal(scale=2.0, size=mask_shape)
    mask[rng.random(mask_shape) < 0.2] = -np.inf
    out, weights = module(x, memory, attn_mask=mask, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x, memory, memory, _params(module), 3, attn_mask=mask)
    _close(out, out_ref)
    _close(weights, weights_ref)


@pytest.mark.parametrize("S", [7, 4, 11])
def test_is_causal(rng, S):
    module = _module(rng, 12, 4, num_kv_heads=2)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, S, 12))
    out, weights = module(x, memory, is_causal=True, need_weights=True, average_attn_weights=False)
    out_ref, weights_ref = mha_oracle(x, memory, memory, _params(module), 4, 2, is_causal=True)
    _close(out, out_ref)
    _close(weights, weights_ref)
    assert np.all(weights[..., ~np.tril(np.ones((7, S), dtype=bool))] == 0.0)


def test_fully_masked_row_gives_zero_weights_and_output_b_o(rng):
    module = _module(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    mask = rng.random((2, 1, 7, 7)) < 0.7
    mask[..., 0] = True
    mask[0, 0, 3, :] = False  # batch 0, query 3: every key masked, every head
    mask[1, 0, 5, :] = False
    out, weights = module(x, attn_mask=mask, need_weights=True, average_attn_weights=False)
    assert not np.isnan(out).any()
    assert not np.isnan(weights).any()
    np.testing.assert_array_equal(weights[0, :, 3], 0.0)
    np.testing.assert_array_equal(weights[1, :, 5], 0.0)
    np.testing.assert_allclose(out[0, 3], module.b_o, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(out[1, 5], module.b_o, rtol=1e-15, atol=1e-15)
    out_ref, weights_ref = mha_oracle(x, x, x, _params(module), 3, attn_mask=mask)
    _close(out, out_ref)
    _close(weights, weights_ref)
    _, avg = module(x, attn_mask=mask, need_weights=True)
    np.testing.assert_array_equal(avg[0, 3], 0.0)


def test_inputs_and_parameters_not_mutated(rng):
    module = _module(rng, 12, 4, num_kv_heads=2)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, 9, 12))
    mask = rng.random((7, 9)) < 0.5
    before = [a.copy() for a in (x, memory, mask)]
    params_before = {name: getattr(module, name).copy() for name in PARAM_NAMES}
    module(x, memory, attn_mask=mask, need_weights=True)
    module(x, memory, is_causal=True, need_weights=True, average_attn_weights=False)
    for after, copy in zip((x, memory, mask), before, strict=True):
        np.testing.assert_array_equal(after, copy)
    for name, copy in params_before.items():
        np.testing.assert_array_equal(getattr(module, name), copy)


def test_long_sequence_without_weights(rng):
    # L * S > 2**16: the size at which an implementation may switch to a blocked path.
    module = _module(rng, 12, 4, num_kv_heads=2)
    x = rng.normal(size=(1, 263, 12))
    memory = rng.normal(size=(1, 257, 12))
    out, weights = module(x, memory, is_causal=True)
    assert weights is None
    out_ref, _ = mha_oracle(x, memory, memory, _params(module), 4, 2, is_causal=True)
    _close(out, out_ref)
