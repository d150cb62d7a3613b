"""The positions experiment (attention_ref_site.training.positions).

Oracles: central differences in float64 for every entry of every parameter, for every scheme
(the backward pass goes through `sdpa_backward`, with ALiBi as a float mask, and through RoPE
by rotating back); the task against its rule written again here; the order-blind bound
against its definition; determinism.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_training import _check_gradients, _generic

from attention_ref_site.training import positions


@pytest.mark.parametrize("scheme", positions.SCHEMES)
def test_gradients(rng, scheme):
    batch = positions.make_batch(rng, 2, seq_len=5)
    params = _generic(positions.init(rng, scheme, heads=2, head_dim=2), rng)
    _, grads = positions.loss_and_grads(params, batch, scheme, heads=2)
    _check_gradients(params, lambda p: positions.forward(p, batch, scheme, heads=2)[0], grads)


def test_task_rule(rng):
    batch = positions.make_batch(rng, 20, seq_len=9)
    assert batch.tokens.shape == (20, 9)
    for row, target in zip(batch.tokens, batch.targets, strict=True):
        assert len(set(row.tolist())) == 9  # distinct tokens
        for t in range(positions.K, 9):
            assert target[t - positions.K] == row[t - positions.K]


def test_order_blind_bound():
    # 1/t at position t, averaged over t = K .. T - 1
    T = 16
    expected = sum(1 / t for t in range(positions.K, T)) / (T - positions.K)
    assert positions.order_blind_bound(T) == pytest.approx(expected, rel=1e-15)


def test_no_positions_is_order_blind(rng):
    # Permuting the tokens before t (and keeping t) leaves the output at t unchanged.
    params = positions.init(rng, "none")
    batch = positions.make_batch(rng, 1, seq_len=10)
    _, cache = positions.forward(params, batch, "none")
    perm = np.concatenate([rng.permutation(7), [7, 8, 9]])
    shuffled = positions.Batch(batch.tokens[:, perm], batch.targets)
    _, cache_p = positions.forward(params, shuffled, "none")
    np.testing.assert_allclose(cache_p["logits"][:, 7], cache["logits"][:, 7], rtol=1e-12)


def test_alibi_bias():
    bias = positions.alibi_bias(2, 3)
    assert bias.shape == (2, 3, 3)
    assert np.isneginf(bias[:, 0, 1:]).all() and np.isneginf(bias[:, 1, 2]).all()
    np.testing.assert_allclose(bias[0, 2, :], [-2 * 2**-4, -(2**-4), 0.0])


def test_deterministic():
    a = positions.train_model.__wrapped__("rope", steps=3)
    b = positions.train_model.__wrapped__("rope", steps=3)
    for name in a.params:
        assert np.array_equal(a.params[name], b.params[name])
    assert a.accuracy == b.accuracy


def test_gradients_with_scaled_rope(rng):
    # position interpolation and another base: the backward pass rotates back by the same
    # (scaled) angles
    batch = positions.make_batch(rng, 2, seq_len=5)
    params = _generic(positions.init(rng, "rope", heads=2, head_dim=2), rng)
    kw = {"rope_scale": 2.5, "rope_base": 500.0}
    _, cache = positions.forward(params, batch, "rope", heads=2, **kw)
    grads = positions.backward(params, cache)
    _check_gradients(params, lambda p: positions.forward(p, batch, "rope", heads=2, **kw)[0], grads)


def test_rope_scaling_changes_only_rope():
    trained = positions.train_model.__wrapped__("learned", steps=2)
    test = positions.test_set(0, 16)
    plain = positions.accuracy(trained.params, "learned", test)
    assert positions.accuracy(trained.params, "learned", test, rope_scale=4.0) == plain
