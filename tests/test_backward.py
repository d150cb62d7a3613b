"""sdpa_backward: the exact vector-Jacobian product of scaled_dot_product_attention.

Oracles:

- Central differences in float64 of the scalar ``sum(scaled_dot_product_attention(...) *
  grad_output)``, whose gradient is exactly the vector-Jacobian product.
- Identities that hold exactly (up to rounding) for any input: ``d_v == P^T d_out``; the
  key gradient sums to zero over the keys (softmax ignores a shift of a row's scores, and
  shifting every key by one vector shifts each row's scores by a constant); scaling the
  queries by t and the keys by 1/t changes nothing, so ``<d_q, q> == <d_k, k>``;
  ``<d_v, v> == <d_out, out>`` (the output is linear in the values).
- GQA and broadcasting against their definitions: the sum over the repeated heads, and over
  the broadcast copies.
- The plain vectorised implementation against the blocked one, at the float64 tolerance.
- PyTorch's autograd, when installed.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from conftest import BACKWARD_PATHS, mask_of_kind, normal
from oracle import ATOL_F64, RTOL_F64

from attention_ref import scaled_dot_product_attention, sdpa_backward
from attention_ref._backward import _backward, backward_plain
from attention_ref._checks import check_qkv, prepare
from attention_ref._sdpa import FAST_MIN_SCORES

# Central differences: f'(x) = (f(x + h) - f(x - h)) / 2h + O(h^2 f''') with a rounding error
# O(eps64 |f| / h). h = 1e-5 balances the two near eps64^(1/3); with |f| ~ 10 and derivatives
# of order 1 at these sizes, both are ~1e-10, so atol 1e-7 (rtol 1e-6) leaves a margin of
# ~1000 and still catches any wrong term (errors of order 1e-2 or more).
FD_STEP = 1e-5
FD_RTOL = 1e-6
FD_ATOL = 1e-7


def _central_differences(f, x):
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += FD_STEP
        minus[i] -= FD_STEP
        grad[i] = (f(plus) - f(minus)) / (2 * FD_STEP)
    return grad


def _check_against_central_differences(rng, q, k, v, **kwargs):
    out = scaled_dot_product_attention(q, k, v, **kwargs)
    d_out = normal(rng, out.shape)
    grads = sdpa_backward(d_out, q, k, v, **kwargs)

    def loss(q_, k_, v_):
        return float(np.sum(scaled_dot_product_attention(q_, k_, v_, **kwargs) * d_out))

    numeric = (
        _central_differences(lambda x: loss(x, k, v), q),
        _central_differences(lambda x: loss(q, x, v), k),
        _central_differences(lambda x: loss(q, k, x), v),
    )
    for name, x, g, n in zip(("d_q", "d_k", "d_v"), (q, k, v), grads, numeric, strict=True):
        assert g.shape == x.shape, name
        assert g.dtype == np.float64, name
        np.testing.assert_allclose(g, n, rtol=FD_RTOL, atol=FD_ATOL, err_msg=name)
    return grads, d_out


# --- central differences ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
@pytest.mark.parametrize(("L", "S"), [(4, 6), (6, 4)])
def test_central_differences_every_mask_kind(rng, kind, L, S):
    q, k, v = normal(rng, (2, L, 3)), normal(rng, (2, S, 3)), normal(rng, (2, S, 2))
    mask, causal = mask_of_kind(rng, kind, L, S)
    _check_against_central_differences(rng, q, k, v, attn_mask=mask, is_causal=causal)


@pytest.mark.parametrize("scale", [0.3, -1.5])
def test_central_differences_scale(rng, scale):
    q, k, v = normal(rng, (4, 3)), normal(rng, (5, 3)), normal(rng, (5, 2))
    _check_against_central_differences(rng, q, k, v, scale=scale)


def test_central_differences_gqa_and_broadcast(rng):
    q = normal(rng, (2, 4, 3, 2))  # (B, H, L, E)
    k = normal(rng, (1, 2, 5, 2))  # (1, Hkv, S, E): broadcast over B, shared by 2 heads
    v = normal(rng, (1, 2, 5, 2))
    _check_against_central_differences(rng, q, k, v, enable_gqa=True)
    k1, v1 = k[:, :1], v[:, :1]  # one head, broadcast to the query's four
    _check_against_central_differences(rng, q, k1, v1, is_causal=True)


def test_central_differences_on_the_blocked_path(rng):
    q, k, v = normal(rng, (7, 2)), normal(rng, (9, 2)), normal(rng, (9, 2))
    blocked = BACKWARD_PATHS["tiled-7"]
    for kwargs in ({"attn_mask": rng.random((7, 9)) < 0.7}, {"is_causal": True}):
        out = scaled_dot_product_attention(q, k, v, **kwargs)
        d_out = normal(rng, out.shape)
        d_q, d_k, d_v = blocked(d_out, q, k, v, **kwargs)
        for x, grad in ((q, d_q), (k, d_k), (v, d_v)):

            def loss(x_, x=x, kwargs=kwargs, d_out=d_out):
                args = [x_ if a is x else a for a in (q, k, v)]
                return float(np.sum(scaled_dot_product_attention(*args, **kwargs) * d_out))

            np.testing.assert_allclose(
                grad, _central_differences(loss, x), rtol=FD_RTOL, atol=FD_ATOL
            )


# --- identities ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_identities(rng, kind):
    L, S = 6, 9
    q, k, v = normal(rng, (2, 3, L, 4)), normal(rng, (2, 3, S, 4)), normal(rng, (2, 3, S, 5))
    mask, causal = mask_of_kind(rng, kind, L, S)
    out, probs = scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=causal, return_weights=True
    )
    d_out = normal(rng, out.shape)
    d_q, d_k, d_v = sdpa_backward(d_out, q, k, v, attn_mask=mask, is_causal=causal)

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=RTOL_F64, atol=ATOL_F64)

    close(d_v, np.swapaxes(probs, -1, -2) @ d_out)  # dV = P^T dO
    close(d_k.sum(axis=-2), 0.0)  # rows of dS sum to 0
    close(np.sum(d_q * q, axis=(-2, -1)), np.sum(d_k * k, axis=(-2, -1)))  # q -> tq, k -> k/t
    close(np.sum(d_v * v, axis=(-2, -1)), np.sum(d_out * out, axis=(-2, -1)))  # linear in v


def test_fully_masked_rows_give_zero_gradients(rng):
    q, k, v = normal(rng, (5, 3)), normal(rng, (6, 3)), normal(rng, (6, 2))
    mask = rng.random((5, 6)) < 0.7
    mask[2] = False
    d_out = normal(rng, (5, 2))
    d_q, d_k, d_v = sdpa_backward(d_out, q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(d_q[2], 0.0)
    d_out_without_row = d_out.copy()
    d_out_without_row[2] = 0.0  # the row's grad_output contributes nothing anywhere
    _, d_k2, d_v2 = sdpa_backward(d_out_without_row, q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(d_k, d_k2)
    np.testing.assert_array_equal(d_v, d_v2)
    assert np.isfinite(d_q).all() and np.isfinite(d_k).all() and np.isfinite(d_v).all()


def test_single_key_closed_form():
    q = np.array([[1.0, 2.0], [3.0, -1.0]])
    k = np.array([[0.5, 0.5]])
    v = np.array([[4.0, 5.0]])
    d_out = np.array([[1.0, 0.0], [2.0, 3.0]])
    d_q, d_k, d_v = sdpa_backward(d_out, q, k, v)
    np.testing.assert_array_equal(d_q, 0.0)  # the output does not depend on q or k
    np.testing.assert_array_equal(d_k, 0.0)
    np.testing.assert_array_equal(d_v, [[3.0, 3.0]])


# --- GQA and broadcasting --------------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
def test_gqa_gradients_are_sums_over_the_repeated_heads(rng, causal):
    G = 3
    q = normal(rng, (2, 6, 5, 4))  # (B, H, L, E)
    k, v = normal(rng, (2, 2, 7, 4)), normal(rng, (2, 2, 7, 3))  # (B, Hkv, S, .)
    d_out = normal(rng, (2, 6, 5, 3))
    d_q, d_k, d_v = sdpa_backward(d_out, q, k, v, is_causal=causal, enable_gqa=True)
    k_rep, v_rep = np.repeat(k, G, axis=1), np.repeat(v, G, axis=1)  # repeat_interleave
    d_q_mha, d_k_mha, d_v_mha = sdpa_backward(d_out, q, k_rep, v_rep, is_causal=causal)
    np.testing.assert_allclose(d_q, d_q_mha, rtol=RTOL_F64, atol=ATOL_F64)
    d_k_summed = d_k_mha.reshape(2, 2, G, 7, 4).sum(axis=2)  # (B, Hkv, S, E)
    d_v_summed = d_v_mha.reshape(2, 2, G, 7, 3).sum(axis=2)
    np.testing.assert_allclose(d_k, d_k_summed, rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(d_v, d_v_summed, rtol=RTOL_F64, atol=ATOL_F64)


def test_broadcast_inputs_get_summed_gradients(rng):
    q = normal(rng, (2, 1, 5, 4))
    k = normal(rng, (7, 4))
    v = normal(rng, (1, 3, 7, 2))
    d_out = normal(rng, (2, 3, 5, 2))
    d_q, d_k, d_v = sdpa_backward(d_out, q, k, v)
    assert (d_q.shape, d_k.shape, d_v.shape) == (q.shape, k.shape, v.shape)
    full = (2, 3)
    qf = np.broadcast_to(q, (*full, 5, 4)).copy()
    kf = np.broadcast_to(k, (*full, 7, 4)).copy()
    vf = np.broadcast_to(v, (*full, 7, 2)).copy()
    d_qf, d_kf, d_vf = sdpa_backward(d_out, qf, kf, vf)
    np.testing.assert_allclose(d_q, d_qf.sum(axis=1, keepdims=True), rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(d_k, d_kf.sum(axis=(0, 1)), rtol=RTOL_F64, atol=ATOL_F64)
    np.testing.assert_allclose(d_v, d_vf.sum(axis=0, keepdims=True), rtol=RTOL_F64, atol=ATOL_F64)


# --- the blocked path against the plain one --------------------------------------------------


@pytest.mark.parametrize("rows", [1, 7, 512])
@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
@pytest.mark.parametrize(
    ("q_shape", "kv_shape", "gqa"),
    [
        ((2, 3, 9, 5), (2, 3, 20, 5), False),
        ((2, 4, 20, 5), (1, 2, 9, 5), True),
        ((9, 5), (20, 5), False),
    ],
)
def test_blocked_equals_plain(rng, rows, kind, q_shape, kv_shape, gqa):
    q, k, v = normal(rng, q_shape), normal(rng, kv_shape), normal(rng, (*kv_shape[:-1], 3))
    mask, causal = mask_of_kind(rng, kind, q_shape[-2], kv_shape[-2])
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=gqa)
    d_out = normal(rng, out.shape)
    p = prepare(q, k, v, mask, causal, None, gqa, grad_output=d_out)
    blocked = _backward(p, path="tiled", block_q=rows)
    group = check_qkv(q, k, v, gqa)[1]
    plain = backward_plain(d_out, q, k, v, mask=mask, is_causal=causal, group=group)
    for b, p_ in zip(blocked, plain, strict=True):
        assert b.shape == p_.shape
        np.testing.assert_allclose(b, p_, rtol=RTOL_F64, atol=ATOL_F64)


# --- dtypes, arguments, no mutation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("dtypes", "expected"),
    [
        ((np.float32,) * 4, np.float32),
        ((np.float16,) * 4, np.float16),
        ((np.float64, np.float32, np.float32, np.float32), np.float64),
        ((np.float32, np.float32, np.float16, np.float32), np.float32),
    ],
)
def test_dtypes_follow_result_type(rng, dtypes, expected):
    shapes = ((2, 6, 2), (2, 6, 4), (2, 9, 4), (2, 9, 2))  # grad_output, query, key, value
    d_out, q, k, v = (normal(rng, s, dt) for s, dt in zip(shapes, dtypes, strict=True))
    grads = sdpa_backward(d_out, q, k, v)
    reference = sdpa_backward(*(a.astype(np.float64) for a in (d_out, q, k, v)))
    for g, r in zip(grads, reference, strict=True):
        assert g.dtype == expected
        tol = 50 * float(np.finfo(expected).eps)  # a few roundings of values of order 1
        np.testing.assert_allclose(g.astype(np.float64), r, rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(2, 6, 3), (6, 2), (1, 6, 2), (2, 6, 2, 1)])
def test_grad_output_must_have_the_output_shape(rng, shape):
    q, k, v = normal(rng, (2, 6, 4)), normal(rng, (2, 9, 4)), normal(rng, (2, 9, 2))
    expected = re.escape(str((2, 6, 2))) + ".*" + re.escape(str(shape))
    with pytest.raises(ValueError, match="grad_output.*" + expected):
        sdpa_backward(normal(rng, shape), q, k, v)


def test_grad_output_must_be_floating_point(rng):
    q, k, v = normal(rng, (6, 4)), normal(rng, (9, 4)), normal(rng, (9, 2))
    with pytest.raises(TypeError, match="grad_output"):
        sdpa_backward(np.ones((6, 2), dtype=np.int64), q, k, v)


def test_inputs_not_mutated_and_read_only_accepted(rng):
    for L in (5, math.isqrt(FAST_MIN_SCORES)):  # the plain and the blocked path
        q, k, v = normal(rng, (2, L, 4)), normal(rng, (2, L, 4)), normal(rng, (2, L, 3))
        d_out = normal(rng, (2, L, 3))
        fmask = rng.normal(size=(L, L))
        arrays = (d_out, q, k, v, fmask)
        copies = [a.copy() for a in arrays]
        for a in arrays:
            a.flags.writeable = False
        sdpa_backward(d_out, q, k, v, attn_mask=fmask)
        sdpa_backward(d_out, q, k, v, is_causal=True)
        for after, before in zip(arrays, copies, strict=True):
            np.testing.assert_array_equal(after, before)


# --- PyTorch ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_against_torch_autograd(rng, kind):
    torch = pytest.importorskip("torch", reason="torch is optional (an independent oracle)")
    q, k, v = normal(rng, (2, 4, 6, 3)), normal(rng, (2, 2, 8, 3)), normal(rng, (2, 2, 8, 5))
    mask, causal = mask_of_kind(rng, kind, 6, 8)
    if mask is not None:  # torch gives NaN gradients for fully masked rows: keep none here
        mask[1:3] = True if mask.dtype == np.bool_ else 0.0
    d_out = normal(rng, (2, 4, 6, 5))
    grads = sdpa_backward(d_out, q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=True)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    t_mask = None if mask is None else torch.tensor(mask)
    out = torch.nn.functional.scaled_dot_product_attention(
        tq, tk, tv, attn_mask=t_mask, is_causal=causal, enable_gqa=True
    )
    out.backward(torch.tensor(d_out))
    for g, t in zip(grads, (tq, tk, tv), strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=RTOL_F64, atol=ATOL_F64)
