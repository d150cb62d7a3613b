r"""Translation as alignment: a toy French-to-English task, one cross-attention layer.

The task. A French sentence of seven words, *det noun-phrase verb det noun-phrase*, where a
noun phrase is a noun with an adjective. As in French, some adjectives come before the noun
(*le petit chat*) and most after it (*le chat noir*); English always puts them before. So the
English word at position 1 translates French position 1 or 2 depending on the adjective: the
alignment depends on the words, and the model is never shown it.

The model. An encoder that is only an embedding: source state $h_j = e(x_j) + p_j$ (word
plus learned position). A decoder whose queries are learned target positions $t_i$: the
sentence shape is fixed, so the position says which kind of word comes next (a real decoder
also reads the words it has written). One cross-attention layer and a linear output:

$$
Q = T W_q, \quad K = H W_k, \quad V = H W_v, \qquad
O = \operatorname{softmax}\left(\frac{Q K^\top}{\sqrt{D}}\right) V, \qquad
z = O W_{out} + b_{out}
$$
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

# The lexicon, French -> English. Every French word has exactly one translation.
DETERMINERS = {"le": "the", "un": "a"}
NOUNS = {
    "chat": "cat",
    "chien": "dog",
    "loup": "wolf",
    "renard": "fox",
    "cheval": "horse",
    "lapin": "rabbit",
}
ADJECTIVES_BEFORE = {"petit": "small", "grand": "big", "vieux": "old", "jeune": "young"}
ADJECTIVES_AFTER = {"noir": "black", "blanc": "white", "gris": "grey", "vert": "green"}
VERBS = {"voit": "sees", "suit": "follows", "mord": "bites", "aime": "likes"}
LEXICON = DETERMINERS | NOUNS | ADJECTIVES_BEFORE | ADJECTIVES_AFTER | VERBS

SOURCE_WORDS = list(LEXICON)  # the French vocabulary, token id = index
TARGET_WORDS = list(LEXICON.values())  # the English vocabulary, in the same order
SOURCE_LEN = TARGET_LEN = 7


class Data(NamedTuple):
    """Sentence pairs as token ids, with the true alignment of each."""

    source: np.ndarray  # (B, S) int: French
    target: np.ndarray  # (B, L) int: English
    alignment: np.ndarray  # (B, L) int: target position i translates source alignment[b, i]


def _noun_phrase(rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """A French noun phrase and, for each English word, the French word it translates."""
    noun = str(rng.choice(list(NOUNS)))
    if rng.random() < 0.5:
        adjective = str(rng.choice(list(ADJECTIVES_BEFORE)))
        return [adjective, noun], [0, 1]  # petit chat -> small cat: in order
    adjective = str(rng.choice(list(ADJECTIVES_AFTER)))
    return [noun, adjective], [1, 0]  # chat noir -> black cat: crossed


def sentence(rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """One French sentence and its alignment (English position i <- French alignment[i])."""
    det1, det2 = (str(d) for d in rng.choice(list(DETERMINERS), size=2))
    phrase1, align1 = _noun_phrase(rng)
    phrase2, align2 = _noun_phrase(rng)
    verb = str(rng.choice(list(VERBS)))
    french = [det1, *phrase1, verb, det2, *phrase2]
    alignment = [0, 1 + align1[0], 1 + align1[1], 3, 4, 5 + align2[0], 5 + align2[1]]
    return french, alignment


def translate(french: list[str], alignment: list[int]) -> list[str]:
    """The English sentence: word i is the translation of French word `alignment[i]`."""
    return [LEXICON[french[j]] for j in alignment]


def make_data(rng: np.random.Generator, n: int, exclude: Data | None = None) -> Data:
    """`n` distinct random sentence pairs, none of them in `exclude`."""
    seen = set() if exclude is None else {tuple(s) for s in exclude.source.tolist()}
    source, target, alignment = [], [], []
    while len(source) < n:
        french, align = sentence(rng)
        ids = tuple(SOURCE_WORDS.index(w) for w in french)
        if ids in seen:
            continue
        seen.add(ids)
        source.append(ids)
        target.append([TARGET_WORDS.index(w) for w in translate(french, align)])
        alignment.append(align)
    return Data(np.array(source), np.array(target), np.array(alignment))


# ---------------------------------------------------------------------------------------------
# The model


def init(rng: np.random.Generator, width: int = 24) -> Params:
    """Initial parameters: embeddings N(0, 1), projections N(0, 1/D), `w_q` and `w_k` 10 times
    smaller.

    Small query and key weights make the first weights almost uniform, so every source word
    receives a gradient. Started at full size, the weights of some target positions lock onto
    a wrong source word early and stay there (the softmax's gradient vanishes where a weight
    is near 0 or 1).
    """
    D, S, L = width, SOURCE_LEN, TARGET_LEN
    Vs, Vt = len(SOURCE_WORDS), len(TARGET_WORDS)
    return {
        "src_embed": normal(rng, (Vs, D), 1.0),  # e(x): one row per French word
        "src_pos": normal(rng, (S, D), 1.0),  # p_j: one row per source position
        "tgt_pos": normal(rng, (L, D), 1.0),  # t_i: the decoder's queries come from these
        "w_q": normal(rng, (D, D), 0.1 * D**-0.5),
        "w_k": normal(rng, (D, D), 0.1 * D**-0.5),
        "w_v": normal(rng, (D, D), D**-0.5),
        "w_out": normal(rng, (D, Vt), D**-0.5),
        "b_out": np.zeros(Vt),
    }


def forward(params: Params, data: Data) -> tuple[float, dict]:
    """The loss on a batch, and what the backward pass needs."""
    src = data.source  # (B, S)
    h = params["src_embed"][src] + params["src_pos"]  # (B, S, D): the encoder's states
    q = params["tgt_pos"] @ params["w_q"]  # (L, D): the same queries for every sentence
    k = h @ params["w_k"]  # (B, S, D)
    v = h @ params["w_v"]  # (B, S, D)
    out, probs = ar.scaled_dot_product_attention(q, k, v, return_weights=True)  # (B, L, D)
    logits = out @ params["w_out"] + params["b_out"]  # (B, L, Vt)
    loss, d_logits = cross_entropy(logits, data.target)
    cache = {"src": src, "h": h, "q": q, "k": k, "v": v, "out": out}
    cache["d_logits"] = d_logits
    return loss, cache | {"probs": probs, "logits": logits}


def backward(params: Params, cache: dict) -> Params:
    """Every parameter's gradient: the forward pass, read backwards."""
    d_logits, out, h = cache["d_logits"], cache["out"], cache["h"]
    grads = {
        "w_out": linear_grads(out, d_logits),  # (D, Vt)
        "b_out": d_logits.sum(axis=(0, 1)),  # (Vt,)
    }
    d_out = d_logits @ params["w_out"].T  # (B, L, D)
    # The attention layer: the exact vector-Jacobian product of scaled_dot_product_attention.
    # q has no batch axis (it was broadcast over B), so its gradient comes back summed over B.
    d_q, d_k, d_v = ar.sdpa_backward(d_out, cache["q"], cache["k"], cache["v"])
    grads["w_q"] = params["tgt_pos"].T @ d_q  # (D, D)
    grads["tgt_pos"] = d_q @ params["w_q"].T  # (L, D)
    grads["w_k"] = linear_grads(h, d_k)  # (D, D)
    grads["w_v"] = linear_grads(h, d_v)  # (D, D)
    d_h = d_k @ params["w_k"].T + d_v @ params["w_v"].T  # (B, S, D): h feeds k and v
    grads["src_pos"] = d_h.sum(axis=0)  # (S, D): added to every sentence
    grads["src_embed"] = embedding_grad(d_h, cache["src"], len(SOURCE_WORDS))  # (Vs, D)
    return grads


def loss_and_grads(params: Params, data: Data) -> tuple[float, Params]:
    loss, cache = forward(params, data)
    return loss, backward(params, cache)


def predict(params: Params, data: Data) -> tuple[np.ndarray, np.ndarray]:
    """Predicted English token ids `(B, L)` and the cross-attention weights `(B, L, S)`."""
    predicted, probs = [], []
    for start in range(0, len(data.source), EVAL_BATCH):
        part = Data(*(field[start : start + EVAL_BATCH] for field in data))
        _, cache = forward(params, part)
        predicted.append(cache["logits"].argmax(axis=-1))
        probs.append(cache["probs"])
    return np.concatenate(predicted), np.concatenate(probs)


def metrics(params: Params, data: Data) -> dict[str, float]:
    """Word and sentence accuracy; how well the weights match the true alignment."""
    predicted, probs = predict(params, data)
    correct = predicted == data.target  # (B, L)
    on_true = np.take_along_axis(probs, data.alignment[..., None], axis=-1)[..., 0]  # (B, L)
    return {
        "word_accuracy": float(correct.mean()),
        "sentence_accuracy": float(correct.all(axis=1).mean()),
        "mass_on_true": float(on_true.mean()),  # mean weight on the true source word
        "argmax_agrees": float((probs.argmax(axis=-1) == data.alignment).mean()),
    }


# ---------------------------------------------------------------------------------------------
# Training


def minibatches(data: Data, size: int, rng: np.random.Generator) -> Iterator[Data]:
    """Endless minibatches: the data shuffled by `rng`, cut into batches, then again."""
    while True:
        order = rng.permutation(len(data.source))
        for start in range(0, len(order) - size + 1, size):
            rows = order[start : start + size]
            yield Data(data.source[rows], data.target[rows], data.alignment[rows])


class Trained(NamedTuple):
    params: Params
    history: dict[str, list[float]]
    train: Data
    test: Data


SEED = 0
STEPS = 400
LEARNING_RATE = 0.01
TRAIN_SIZE = 512
TEST_SIZE = 1024
BATCH_SIZE = 32


@functools.cache
def train_model(
    seed: int = SEED,
    steps: int = STEPS,
    lr: float = LEARNING_RATE,
    width: int = 24,
    train_size: int = TRAIN_SIZE,
    test_size: int = TEST_SIZE,
    batch_size: int = BATCH_SIZE,
) -> Trained:
    """Train from `seed` with Adam on minibatches; deterministic.

    One generator seeded with `seed` draws, in this order, the training pairs, the held-out
    pairs (none of them a training sentence), the initial weights and the minibatches.
    """
    rng = np.random.default_rng(seed)
    train_data = make_data(rng, train_size)
    test_data = make_data(rng, test_size, exclude=train_data)  # held out: unseen sentences
    params = init(rng, width)
    batches = minibatches(train_data, batch_size, rng)
    history = train(
        params,
        loss_and_grads,
        batches,
        steps=steps,
        lr=lr,
        evaluate=lambda p: metrics(p, test_data),
        every=50,
    )
    return Trained(params, history, train_data, test_data)
