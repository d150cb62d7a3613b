"""additive_attention (Bahdanau et al. 2015) against the loop oracle and closed forms.

Oracle: ``oracle.additive``: ``scores[i, j] = v · tanh(query[i] @ w_query + key[j] @ w_key)``
by loops with ``math.tanh``/``math.exp``/``math.fsum`` in float64, compared at
``RTOL_F64``/``ATOL_F64`` (see oracle.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from oracle import ATOL_F64, RTOL_F64
from oracle import additive as additive_oracle

from attention_ref import additive_attention


def _inputs(rng, q_shape, k_shape, v_shape, A=6):
    query = rng.normal(size=q_shape)
    key = rng.normal(size=k_shape)
    value = rng.normal(size=v_shape)
    w_query = rng.normal(size=(q_shape[-1], A))
    w_key = rng.normal(size=(k_shape[-1], A))
    v = rng.normal(size=(A,))
    return query, key, value, w_query, w_key, v


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL_F64, atol=ATOL_F64)


SHAPES = {
    "2d": ((7, 5), (13, 3), (13, 4)),
    "3d": ((2, 7, 5), (2, 13, 3), (2, 13, 4)),
    "broadcast": ((2, 1, 7, 5), (1, 3, 11, 3), (1, 3, 11, 2)),
    "Dq=Dk": ((3, 9, 4), (3, 9, 4), (3, 9, 4)),
}


@pytest.mark.parametrize("name", SHAPES)
def test_matches_oracle(rng, name):
    args = _inputs(rng, *SHAPES[name])
    out, weights = additive_attention(*args, return_weights=True)
    out_ref, weights_ref = additive_oracle(*args)
    assert out.shape == out_ref.shape
    assert weights.shape == weights_ref.shape
    _close(out, out_ref)
    _close(weights, weights_ref)


def test_without_return_weights_returns_the_array(rng):
    args = _inputs(rng, *SHAPES["3d"])
    out = additive_attention(*args)
    assert isinstance(out, np.ndarray)
    _close(out, additive_oracle(*args)[0])


def test_no_scaling_is_applied():
    # One query, two keys; w_query = 0, w_key = I, v = (1, 0): scores = tanh(k[j, 0]).
    query = np.zeros((1, 2))
    key = np.array([[0.5, 0.0], [-1.0, 0.0]])
    value = np.array([[1.0], [0.0]])
    w_query = np.zeros((2, 2))
    w_key = np.eye(2)
    v = np.array([1.0, 0.0])
    out, weights = additive_attention(query, key, value, w_query, w_key, v, return_weights=True)
    s = np.tanh([0.5, -1.0])
    expected = np.exp(s) / np.exp(s).sum()
    np.testing.assert_allclose(weights, [expected], rtol=1e-14)
    np.testing.assert_allclose(out, [[expected[0]]], rtol=1e-14)


def test_one_key_returns_its_value(rng):
    args = _inputs(rng, (2, 7, 5), (2, 1, 3), (2, 1, 4))
    out = additive_attention(*args)
    np.testing.assert_allclose(out, np.broadcast_to(args[2], (2, 7, 4)), rtol=1e-15)


def test_equal_scores_average_the_values(rng):
    # w_key = 0 makes every key's score the same for a given query: uniform weights.
    query, key, value, w_query, w_key, v = _inputs(rng, (7, 5), (13, 3), (13, 4))
    out, weights = additive_attention(
        query, key, value, w_query, np.zeros_like(w_key), v, return_weights=True
    )
    np.testing.assert_allclose(weights, np.full((7, 13), 1 / 13), rtol=1e-14)
    np.testing.assert_allclose(out, np.broadcast_to(value.mean(axis=0), (7, 4)), rtol=1e-13)


def test_bool_mask(rng):
    args = _inputs(rng, (2, 7, 5), (2, 13, 3), (2, 13, 4))
    mask = rng.random((2, 7, 13)) < 0.6
    mask[0, 2, :] = False  # a fully masked row
    out, weights = additive_attention(*args, mask=mask, return_weights=True)
    out_ref, weights_ref = additive_oracle(*args, mask=mask)
    _close(out, out_ref)
    _close(weights, weights_ref)
    assert np.all(weights[~mask] == 0.0)
    np.testing.assert_array_equal(out[0, 2], 0.0)
    np.testing.assert_array_equal(weights[0, 2], 0.0)


@pytest.mark.parametrize("mask_shape", [(13,), (7, 13), (2, 1, 13)])
def test_mask_broadcasts(rng, mask_shape):
    args = _inputs(rng, (2, 7, 5), (2, 13, 3), (2, 13, 4))
    mask = rng.random(mask_shape) < 0.7
    out, weights = additive_attention(*args, mask=mask, return_weights=True)
    out_ref, weights_ref = additive_oracle(*args, mask=mask)
    _close(out, out_ref)
    _close(weights, weights_ref)


def test_float_mask_is_added(rng):
    args = _inputs(rng, (2, 7, 5), (2, 13, 3), (2, 13, 4))
    mask = rng.normal(size=(7, 13))
    mask[1, 3] = -np.inf
    out, weights = additive_attention(*args, mask=mask, return_weights=True)
    out_ref, weights_ref = additive_oracle(*args, mask=mask)
    _close(out, out_ref)
    _close(weights, weights_ref)


def test_inputs_not_mutated(rng):
    args = _inputs(rng, (2, 7, 5), (2, 13, 3), (2, 13, 4))
    mask = rng.random((7, 13)) < 0.5
    before = [a.copy() for a in (*args, mask)]
    additive_attention(*args, mask=mask, return_weights=True)
    for after, copy in zip((*args, mask), before, strict=True):
        np.testing.assert_array_equal(after, copy)
