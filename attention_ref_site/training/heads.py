r"""Two lookups at once: one causal self-attention layer, with one head or two.

The task. Each position holds a letter and a digit, like `b7`. The first half of a sequence
shows the `K` letters once each, in a random order; the second half shows them again, in
another order, each with a new random digit. At every position $t$ of the second half the
model answers two questions:

1. the digit of the previous position, $t - 1$ (a lookup by position);
2. the digit its letter had in the first half (a lookup by content: the earlier position
   holding the same letter, anywhere in the first half).

The model. Letter, digit and learned position embeddings, summed; one causal self-attention
layer with $H$ heads of width $E = D / H$; two linear readouts of the concatenated heads,
one per question:

$$
h_j = a(\ell_j) + b(d_j) + p_j, \qquad
\mathrm{head}_i = \operatorname{softmax}\left(\frac{Q_i K_i^\top}{\sqrt{E}} + M\right) V_i,
$$

$$
z^{(r)} = \operatorname{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W_r + c_r
$$

with $M$ the causal mask. (The usual output projection $W_o$ is folded into the readouts: two
linear maps in a row are one.)
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
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

LETTERS = "abcdef"
K = len(LETTERS)  # letters per half
SEQ_LEN = 2 * K  # L
DIGITS = 10
READOUTS = ("previous", "match")  # the two questions


class Batch(NamedTuple):
    letters: np.ndarray  # (B, L) int
    digits: np.ndarray  # (B, L) int
    previous: np.ndarray  # (B, K) int: answer 1 at the second-half positions K .. L - 1
    match: np.ndarray  # (B, K) int: answer 2
    match_position: np.ndarray  # (B, K) int: where answer 2 is, in the first half


def make_batch(rng: np.random.Generator, size: int) -> Batch:
    first = np.argsort(rng.random((size, K)), axis=1)  # (B, K): a permutation of the letters
    second = np.argsort(rng.random((size, K)), axis=1)
    letters = np.concatenate([first, second], axis=1)  # (B, L)
    digits = rng.integers(0, DIGITS, size=(size, SEQ_LEN))  # (B, L)
    position_in_first = np.argsort(first, axis=1)  # letter -> its position in the first half
    match_position = np.take_along_axis(position_in_first, second, axis=1)  # (B, K)
    return Batch(
        letters,
        digits,
        previous=digits[:, K - 1 : SEQ_LEN - 1],
        match=np.take_along_axis(digits, match_position, axis=1),
        match_position=match_position,
    )


def batches(rng: np.random.Generator, size: int) -> Iterator[Batch]:
    while True:
        yield make_batch(rng, size)


def text(batch: Batch, row: int = 0) -> list[str]:
    """The tokens of one sequence, e.g. `["b7", "a0", ...]`."""
    return [f"{LETTERS[a]}{d}" for a, d in zip(batch.letters[row], batch.digits[row], strict=True)]


# ---------------------------------------------------------------------------------------------
# The model


def init(rng: np.random.Generator, heads: int = 2, width: int = 24) -> Params:
    D = width
    assert D % heads == 0, "the width must split evenly into heads"
    params = {
        "letter_embed": normal(rng, (K, D), 1.0),
        "digit_embed": normal(rng, (DIGITS, D), 1.0),
        "pos": normal(rng, (SEQ_LEN, D), 1.0),
        "w_q": normal(rng, (D, D), 0.1 * D**-0.5),  # small: start from near-uniform weights
        "w_k": normal(rng, (D, D), 0.1 * D**-0.5),
        "w_v": normal(rng, (D, D), D**-0.5),
    }
    for r in READOUTS:
        params[f"w_{r}"] = normal(rng, (D, DIGITS), D**-0.5)
        params[f"b_{r}"] = np.zeros(DIGITS)
    return params


def split_heads(x: np.ndarray, H: int) -> np.ndarray:
    """`(B, L, D)` to `(B, H, L, E)`: head i owns columns `i*E .. (i+1)*E - 1`."""
    B, L, D = x.shape
    return x.reshape(B, L, H, D // H).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """`(B, H, L, E)` back to `(B, L, D)`, the heads side by side."""
    B, H, L, E = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, L, H * E)


def forward(params: Params, batch: Batch, heads: int) -> tuple[float, dict]:
    a, d = batch.letters, batch.digits  # (B, L) each
    h = params["letter_embed"][a] + params["digit_embed"][d] + params["pos"]  # (B, L, D)
    q = split_heads(h @ params["w_q"], heads)  # (B, H, L, E)
    k = split_heads(h @ params["w_k"], heads)
    v = split_heads(h @ params["w_v"], heads)
    out, probs = ar.scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    concat = merge_heads(out)[:, K:]  # (B, K, D): the second half, where the answers are
    loss, cache = 0.0, {"a": a, "d": d, "h": h, "q": q, "k": k, "v": v, "concat": concat}
    for r in READOUTS:
        logits = concat @ params[f"w_{r}"] + params[f"b_{r}"]  # (B, K, DIGITS)
        loss_r, cache[f"d_logits_{r}"] = cross_entropy(logits, getattr(batch, r))
        loss += loss_r
        cache[f"logits_{r}"] = logits
    return loss, cache | {"probs": probs, "heads": heads}


def backward(params: Params, cache: dict) -> Params:
    grads = {}
    d_concat = np.zeros_like(cache["concat"])  # (B, K, D)
    for r in READOUTS:
        d_logits = cache[f"d_logits_{r}"]
        grads[f"w_{r}"] = linear_grads(cache["concat"], d_logits)
        grads[f"b_{r}"] = d_logits.sum(axis=(0, 1))
        d_concat += d_logits @ params[f"w_{r}"].T
    B, H, L, E = cache["q"].shape
    d_merged = np.zeros((B, L, H * E))
    d_merged[:, K:] = d_concat  # the first half's outputs were not read: zero gradient
    d_out = split_heads(d_merged, H)  # (B, H, L, E)
    q, k, v = cache["q"], cache["k"], cache["v"]
    d_q, d_k, d_v = ar.sdpa_backward(d_out, q, k, v, is_causal=True)
    d_q, d_k, d_v = merge_heads(d_q), merge_heads(d_k), merge_heads(d_v)  # (B, L, D) each
    h = cache["h"]
    grads["w_q"] = linear_grads(h, d_q)
    grads["w_k"] = linear_grads(h, d_k)
    grads["w_v"] = linear_grads(h, d_v)
    d_h = d_q @ params["w_q"].T + d_k @ params["w_k"].T + d_v @ params["w_v"].T  # (B, L, D)
    grads["pos"] = d_h.sum(axis=0)
    grads["letter_embed"] = embedding_grad(d_h, cache["a"], K)
    grads["digit_embed"] = embedding_grad(d_h, cache["d"], DIGITS)
    return grads


def loss_and_grads(params: Params, batch: Batch, heads: int) -> tuple[float, Params]:
    loss, cache = forward(params, batch, heads)
    return loss, backward(params, cache)


def evaluate(params: Params, batch: Batch, heads: int) -> dict[str, np.ndarray]:
    """Predictions `(B, K)` per question and the weights `(B, H, L, L)`, in small batches."""
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(batch.letters), EVAL_BATCH):
        rows = slice(start, start + EVAL_BATCH)
        part = Batch(*(field[rows] for field in batch))
        _, cache = forward(params, part, heads)
        parts.append({r: cache[f"logits_{r}"].argmax(axis=-1) for r in READOUTS})
        parts[-1]["probs"] = cache["probs"]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def metrics(params: Params, batch: Batch, heads: int) -> dict[str, float]:
    result = evaluate(params, batch, heads)
    right = {r: result[r] == getattr(batch, r) for r in READOUTS}
    return {
        "previous_accuracy": float(right["previous"].mean()),
        "match_accuracy": float(right["match"].mean()),
        "both_accuracy": float((right["previous"] & right["match"]).mean()),
    }


def lookup_weights(probs: np.ndarray, batch: Batch) -> dict[str, np.ndarray]:
    """Each head's mean weight `(H,)` on the previous position and on the matching position,
    over the second-half queries."""
    t = np.arange(K, SEQ_LEN)  # the second-half query positions
    second = probs[:, :, K:, :]  # (B, H, K, L)
    on_previous = second[:, :, np.arange(K), t - 1]  # (B, H, K)
    on_match = np.take_along_axis(second, batch.match_position[:, None, :, None], axis=-1)
    return {
        "previous": on_previous.mean(axis=(0, 2)),
        "match": on_match[..., 0].mean(axis=(0, 2)),
    }


def silenced_accuracy(params: Params, batch: Batch, head: int) -> dict[str, float]:
    """Accuracy of each answer of the two-head model with one head's output set to zero."""
    p = params
    h = p["letter_embed"][batch.letters] + p["digit_embed"][batch.digits] + p["pos"]
    q, k, v = (split_heads(h @ p[w], 2) for w in ("w_q", "w_k", "w_v"))
    out = ar.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, L, E)
    out[:, head] = 0.0  # silence one head
    concat = merge_heads(out)[:, K:]  # (B, K, D): the second half
    return {
        r: float(((concat @ p[f"w_{r}"] + p[f"b_{r}"]).argmax(-1) == getattr(batch, r)).mean())
        for r in READOUTS
    }


# ---------------------------------------------------------------------------------------------
# Training


class Trained(NamedTuple):
    params: Params
    history: dict[str, list[float]]
    test: Batch


SEED = 0
STEPS = 300
BATCH_SIZE = 32
LEARNING_RATE = 0.01
TEST_SIZE = 512


@functools.cache
def train_model(
    heads: int,
    seed: int = SEED,
    steps: int = STEPS,
    lr: float = LEARNING_RATE,
    curve: bool = True,
) -> Trained:
    """Train the model with `heads` heads (width 24 either way); deterministic.

    `curve=False` skips the learning curve (the held-out evaluation every 25 steps), which
    takes about a third of the time; the trained parameters are the same.
    """
    init_rng = np.random.default_rng([seed, 1])
    data_rng = np.random.default_rng([seed, 2])  # the same training data for any `heads`
    test = make_batch(np.random.default_rng([seed, 3]), TEST_SIZE)
    params = init(init_rng, heads)
    history = train(
        params,
        lambda p, b: loss_and_grads(p, b, heads),
        batches(data_rng, BATCH_SIZE),
        steps=steps,
        lr=lr,
        evaluate=(lambda p: metrics(p, test, heads)) if curve else None,
        every=25,
    )
    return Trained(params, history, test)


#: The seeds of the robustness check on the page: seed 0 (the page's model) and four more.
SEEDS = (0, 1, 2, 3, 4)


def division_of_labour(seed: int) -> dict[str, float]:
    """Train the two-head model from `seed` and measure, on its held-out sequences, how the
    heads divide the two lookups: which head takes the previous position, each head's mean
    weight on its own lookup and on the other one, the accuracy of both answers, and each
    answer's accuracy when the head that serves it is silenced."""
    # Seed 0 is the page's own run, called as the page calls it (functools.cache then
    # returns it); the other seeds skip the learning curve.
    model = train_model(heads=2) if seed == SEED else train_model(2, seed=seed, curve=False)
    probs = evaluate(model.params, model.test, 2)["probs"]
    weights = lookup_weights(probs, model.test)
    prev_head = int(weights["previous"].argmax())
    match_head = 1 - prev_head
    return {
        "prev_head": prev_head,
        "own_weight": min(weights["previous"][prev_head], weights["match"][match_head]),
        "other_weight": max(weights["previous"][match_head], weights["match"][prev_head]),
        "both_accuracy": metrics(model.params, model.test, 2)["both_accuracy"],
        "previous_silenced": silenced_accuracy(model.params, model.test, prev_head)["previous"],
        "match_silenced": silenced_accuracy(model.params, model.test, match_head)["match"],
    }
