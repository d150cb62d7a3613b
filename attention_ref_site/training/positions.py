r"""Copy the token `K` places back: one causal attention layer, five ways of giving it positions.

The task. A sequence of `T` distinct tokens (drawn without replacement from a vocabulary of
`V`); at every position $t \ge K$ the answer is the token at $t - K$. The answer is fixed by
the order alone: the content of the tokens says nothing about it.

The model. One causal self-attention layer with `H` heads of size `E`, read out linearly:

$$
h_t = e(x_t) + p_t, \quad Q = H W_q,\; K = H W_k,\; V = H W_v, \quad
o = \operatorname{attention}(Q, K, V) , \quad z_t = o_t W_{out} + b_{out}
$$

and the positions are one of

- `"none"`: $p_t = 0$;
- `"learned"`: $p_t$ a trained table (`MAX_LEN` rows; rows past the training length get no
  gradient and keep their initial values);
- `"sinusoidal"`: $p_t$ = `sinusoidal_positions`, fixed;
- `"rope"`: $p_t = 0$, and the queries and keys of every head are rotated by
  `rotary_embedding` at their positions;
- `"alibi"`: $p_t = 0$, and head $h$ adds `alibi_slopes(H)[h] * (j - t)` to its scores.

The backward pass is written out: the attention through `attention_ref.sdpa_backward` (with
the ALiBi bias as a float mask), RoPE through its inverse, a rotation by the negative
positions (a rotation is orthogonal, so its transpose is its inverse).

Why "none" cannot learn it. Without positions, and with one layer, the output at $t$ is a
function of $x_t$ and of the *set* $\{x_0, \dots, x_t\}$: permuting the earlier tokens
permutes their keys and values together, which changes nothing
(the self-attention page shows the equivariance). Given the set, every earlier token is
equally likely to be the one $K$ back, so no such model beats $1/t$ at position $t$:
`order_blind_bound`.
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

SCHEMES = ("none", "learned", "sinusoidal", "rope", "alibi")
VOCAB = 64  # V: tokens are distinct within a sequence, so T <= V
K = 2  # the answer at t is the token K places back
SEQ_LEN = 16  # n: the training length
TEST_LENGTHS = (SEQ_LEN, 2 * SEQ_LEN, 4 * SEQ_LEN)  # n, 2n, 4n
MAX_LEN = 4 * SEQ_LEN  # rows of the learned table
HEADS = 4
HEAD_DIM = 8
WIDTH = HEADS * HEAD_DIM  # D


class Batch(NamedTuple):
    tokens: np.ndarray  # (B, T) int, distinct within each row
    targets: np.ndarray  # (B, T - K) int: tokens[:, :-K], the answers at t = K .. T - 1


def make_batch(rng: np.random.Generator, size: int, seq_len: int = SEQ_LEN) -> Batch:
    """`size` sequences of `seq_len` distinct tokens, and their answers."""
    tokens = np.argsort(rng.random((size, VOCAB)), axis=-1)[:, :seq_len]  # (B, T) distinct
    return Batch(tokens, tokens[:, :-K].copy())


def batches(rng: np.random.Generator, size: int, seq_len: int = SEQ_LEN) -> Iterator[Batch]:
    while True:
        yield make_batch(rng, size, seq_len)


def order_blind_bound(seq_len: int) -> float:
    """The best accuracy of a model that sees $x_t$ and the set of tokens up to $t$, not their
    order: $1/t$ at position $t$ (one of $t$ earlier tokens), averaged over $t = K \\dots T-1$."""
    return float(np.mean(1.0 / np.arange(K, seq_len)))


def init(
    rng: np.random.Generator, scheme: str, heads: int = HEADS, head_dim: int = HEAD_DIM
) -> Params:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    D = heads * head_dim
    params = {
        "embed": normal(rng, (VOCAB, D), 1.0),
        "w_q": normal(rng, (D, D), D**-0.5),
        "w_k": normal(rng, (D, D), D**-0.5),
        "w_v": normal(rng, (D, D), D**-0.5),
        "w_out": normal(rng, (D, VOCAB), D**-0.5),
        "b_out": np.zeros(VOCAB),
    }
    if scheme == "learned":
        params["pos"] = normal(rng, (MAX_LEN, D), 1.0)
    return params


def _split(x: np.ndarray, heads: int) -> np.ndarray:
    B, T, D = x.shape
    return x.reshape(B, T, heads, D // heads).transpose(0, 2, 1, 3)  # (B, H, T, E)


def _merge(x: np.ndarray) -> np.ndarray:
    B, H, T, E = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, H * E)  # (B, T, D)


def alibi_bias(heads: int, seq_len: int) -> np.ndarray:
    """The float mask `(H, T, T)`: `slopes[h] * (j - i)` on and below the diagonal, -inf above."""
    i = np.arange(seq_len)[:, None]
    j = np.arange(seq_len)[None, :]
    bias = ar.alibi_slopes(heads)[:, None, None] * (j - i)  # (H, T, T)
    return np.where(j <= i, bias, -np.inf)


def forward(
    params: Params,
    batch: Batch,
    scheme: str,
    heads: int = HEADS,
    *,
    rope_scale: float = 1.0,
    rope_base: float = 10000.0,
) -> tuple[float, dict]:
    """The loss and what the backward pass needs. `rope_scale` and `rope_base` change RoPE's
    angles at evaluation (position interpolation divides the positions by `rope_scale`;
    NTK-aware scaling raises `rope_base`); training uses the defaults."""
    x = batch.tokens  # (B, T)
    T = x.shape[1]
    h = params["embed"][x]  # (B, T, D)
    if scheme == "learned":
        h = h + params["pos"][:T]
    elif scheme == "sinusoidal":
        h = h + ar.sinusoidal_positions(T, h.shape[-1])
    q = _split(h @ params["w_q"], heads)  # (B, H, T, E)
    k = _split(h @ params["w_k"], heads)
    v = _split(h @ params["w_v"], heads)
    positions = np.arange(T) / rope_scale
    if scheme == "rope":
        q = ar.rotary_embedding(q, positions, base=rope_base)
        k = ar.rotary_embedding(k, positions, base=rope_base)
    if scheme == "alibi":
        mask = {"attn_mask": alibi_bias(heads, T)}
    else:
        mask = {"is_causal": True}
    out = ar.scaled_dot_product_attention(q, k, v, **mask)  # (B, H, T, E)
    o = _merge(out)  # (B, T, D)
    logits = o @ params["w_out"] + params["b_out"]  # (B, T, V)
    loss, d_scored = cross_entropy(logits[:, K:], batch.targets)  # only t >= K has an answer
    d_logits = np.zeros_like(logits)
    d_logits[:, K:] = d_scored
    cache = {"x": x, "h": h, "q": q, "k": k, "v": v, "o": o, "mask": mask, "heads": heads}
    cache |= {"positions": positions, "rope_base": rope_base}
    return loss, cache | {"logits": logits, "d_logits": d_logits, "scheme": scheme}


def backward(params: Params, cache: dict) -> Params:
    d_logits, o, h, heads = cache["d_logits"], cache["o"], cache["h"], cache["heads"]
    grads = {"w_out": linear_grads(o, d_logits), "b_out": d_logits.sum(axis=(0, 1))}
    d_out = _split(d_logits @ params["w_out"].T, heads)  # (B, H, T, E)
    d_q, d_k, d_v = ar.sdpa_backward(d_out, cache["q"], cache["k"], cache["v"], **cache["mask"])
    if cache["scheme"] == "rope":  # back through the rotation: rotate by -position
        positions, base = -cache["positions"], cache["rope_base"]
        d_q = ar.rotary_embedding(d_q, positions, base=base)
        d_k = ar.rotary_embedding(d_k, positions, base=base)
    d_q, d_k, d_v = _merge(d_q), _merge(d_k), _merge(d_v)  # (B, T, D) each
    grads["w_q"] = linear_grads(h, d_q)
    grads["w_k"] = linear_grads(h, d_k)
    grads["w_v"] = linear_grads(h, d_v)
    d_h = d_q @ params["w_q"].T + d_k @ params["w_k"].T + d_v @ params["w_v"].T  # (B, T, D)
    grads["embed"] = embedding_grad(d_h, cache["x"], VOCAB)
    if "pos" in params:
        grads["pos"] = np.zeros_like(params["pos"])
        grads["pos"][: h.shape[1]] = d_h.sum(axis=0)
    return grads


def loss_and_grads(params: Params, batch: Batch, scheme: str, heads: int = HEADS):
    loss, cache = forward(params, batch, scheme, heads)
    return loss, backward(params, cache)


def accuracy(params: Params, scheme: str, test: Batch, **rope: float) -> float:
    """The fraction of answers (every sequence, every t >= K) that the model gets right;
    `rope` is passed on to `forward` (`rope_scale`, `rope_base`)."""
    right = []
    for start in range(0, len(test.tokens), EVAL_BATCH):
        part = Batch(*(field[start : start + EVAL_BATCH] for field in test))
        _, cache = forward(params, part, scheme, **rope)
        right.append(cache["logits"][:, K:].argmax(axis=-1) == part.targets)
    return float(np.concatenate(right).mean())


class Trained(NamedTuple):
    params: Params
    history: dict[str, list]  # "loss" per step; "accuracy" at each "eval_step"
    accuracy: dict[int, float]  # held-out accuracy at each test length


SEED = 0
STEPS = 300
BATCH_SIZE = 16
LEARNING_RATE = 0.01
EVAL_SEQUENCES = 128
EVAL_EVERY = STEPS  # the learning curves are not shown: before and after only


def test_set(seed: int, seq_len: int) -> Batch:
    return make_batch(np.random.default_rng([seed, 3, seq_len]), EVAL_SEQUENCES, seq_len)


@functools.cache
def train_model(scheme: str, seed: int = SEED, steps: int = STEPS) -> Trained:
    """Train with one scheme; deterministic. Every scheme sees the same batches."""
    params = init(np.random.default_rng([seed, 1]), scheme)
    data = batches(np.random.default_rng([seed, 2]), BATCH_SIZE)
    held_out = test_set(seed, SEQ_LEN)
    history = train(
        params,
        lambda p, b: loss_and_grads(p, b, scheme),
        data,
        steps=steps,
        lr=LEARNING_RATE,
        evaluate=lambda p: {"accuracy": accuracy(p, scheme, held_out)},
        every=EVAL_EVERY,
    )
    final = {n: accuracy(params, scheme, test_set(seed, n)) for n in TEST_LENGTHS}
    return Trained(params, history, final)
