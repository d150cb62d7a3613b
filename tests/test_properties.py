"""Properties of scaled_dot_product_attention, checked with Hypothesis on small random shapes.

Each property is an oracle of its own (no reference implementation needed), except the last,
which compares cross-attention (S != L) with the loop oracle. Tolerances are the float64 ones
of oracle.py: every comparison here is between two float64 computations whose only difference
is the order of a few roundings.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from oracle import ATOL_F64, RTOL_F64
from oracle import sdpa as sdpa_oracle

from attention_ref import causal_mask, scaled_dot_product_attention

# Small shapes and a modest number of examples keep the whole module to a few seconds.
SETTINGS = settings(max_examples=50, deadline=None)

dims = st.integers(min_value=1, max_value=6)
values = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, width=64)


def _array(shape):
    return hnp.arrays(np.float64, shape, elements=values)


@st.composite
def qkv(draw, L=None, S=None, H=None, Hkv=None):
    """query (B, H, L, E), key/value (B, Hkv, S, E|Ev); Hkv defaults to H."""
    B = draw(st.integers(1, 2))
    H = draw(st.integers(1, 3)) if H is None else H
    Hkv = H if Hkv is None else Hkv
    L = draw(dims) if L is None else L
    S = draw(dims) if S is None else S
    E, Ev = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    q = draw(_array((B, H, L, E)))
    k = draw(_array((B, Hkv, S, E)))
    v = draw(_array((B, Hkv, S, Ev)))
    return q, k, v


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL_F64, atol=ATOL_F64)


@SETTINGS
@given(data=st.data())
def test_weights_are_probabilities(data):
    q, k, v = data.draw(qkv())
    L, S = q.shape[-2], k.shape[-2]
    mask = data.draw(st.none() | hnp.arrays(np.bool_, (L, S)))
    _, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask, return_weights=True)
    assert np.all(weights >= 0.0)
    sums = weights.sum(axis=-1)
    any_allowed = np.ones((L,), dtype=bool) if mask is None else mask.any(axis=-1)
    expected = np.broadcast_to(np.where(any_allowed, 1.0, 0.0), sums.shape)
    np.testing.assert_allclose(sums, expected, rtol=RTOL_F64, atol=ATOL_F64)


@SETTINGS
@given(data=st.data(), shift=st.floats(min_value=-50.0, max_value=50.0))
def test_adding_a_constant_to_all_scores_changes_nothing(data, shift):
    q, k, v = data.draw(qkv())
    L, S = q.shape[-2], k.shape[-2]
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    out_s, weights_s = scaled_dot_product_attention(
        q, k, v, attn_mask=np.full((L, S), shift), return_weights=True
    )
    _close(out_s, out)
    _close(weights_s, weights)


@SETTINGS
@given(data=st.data(), shift=st.floats(min_value=-50.0, max_value=50.0))
def test_bool_mask_equals_float_mask_of_minus_inf(data, shift):
    q, k, v = data.draw(qkv())
    L, S = q.shape[-2], k.shape[-2]
    mask = data.draw(hnp.arrays(np.bool_, (L, S)))
    out_bool = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out_float = scaled_dot_product_attention(q, k, v, attn_mask=np.where(mask, shift, -np.inf))
    _close(out_float, out_bool)


@SETTINGS
@given(data=st.data())
def test_permuting_queries_permutes_the_output(data):
    q, k, v = data.draw(qkv())
    perm = np.array(data.draw(st.permutations(range(q.shape[-2]))), dtype=np.intp)
    out = scaled_dot_product_attention(q, k, v)
    out_perm = scaled_dot_product_attention(q[..., perm, :], k, v)
    _close(out_perm, out[..., perm, :])


@SETTINGS
@given(data=st.data())
def test_permuting_keys_and_values_together_changes_nothing(data):
    q, k, v = data.draw(qkv())
    perm = np.array(data.draw(st.permutations(range(k.shape[-2]))), dtype=np.intp)
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    out_perm, weights_perm = scaled_dot_product_attention(
        q, k[..., perm, :], v[..., perm, :], return_weights=True
    )
    _close(out_perm, out)
    _close(weights_perm, weights[..., perm])


@SETTINGS
@given(data=st.data(), Hkv=st.integers(1, 3), G=st.integers(1, 3))
def test_gqa_equals_mha_on_repeated_keys(data, Hkv, G):
    q, k, v = data.draw(qkv(H=Hkv * G, Hkv=Hkv))
    causal = data.draw(st.booleans())
    out, weights = scaled_dot_product_attention(
        q, k, v, enable_gqa=True, is_causal=causal, return_weights=True
    )
    k_rep, v_rep = np.repeat(k, G, axis=-3), np.repeat(v, G, axis=-3)
    out_rep, weights_rep = scaled_dot_product_attention(
        q, k_rep, v_rep, is_causal=causal, return_weights=True
    )
    _close(out, out_rep)
    _close(weights, weights_rep)


@SETTINGS
@given(data=st.data())
def test_is_causal_equals_explicit_tril_mask(data):
    q, k, v = data.draw(qkv())
    L, S = q.shape[-2], k.shape[-2]
    out = scaled_dot_product_attention(q, k, v, is_causal=True)
    _close(scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(L, S)), out)
    tril = np.tril(np.ones((L, S), dtype=bool))
    _close(scaled_dot_product_attention(q, k, v, attn_mask=tril), out)


@SETTINGS
@given(data=st.data(), L=dims, extra=st.integers(1, 5), longer_keys=st.booleans())
def test_cross_attention_matches_oracle(data, L, extra, longer_keys):
    S = L + extra if longer_keys else max(1, L - extra)
    if S == L:
        S = L + 1
    q, k, v = data.draw(qkv(L=L, S=S))
    causal = data.draw(st.booleans())
    out, weights = scaled_dot_product_attention(q, k, v, is_causal=causal, return_weights=True)
    out_ref, weights_ref = sdpa_oracle(q, k, v, is_causal=causal)
    _close(out, out_ref)
    _close(weights, weights_ref)
