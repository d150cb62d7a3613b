r"""Long-range recall: one self-attention layer against a small recurrent network.

The task. A sequence of `T` tokens: random lowercase letters, exactly one capital, and a
final `?`. The answer is the capital's letter (the class of `"D"` is `"d"`). The capital sits
`n` positions before the `?`, with `n` from 1 to `T - 1`, so the answer is `n` tokens back.

The attention model. Token plus learned position embeddings, and one attention layer whose
only query is the last position's (the loss reads only that position, so the other queries
would compute nothing that is used):

$$
h_j = e(x_j) + p_j, \quad o = \operatorname{softmax}\left(\frac{q k^\top}{\sqrt{D}}\right) V, \quad
q = h_{T-1} W_q, \; K = H W_k, \; V = H W_v, \quad z = o W_{out} + b_{out}
$$

The recurrent baseline. An Elman network (Elman, 1990), $s_t = \tanh(u(x_t) + s_{t-1} W_s +
b_s)$ from $s_{-1} = 0$, read out at the last step: $z = s_{T-1} W_{out} + b_{out}$. Its
gradient is backpropagation through time, written out below.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

import attention_ref as ar
from attention_ref_site.training.core import (
    EVAL_BATCH,
    Params,
    cross_entropy,
    embedding_grad,
    linear_grads,
    normal,
    train,
)

LETTERS = "abcdefgh"
VOCAB = [*LETTERS, *LETTERS.upper(), "?"]  # token ids: lowercase, capitals, the query
QUERY = VOCAB.index("?")
CLASSES = len(LETTERS)  # the answer is a letter, whatever its case
SEQ_LEN = 24  # T: the last position holds "?", the capital is n = 1 .. T - 1 back


class Batch(NamedTuple):
    tokens: np.ndarray  # (B, T) int
    answer: np.ndarray  # (B,) int: the letter of the capital
    distance: np.ndarray  # (B,) int: n, how far back the capital is


def make_batch(
    rng: np.random.Generator, size: int, distance: int | None = None, seq_len: int = SEQ_LEN
) -> Batch:
    """`size` sequences; the capital `distance` back, or a uniform 1 .. T - 1 when None."""
    T = seq_len
    tokens = rng.integers(0, CLASSES, size=(size, T))  # lowercase letters
    if distance is None:
        n = rng.integers(1, T, size=size)
    else:
        n = np.full(size, distance)
    rows = np.arange(size)
    answer = tokens[rows, T - 1 - n].copy()
    tokens[rows, T - 1 - n] += CLASSES  # that letter, capitalised
    tokens[:, -1] = QUERY
    return Batch(tokens, answer, n)


def batches(rng: np.random.Generator, size: int, seq_len: int = SEQ_LEN) -> Iterator[Batch]:
    """Fresh random training batches, one per step."""
    while True:
        yield make_batch(rng, size, seq_len=seq_len)


def text(tokens: np.ndarray) -> str:
    """A sequence as a string, e.g. `"fbAgd?"`."""
    return "".join(VOCAB[t] for t in tokens)


# ---------------------------------------------------------------------------------------------
# The attention model


def init_attention(rng: np.random.Generator, width: int = 16, seq_len: int = SEQ_LEN) -> Params:
    D = width
    return {
        "embed": normal(rng, (len(VOCAB), D), 1.0),
        "pos": normal(rng, (seq_len, D), 1.0),
        "w_q": normal(rng, (D, D), 0.1 * D**-0.5),  # small: start from near-uniform weights
        "w_k": normal(rng, (D, D), 0.1 * D**-0.5),
        "w_v": normal(rng, (D, D), D**-0.5),
        "w_out": normal(rng, (D, CLASSES), D**-0.5),
        "b_out": np.zeros(CLASSES),
    }


def forward_attention(params: Params, batch: Batch) -> tuple[float, dict]:
    x = batch.tokens  # (B, T)
    h = params["embed"][x] + params["pos"]  # (B, T, D)
    q = h[:, -1:] @ params["w_q"]  # (B, 1, D): the query of the "?" only
    k = h @ params["w_k"]  # (B, T, D)
    v = h @ params["w_v"]  # (B, T, D)
    out, probs = ar.scaled_dot_product_attention(q, k, v, return_weights=True)  # (B, 1, D)
    logits = out[:, 0] @ params["w_out"] + params["b_out"]  # (B, C)
    loss, d_logits = cross_entropy(logits, batch.answer)
    cache = {"x": x, "h": h, "q": q, "k": k, "v": v, "out": out, "probs": probs}
    return loss, cache | {"logits": logits, "d_logits": d_logits}


def backward_attention(params: Params, cache: dict) -> Params:
    d_logits, out, h = cache["d_logits"], cache["out"][:, 0], cache["h"]
    grads = {"w_out": out.T @ d_logits, "b_out": d_logits.sum(axis=0)}
    d_out = (d_logits @ params["w_out"].T)[:, None, :]  # (B, 1, D)
    d_q, d_k, d_v = ar.sdpa_backward(d_out, cache["q"], cache["k"], cache["v"])
    grads["w_q"] = linear_grads(h[:, -1:], d_q)
    grads["w_k"] = linear_grads(h, d_k)
    grads["w_v"] = linear_grads(h, d_v)
    d_h = d_k @ params["w_k"].T + d_v @ params["w_v"].T  # (B, T, D)
    d_h[:, -1:] += d_q @ params["w_q"].T  # the last position also made the query
    grads["pos"] = d_h.sum(axis=0)
    grads["embed"] = embedding_grad(d_h, cache["x"], len(VOCAB))
    return grads


def loss_and_grads_attention(params: Params, batch: Batch) -> tuple[float, Params]:
    loss, cache = forward_attention(params, batch)
    return loss, backward_attention(params, cache)


# ---------------------------------------------------------------------------------------------
# The recurrent baseline


def init_rnn(rng: np.random.Generator, hidden: int = 64) -> Params:
    N = hidden
    return {
        "w_x": normal(rng, (len(VOCAB), N), 1.0),  # u(x): the input's contribution, a lookup
        "w_s": normal(rng, (N, N), N**-0.5),  # state to state
        "b_s": np.zeros(N),
        "w_out": normal(rng, (N, CLASSES), N**-0.5),
        "b_out": np.zeros(CLASSES),
    }


def forward_rnn(params: Params, batch: Batch) -> tuple[float, dict]:
    x = batch.tokens  # (B, T)
    B, T = x.shape
    inputs = params["w_x"][x]  # (B, T, N): u(x_t) for every t, looked up at once
    states = [np.zeros((B, params["w_s"].shape[0]))]  # s_{-1} = 0, then s_0 .. s_{T-1}
    for t in range(T):  # one step after the other: s_t needs s_{t-1}
        states.append(np.tanh(inputs[:, t] + states[-1] @ params["w_s"] + params["b_s"]))
    logits = states[-1] @ params["w_out"] + params["b_out"]  # (B, C)
    loss, d_logits = cross_entropy(logits, batch.answer)
    return loss, {"x": x, "states": states, "logits": logits, "d_logits": d_logits}


def backward_rnn(params: Params, cache: dict) -> Params:
    """Backpropagation through time: the forward loop, run backwards."""
    x, states, d_logits = cache["x"], cache["states"], cache["d_logits"]
    grads = {
        "w_out": states[-1].T @ d_logits,
        "b_out": d_logits.sum(axis=0),
        "w_s": np.zeros_like(params["w_s"]),
    }
    d_inputs = np.zeros((*x.shape, params["w_s"].shape[0]))  # (B, T, N)
    d_s = d_logits @ params["w_out"].T  # (B, N): the gradient of s_{T-1}
    for t in reversed(range(x.shape[1])):
        d_a = d_s * (1.0 - states[t + 1] ** 2)  # through tanh: s_t = tanh(a_t)
        d_inputs[:, t] = d_a  # a_t = u(x_t) + s_{t-1} W_s + b_s
        grads["w_s"] += states[t].T @ d_a
        d_s = d_a @ params["w_s"].T  # the gradient of s_{t-1}
    grads["b_s"] = d_inputs.sum(axis=(0, 1))
    grads["w_x"] = embedding_grad(d_inputs, x, len(VOCAB))
    return grads


def loss_and_grads_rnn(params: Params, batch: Batch) -> tuple[float, Params]:
    loss, cache = forward_rnn(params, batch)
    return loss, backward_rnn(params, cache)


# ---------------------------------------------------------------------------------------------
# Training and evaluation


def accuracy_by_distance(
    forward: Callable[[Params, Batch], tuple[float, dict]],
    params: Params,
    test: Batch,
) -> np.ndarray:
    """Accuracy `(T - 1,)` at n = 1 .. T - 1 on `test` (see `test_batch`), in small batches."""
    right = []
    for start in range(0, len(test.tokens), EVAL_BATCH):
        part = Batch(*(field[start : start + EVAL_BATCH] for field in test))
        _, cache = forward(params, part)
        right.append(cache["logits"].argmax(axis=-1) == part.answer)
    right = np.concatenate(right)
    T = test.tokens.shape[1]
    return np.array([right[test.distance == n].mean() for n in range(1, T)])


def test_batch(rng: np.random.Generator, per_distance: int, seq_len: int = SEQ_LEN) -> Batch:
    """`per_distance` held-out sequences for every n = 1 .. T - 1."""
    parts = [make_batch(rng, per_distance, n, seq_len) for n in range(1, seq_len)]
    return Batch(*(np.concatenate(field) for field in zip(*parts, strict=True)))


class Trained(NamedTuple):
    params: Params
    history: dict[str, list]  # "loss" per step; "accuracy" (T - 1,) at each "eval_step"
    accuracy: np.ndarray  # (T - 1,): the final accuracy at n = 1 .. T - 1, held out


SEED = 0
STEPS = 500
BATCH_SIZE = 32
LEARNING_RATE = 0.003
CLIP = 1.0
EVAL_PER_DISTANCE = 128
EVAL_EVERY = 100


@functools.cache
def train_model(
    kind: str,
    seed: int = SEED,
    steps: int = STEPS,
    lr: float = LEARNING_RATE,
    batch_size: int = BATCH_SIZE,
) -> Trained:
    """Train the `"attention"` or the `"rnn"` model; deterministic for a given seed.

    Both see the same training batches (the data generator has its own seed), take the same
    number of Adam steps at the same learning rate with the same clipping, and are evaluated
    on the same held-out sequences; only the initial weights differ.
    """
    init_rng = np.random.default_rng([seed, 1])  # the model's initial weights
    data_rng = np.random.default_rng([seed, 2])  # the training sequences: the same for both
    test = test_batch(np.random.default_rng([seed, 3]), EVAL_PER_DISTANCE)  # held out
    if kind == "attention":
        params = init_attention(init_rng)
        step, forward = loss_and_grads_attention, forward_attention
    elif kind == "rnn":
        params = init_rnn(init_rng)
        step, forward = loss_and_grads_rnn, forward_rnn
    else:
        raise ValueError(f"kind must be 'attention' or 'rnn', not {kind!r}")
    history = train(
        params,
        step,
        batches(data_rng, batch_size),
        steps=steps,
        lr=lr,
        clip=CLIP,
        evaluate=lambda p: {"accuracy": accuracy_by_distance(forward, p, test)},
        every=EVAL_EVERY,
    )
    return Trained(params, history, history["accuracy"][-1])
