"""The tiny trained models of the docs (attention_ref_site.training).

Oracles:

- Central differences in float64 for every entry of every parameter of every model: the
  hand-written backward passes (and the attention layer's `sdpa_backward` inside them) must
  give the derivative of the loss that the forward pass computes.
- The task definitions against their rules, written again here independently (the French
  word order, the position of the capital, the two answers of the two-head task).
- Training: a few Adam steps lower the loss; the same seed gives the same arrays bit for bit.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from attention_ref_site.training import core, heads, plots, recall, translation

# Central differences: (f(x + h) - f(x - h)) / 2h has a truncation error O(h^2 f''') and a
# rounding error O(eps64 |f| / h). With h = 1e-5, losses of order 1 and third derivatives of
# order 1 at these sizes, both are ~1e-10, while the gradients' largest entries are of order
# 1e-2 to 1. So a correct backward pass is within ~1e-8 relative to the largest entry of each
# parameter's gradient; FD_RTOL = 1e-6 leaves a margin of 100 and still catches a wrong or
# missing term (which shows up at 1e-3 or more).
FD_STEP = 1e-5
FD_RTOL = 1e-6


def _generic(params: core.Params, rng: np.random.Generator) -> core.Params:
    """Parameters of order 1 everywhere, so no term of the gradient is negligible (at the
    models' own initialisation the weights are nearly uniform and the biases zero)."""
    return {name: rng.normal(scale=0.7, size=p.shape) for name, p in params.items()}


def _check_gradients(params, loss_fn, grads):
    assert sorted(grads) == sorted(params), "a gradient for every parameter, and no other"
    for name, p in params.items():
        assert grads[name].shape == p.shape, name
        numeric = np.empty_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + FD_STEP
            plus = loss_fn(params)
            p[i] = saved - FD_STEP
            minus = loss_fn(params)
            p[i] = saved
            numeric[i] = (plus - minus) / (2 * FD_STEP)
        scale = np.abs(numeric).max()
        assert scale > 1e-6, f"{name}: the loss does not depend on it at this point"
        error = np.abs(grads[name] - numeric).max() / scale
        assert error < FD_RTOL, f"{name}: relative error {error:.2e}"


# --- central differences, every parameter of every model --------------------------------------


def test_translation_gradients(rng):
    data = translation.make_data(rng, 3)
    params = _generic(translation.init(rng, width=4), rng)
    _, grads = translation.loss_and_grads(params, data)
    _check_gradients(params, lambda p: translation.forward(p, data)[0], grads)


def test_recall_attention_gradients(rng):
    batch = recall.make_batch(rng, 3, seq_len=5)
    params = _generic(recall.init_attention(rng, width=4, seq_len=5), rng)
    _, grads = recall.loss_and_grads_attention(params, batch)
    _check_gradients(params, lambda p: recall.forward_attention(p, batch)[0], grads)


def test_recall_rnn_gradients(rng):
    batch = recall.make_batch(rng, 3, seq_len=5)
    params = _generic(recall.init_rnn(rng, hidden=3), rng)
    _, grads = recall.loss_and_grads_rnn(params, batch)
    _check_gradients(params, lambda p: recall.forward_rnn(p, batch)[0], grads)


@pytest.mark.parametrize("num_heads", [1, 2])
def test_heads_gradients(rng, num_heads):
    batch = heads.make_batch(rng, 2)
    params = _generic(heads.init(rng, heads=num_heads, width=4), rng)
    _, grads = heads.loss_and_grads(params, batch, num_heads)
    _check_gradients(params, lambda p: heads.forward(p, batch, num_heads)[0], grads)


def test_cross_entropy_gradient(rng):
    logits = rng.normal(size=(2, 3, 5))
    targets = rng.integers(0, 5, size=(2, 3))
    _, d_logits = core.cross_entropy(logits, targets)
    params = {"logits": logits}
    _check_gradients(
        params, lambda p: core.cross_entropy(p["logits"], targets)[0], {"logits": d_logits}
    )


def test_cross_entropy_closed_form():
    # two equal logits: p = 1/2, loss = log 2, gradient (p - onehot) / N
    loss, d_logits = core.cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))
    assert np.isclose(loss, np.log(2.0))
    np.testing.assert_allclose(d_logits, [[0.5, -0.5]])


def test_adam_first_step_is_lr_times_sign():
    # After one step the bias-corrected m / sqrt(v) is g / |g|: every entry moves by lr.
    params = {"w": np.array([1.0, -2.0, 3.0])}
    adam = core.Adam(params, lr=0.1, eps=0.0)
    adam.step(params, {"w": np.array([0.5, -3.0, 1e-4])})
    np.testing.assert_allclose(params["w"], [0.9, -1.9, 2.9])


def test_clipping_scales_the_global_norm():
    params = {"a": np.zeros(2), "b": np.zeros(1)}
    seen = []

    def loss_and_grads(p, batch):
        return 0.0, {"a": np.array([3.0, 0.0]), "b": np.array([4.0])}  # norm 5

    class Spy(core.Adam):
        def step(self, params, grads):
            seen.append(grads)

    original, core.Adam = core.Adam, Spy
    try:
        core.train(params, loss_and_grads, itertools.repeat(None), steps=1, lr=0.1, clip=1.0)
    finally:
        core.Adam = original
    np.testing.assert_allclose(seen[0]["a"], [0.6, 0.0])
    np.testing.assert_allclose(seen[0]["b"], [0.8])


# --- the tasks follow their rules ---------------------------------------------------------------


def test_translation_rule():
    # French puts these adjectives after the noun, English before; petit stays in front.
    french = ["le", "chat", "noir", "voit", "un", "petit", "lapin"]
    alignment = [0, 2, 1, 3, 4, 5, 6]
    assert translation.translate(french, alignment) == "the black cat sees a small rabbit".split()


def test_translation_data(rng):
    train = translation.make_data(rng, 50)
    test = translation.make_data(rng, 50, exclude=train)
    assert not {tuple(s) for s in train.source.tolist()} & {tuple(s) for s in test.source.tolist()}
    words = translation.SOURCE_WORDS
    for src, tgt, align in zip(test.source, test.target, test.alignment, strict=True):
        french = [words[i] for i in src]
        english = [translation.TARGET_WORDS[i] for i in tgt]
        for i, j in enumerate(align):
            assert english[i] == translation.LEXICON[french[j]]
        for phrase in (french[1:3], french[5:7]):  # (adjective, noun) or (noun, adjective)
            nouns = [w for w in phrase if w in translation.NOUNS]
            assert len(nouns) == 1
            adjective = phrase[1] if phrase[0] in translation.NOUNS else phrase[0]
            before = adjective in translation.ADJECTIVES_BEFORE
            assert (phrase[0] == adjective) == before
        assert english[1] in translation.ADJECTIVES_BEFORE.values() or english[1] in (
            translation.ADJECTIVES_AFTER.values()
        )


def test_recall_data(rng):
    batch = recall.make_batch(rng, 40)
    for tokens, answer, n in zip(batch.tokens, batch.answer, batch.distance, strict=True):
        text = recall.text(tokens)
        capitals = [i for i, c in enumerate(text) if c.isupper()]
        assert len(capitals) == 1 and text[-1] == "?"
        assert len(text) - 1 - capitals[0] == n
        assert recall.LETTERS[answer] == text[capitals[0]].lower()
    test = recall.test_batch(rng, 3, seq_len=6)
    assert sorted(test.distance.tolist()) == sorted([1, 2, 3, 4, 5] * 3)


def test_heads_data(rng):
    batch = heads.make_batch(rng, 20)
    for row in range(20):
        tokens = heads.text(batch, row)
        first, second = tokens[: heads.K], tokens[heads.K :]
        assert sorted(t[0] for t in first) == sorted(t[0] for t in second) == list(heads.LETTERS)
        for i, token in enumerate(second):
            t = heads.K + i
            assert int(tokens[t - 1][1]) == batch.previous[row, i]
            j = next(j for j, earlier in enumerate(first) if earlier[0] == token[0])
            assert batch.match_position[row, i] == j
            assert int(first[j][1]) == batch.match[row, i]


# --- training -------------------------------------------------------------------------------


def _loss_drops(loss_and_grads, params, batch, steps=30, lr=0.01):
    history = core.train(params, loss_and_grads, itertools.repeat(batch), steps=steps, lr=lr)
    first, last = history["loss"][0], loss_and_grads(params, batch)[0]
    assert last < 0.8 * first, (first, last)


def test_training_lowers_the_loss(rng):
    data = translation.make_data(rng, 32)
    _loss_drops(translation.loss_and_grads, translation.init(rng), data)
    batch = recall.make_batch(rng, 32)
    _loss_drops(recall.loss_and_grads_attention, recall.init_attention(rng), batch)
    _loss_drops(recall.loss_and_grads_rnn, recall.init_rnn(rng), batch)
    batch = heads.make_batch(rng, 32)
    for h in (1, 2):
        _loss_drops(lambda p, b, h=h: heads.loss_and_grads(p, b, h), heads.init(rng, h), batch)


@pytest.mark.parametrize(
    "train",
    [
        lambda: translation.train_model.__wrapped__(steps=20, train_size=64, test_size=64),
        lambda: recall.train_model.__wrapped__("attention", steps=20),
        lambda: recall.train_model.__wrapped__("rnn", steps=5),
        lambda: heads.train_model.__wrapped__(2, steps=20),
    ],
)
def test_training_is_deterministic(train):
    first, second = train(), train()
    for name in first.params:
        np.testing.assert_array_equal(first.params[name], second.params[name], err_msg=name)
    assert first.history["loss"] == second.history["loss"]


def test_unknown_recall_model():
    with pytest.raises(ValueError, match="kind must be"):
        recall.train_model.__wrapped__("lstm")


def test_heatmaps_fit_the_text_column():
    weights = np.full((12, 12), 1 / 12)
    html = plots.heatmaps(
        [weights, weights, weights],
        titles=["a", "b", "c"],
        row_labels=list("abcdefghijkl"),
        col_labels=list("abcdefghijkl"),
        caption="Three uniform matrices.",
        alt="Three grids of equal cells.",
    )
    assert html.startswith('<figure class="ar-figure" data-ar-heatmap=')  # explorable
    svg = html[html.index("<svg") :]  # the drawing, without the embedded values
    width_pt = float(re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', svg).group(1))
    assert width_pt <= plots.MAX_WIDTH * 72  # drawn at its natural size, never scaled down
    assert "0.08" not in svg  # cells this small carry no printed values


def test_heads_curve_does_not_change_the_training():
    """`curve=False` (the page's extra seeds) skips the evaluations, not any training step."""
    with_curve = heads.train_model.__wrapped__(2, seed=3, steps=20)
    without = heads.train_model.__wrapped__(2, seed=3, steps=20, curve=False)
    for name in with_curve.params:
        np.testing.assert_array_equal(with_curve.params[name], without.params[name], name)
    assert without.history["loss"] == with_curve.history["loss"]


def test_heads_silenced_accuracy(rng):
    """Silencing a head equals the model's own forward pass with that head's output zeroed
    (here: its value projection's columns set to zero, so the head outputs zeros)."""
    batch = heads.make_batch(rng, 16)
    params = _generic(heads.init(rng, heads=2, width=8), rng)
    for head in (0, 1):
        muted = {name: value.copy() for name, value in params.items()}
        muted["w_v"][:, head * 4 : (head + 1) * 4] = 0.0  # head `head` now outputs zeros
        want = heads.metrics(muted, batch, 2)
        got = heads.silenced_accuracy(params, batch, head)
        assert got["previous"] == want["previous_accuracy"]
        assert got["match"] == want["match_accuracy"]
