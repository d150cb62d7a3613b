"""Cross-check against PyTorch: F.scaled_dot_product_attention and nn.MultiheadAttention.

PyTorch is an optional, independent oracle (skipped when not installed). Everything runs in
float64 on both sides, so the float64 tolerances of oracle.py apply: the two differ only in
the order of roundings. The convention differences are asserted explicitly here, because they
are what a reader porting code gets wrong:

- F.scaled_dot_product_attention: bool mask True = may attend (the same as attention_ref).
- nn.MultiheadAttention: bool ``attn_mask`` and ``key_padding_mask`` True = NOT allowed (the
  opposite), ``in_proj_weight`` is ``(3D, D)`` used as ``x @ W.T`` (so ``w_q = W[:D].T``),
  ``out_proj.weight.T = w_o``, a per-head mask is ``(B * H, L, S)``, and ``is_causal`` is only
  a hint that needs the causal ``attn_mask`` as well.
- Fully masked rows (observed with torch 2.13.0): F.scaled_dot_product_attention gives 0
  (its math backend uses a "safe softmax" since torch 2.5; older versions gave NaN).
  nn.MultiheadAttention depends on ``need_weights``: with ``need_weights=True`` (its default)
  it computes the weights itself and gives NaN in the output and the weights; with
  ``need_weights=False`` it calls SDPA, whose heads give 0, so the layer outputs
  ``out_proj.bias`` (``b_o``). attention_ref gives 0 weights, 0 attention output and so
  ``b_o`` after the projection, whatever ``need_weights`` is.
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import ATOL_F64, RTOL_F64
from oracle import sdpa as sdpa_oracle

from attention_ref import MultiHeadAttention, causal_mask, scaled_dot_product_attention

torch = pytest.importorskip(
    "torch",
    reason="torch is not installed: the PyTorch cross-check is optional "
    "(pip install torch==2.13.0)",
)
F = torch.nn.functional


def _t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def _n(x):
    return x.detach().numpy()


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL_F64, atol=ATOL_F64)


def _qkv(rng, q_shape, k_shape, v_shape):
    return rng.normal(size=q_shape), rng.normal(size=k_shape), rng.normal(size=v_shape)


def _torch_sdpa(q, k, v, attn_mask=None, **kwargs):
    with torch.no_grad():
        out = F.scaled_dot_product_attention(
            _t(q), _t(k), _t(v), attn_mask=None if attn_mask is None else _t(attn_mask), **kwargs
        )
    return _n(out)


# --- F.scaled_dot_product_attention ----------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_loop_oracle_agrees_with_torch(rng, causal):
    # The oracle the rest of the suite trusts, checked once against an independent library.
    q, k, v = _qkv(rng, (2, 6, 5, 4), (2, 3, 9, 4), (2, 3, 9, 3))
    mask = None if causal else rng.normal(size=(2, 1, 5, 9))
    out_ref, _ = sdpa_oracle(q, k, v, attn_mask=mask, is_causal=causal, scale=0.6, enable_gqa=True)
    _close(out_ref, _torch_sdpa(q, k, v, mask, is_causal=causal, scale=0.6, enable_gqa=True))


def test_sdpa_no_mask(rng):
    q, k, v = _qkv(rng, (2, 3, 7, 5), (2, 3, 13, 5), (2, 3, 13, 4))
    _close(scaled_dot_product_attention(q, k, v), _torch_sdpa(q, k, v))


@pytest.mark.parametrize("mask_shape", [(7, 13), (2, 1, 1, 13), (2, 3, 7, 13)])
def test_sdpa_bool_mask_same_convention(rng, mask_shape):
    q, k, v = _qkv(rng, (2, 3, 7, 5), (2, 3, 13, 5), (2, 3, 13, 4))
    mask = rng.random(mask_shape) < 0.7  # True = may attend, in both libraries
    _close(scaled_dot_product_attention(q, k, v, attn_mask=mask), _torch_sdpa(q, k, v, mask))


def test_sdpa_float_mask(rng):
    q, k, v = _qkv(rng, (2, 3, 7, 5), (2, 3, 13, 5), (2, 3, 13, 4))
    mask = rng.normal(size=(7, 13))
    mask[rng.random((7, 13)) < 0.2] = -np.inf
    _close(scaled_dot_product_attention(q, k, v, attn_mask=mask), _torch_sdpa(q, k, v, mask))


@pytest.mark.parametrize(("L", "S"), [(5, 9), (7, 7), (9, 5)])
def test_sdpa_causal_with_L_not_S(rng, L, S):
    q, k, v = _qkv(rng, (2, 3, L, 5), (2, 3, S, 5), (2, 3, S, 4))
    ours = scaled_dot_product_attention(q, k, v, is_causal=True)
    _close(ours, _torch_sdpa(q, k, v, is_causal=True))
    # Both are the top-left aligned tril(ones(L, S)).
    _close(ours, _torch_sdpa(q, k, v, causal_mask(L, S)))


@pytest.mark.parametrize("scale", [0.37, 2.0])
def test_sdpa_scale(rng, scale):
    q, k, v = _qkv(rng, (2, 7, 5), (2, 13, 5), (2, 13, 4))
    _close(scaled_dot_product_attention(q, k, v, scale=scale), _torch_sdpa(q, k, v, scale=scale))


@pytest.mark.parametrize(("H", "Hkv"), [(6, 2), (4, 1), (3, 3)])
def test_sdpa_gqa(rng, H, Hkv):
    q, k, v = _qkv(rng, (2, H, 7, 5), (2, Hkv, 13, 5), (2, Hkv, 13, 4))
    _close(
        scaled_dot_product_attention(q, k, v, enable_gqa=True),
        _torch_sdpa(q, k, v, enable_gqa=True),
    )


def test_sdpa_fully_masked_rows(rng):
    q, k, v = _qkv(rng, (2, 3, 7, 5), (2, 3, 13, 5), (2, 3, 13, 4))
    mask = rng.random((7, 13)) < 0.7
    mask[:, 0] = True
    mask[4] = False
    ours = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    theirs = _torch_sdpa(q, k, v, mask)
    np.testing.assert_array_equal(ours[..., 4, :], 0.0)
    # torch 2.13.0 gives 0 here as well (safe softmax, torch >= 2.5; NaN before).
    np.testing.assert_array_equal(theirs[..., 4, :], 0.0)
    _close(ours, theirs)


# --- nn.MultiheadAttention -------------------------------------------------------------------


def _pair(rng, D, H, kdim=None, vdim=None):
    """attention_ref's module with random biases, and torch's with the same parameters."""
    ours = MultiHeadAttention(D, H, kdim=kdim, vdim=vdim, rng=rng)
    for name in ("b_q", "b_k", "b_v", "b_o"):
        getattr(ours, name)[...] = rng.normal(size=getattr(ours, name).shape)
    theirs = torch.nn.MultiheadAttention(
        D, H, batch_first=True, kdim=kdim, vdim=vdim, dtype=torch.float64
    ).eval()
    with torch.no_grad():
        if theirs.in_proj_weight is not None:  # kdim == vdim == D: one packed (3D, D) matrix
            packed = np.concatenate([ours.w_q.T, ours.w_k.T, ours.w_v.T], axis=0)
            assert theirs.in_proj_weight.shape == (3 * D, D)
            theirs.in_proj_weight.copy_(_t(packed))
        else:
            theirs.q_proj_weight.copy_(_t(ours.w_q.T))
            theirs.k_proj_weight.copy_(_t(ours.w_k.T))
            theirs.v_proj_weight.copy_(_t(ours.w_v.T))
        theirs.in_proj_bias.copy_(_t(np.concatenate([ours.b_q, ours.b_k, ours.b_v])))
        theirs.out_proj.weight.copy_(_t(ours.w_o.T))
        theirs.out_proj.bias.copy_(_t(ours.b_o))
    return ours, theirs


def _torch_mha(module, query, key, value, **kwargs):
    kwargs = {k: (_t(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    with torch.no_grad():
        out, weights = module(_t(query), _t(key), _t(value), **kwargs)
    return _n(out), (None if weights is None else _n(weights))


@pytest.mark.parametrize("average", [True, False])
def test_mha_self_attention(rng, average):
    ours, theirs = _pair(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    out, weights = ours(x, need_weights=True, average_attn_weights=average)
    out_t, weights_t = _torch_mha(theirs, x, x, x, need_weights=True, average_attn_weights=average)
    _close(out, out_t)
    _close(weights, weights_t)


def test_mha_cross_attention_kdim_vdim(rng):
    ours, theirs = _pair(rng, 12, 4, kdim=5, vdim=7)
    x = rng.normal(size=(2, 7, 12))
    key = rng.normal(size=(2, 11, 5))
    value = rng.normal(size=(2, 11, 7))
    out, weights = ours(x, key, value, need_weights=True, average_attn_weights=False)
    out_t, weights_t = _torch_mha(
        theirs, x, key, value, need_weights=True, average_attn_weights=False
    )
    _close(out, out_t)
    _close(weights, weights_t)


def test_mha_unbatched(rng):
    ours, theirs = _pair(rng, 12, 3)
    x = rng.normal(size=(7, 12))
    memory = rng.normal(size=(11, 12))
    out, weights = ours(x, memory, need_weights=True)
    out_t, weights_t = _torch_mha(theirs, x, memory, memory, need_weights=True)
    assert out.shape == out_t.shape == (7, 12)
    assert weights.shape == weights_t.shape == (7, 11)
    _close(out, out_t)
    _close(weights, weights_t)


def test_mha_bool_mask_is_inverted_in_torch(rng):
    ours, theirs = _pair(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    allowed = rng.random((7, 7)) < 0.7
    allowed[:, 0] = True
    out, weights = ours(x, attn_mask=allowed, need_weights=True, average_attn_weights=False)
    # torch's nn.MultiheadAttention: True = NOT allowed, so pass the complement.
    out_t, weights_t = _torch_mha(
        theirs, x, x, x, attn_mask=~allowed, need_weights=True, average_attn_weights=False
    )
    _close(out, out_t)
    _close(weights, weights_t)
    # Passing our mask unchanged to torch attends to the complement: a different result.
    out_wrong, _ = _torch_mha(theirs, x, x, x, attn_mask=allowed, need_weights=False)
    assert not np.allclose(out, out_wrong)


def test_mha_per_head_mask_layout(rng):
    # Ours: (B, H, L, S); torch: (B * H, L, S), batch-major.
    ours, theirs = _pair(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    allowed = rng.random((2, 3, 7, 7)) < 0.7
    allowed[..., 0] = True
    out, weights = ours(x, attn_mask=allowed, need_weights=True, average_attn_weights=False)
    out_t, weights_t = _torch_mha(
        theirs,
        x,
        x,
        x,
        attn_mask=~allowed.reshape(6, 7, 7),
        need_weights=True,
        average_attn_weights=False,
    )
    _close(out, out_t)
    _close(weights, weights_t)


def test_mha_key_padding(rng):
    ours, theirs = _pair(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, 9, 12))
    keep = np.arange(9)[None, :] < np.array([[9], [4]])  # (B, S): True = a real token
    out, weights = ours(x, memory, attn_mask=keep[:, None, None, :], need_weights=True)
    out_t, weights_t = _torch_mha(
        theirs, x, memory, memory, key_padding_mask=~keep, need_weights=True
    )
    _close(out, out_t)
    _close(weights, weights_t)


def test_mha_float_mask(rng):
    ours, theirs = _pair(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    mask = rng.normal(size=(7, 7))
    mask[rng.random((7, 7)) < 0.2] = -np.inf
    mask[:, 0] = 0.0
    out, weights = ours(x, attn_mask=mask, need_weights=True)
    out_t, weights_t = _torch_mha(theirs, x, x, x, attn_mask=mask, need_weights=True)
    _close(out, out_t)
    _close(weights, weights_t)


def test_mha_is_causal(rng):
    ours, theirs = _pair(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    out, weights = ours(x, is_causal=True, need_weights=True)
    # torch needs the mask itself; is_causal there is only a hint. Its float causal mask:
    square = torch.nn.Transformer.generate_square_subsequent_mask(7, dtype=torch.float64)
    out_t, weights_t = _torch_mha(
        theirs, x, x, x, attn_mask=_n(square), is_causal=True, need_weights=True
    )
    _close(out, out_t)
    _close(weights, weights_t)


def test_mha_fully_masked_row(rng):
    ours, theirs = _pair(rng, 12, 3)
    x = rng.normal(size=(2, 7, 12))
    allowed = np.ones((7, 7), dtype=bool)
    allowed[3] = False
    out, weights = ours(x, attn_mask=allowed, need_weights=True)
    np.testing.assert_allclose(
        out[:, 3], np.broadcast_to(ours.b_o, (2, 12)), rtol=1e-15, atol=1e-15
    )
    np.testing.assert_array_equal(weights[:, 3], 0.0)
    out_t, weights_t = _torch_mha(theirs, x, x, x, attn_mask=~allowed, need_weights=True)
    # torch 2.13.0, need_weights=True: NaN in that row of the output and of the weights.
    assert np.isnan(out_t[:, 3]).all()
    assert np.isnan(weights_t[:, 3]).all()
    rows = np.arange(7) != 3
    _close(out[:, rows], out_t[:, rows])
    _close(weights[:, rows], weights_t[:, rows])


@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_mha_fully_masked_row_without_weights(rng, cross, training):
    """need_weights=False: torch goes through SDPA's safe softmax, so the masked row's heads
    give zeros and the layer outputs out_proj.bias, attention_ref's answer. Checked for
    self-attention (query is key is value: eligible for torch's fused fast path in eval mode)
    and cross-attention (never eligible), in eval and train mode (dropout 0)."""
    ours, theirs = _pair(rng, 12, 3)
    theirs.train(training)
    x = rng.normal(size=(2, 7, 12))
    memory = rng.normal(size=(2, 7, 12)) if cross else x
    allowed = np.ones((7, 7), dtype=bool)
    allowed[3] = False
    out, _ = ours(x, memory, attn_mask=allowed)
    out_t, weights_t = _torch_mha(theirs, x, memory, memory, attn_mask=~allowed, need_weights=False)
    assert weights_t is None
    assert not np.isnan(out_t).any()
    np.testing.assert_allclose(
        out_t[:, 3], np.broadcast_to(ours.b_o, (2, 12)), rtol=1e-15, atol=1e-15
    )
    _close(out, out_t)  # every row, the fully masked one included
