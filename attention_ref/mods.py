r"""Masks and scores as functions: the mods of `flex_attention`.

The design of PyTorch's FlexAttention (He, Guessous, Liang, Zhang and Lu, 2024): every
variant of attention that only changes *which* keys a query sees or *how* a score is biased is
one small function of the indices.

- A **mask_mod** is called as `mask_mod(b, h, q_idx, kv_idx)` and returns a bool array,
  **True = may attend** (the convention of the whole package).
- A **score_mod** is called as `score_mod(score, b, h, q_idx, kv_idx)` and returns the new
  scores; `score` is the block of **scaled** scores $c\, q \cdot k$.

`b, h, q_idx, kv_idx` are integer arrays that broadcast against each other to the shape of
the block of scores being computed: all of `(B, H, L, S)` on the reference path, a tile of it
on the tiled path. A mod must be elementwise (a position's result depends only on its own
arguments), so any path may evaluate it tile by tile and get the same answer.

The factories below return mods. The score mods carry their derivative as an attribute
`grad(score, b, h, q_idx, kv_idx)` $= \partial\, \text{score\_mod} / \partial\, \text{score}$,
which `flex_backward` needs; a score_mod of your own gets one the same way
(`my_mod.grad = ...`).

The built-in mask mods also carry a hint for the tiled path, `key_range(i0, i1, S)`: keys
`[lo, hi)` outside of which the queries `i0:i1` see nothing, for every `b` and `h` (clipped to
`[0, S)` by the caller). Tiles outside it are skipped without calling the mask_mod, so a
sliding window costs $O(L \times w)$ even to decide which tiles to skip. It is only an
optimisation: inside the range every tile is still decided by the mask_mod itself, and a
mask_mod without the hint (any of your own) is evaluated on every tile, with the same result.

`causal` and `sliding_window` (and `and_masks`, `or_masks` of them) also carry the converse
hint, `query_range(j0, j1, L)`: the queries `[lo, hi)` outside of which no query sees any of
the keys `j0:j1`; the tile engine then leaves the other queries out of that tile's products.

`causal`, `sliding_window` (and `and_masks`, `or_masks` of them) also say `relative = True`:
their answer depends only on `q_idx - kv_idx`, not on `b`, `h` or where the tile lies, so the
tiled path evaluates them once per shape and offset of tile and reuses the answer. Give
`relative = True` to a mask_mod of your own only if that is so: a wrong hint gives wrong
masks.

| factory | kind | keeps / computes |
|---|---|---|
| `causal(offset=0)` | mask | `kv_idx <= q_idx + offset`; `offset = S - L` is bottom-right |
| `sliding_window(left, right=0)` | mask | `q_idx - left <= kv_idx <= q_idx + right` |
| `prefix_lm(prefix_len)` | mask | `kv_idx < prefix_len` or `kv_idx <= q_idx` |
| `document(q_doc_ids, kv_doc_ids=None)` | mask | the same document id |
| `and_masks(*mask_mods)`, `or_masks(*mask_mods)` | mask | every one / any one |
| `alibi(slopes)` | score | `score + slopes[h] * (kv_idx - q_idx)` |
| `softcap(cap)` | score | `cap * tanh(score / cap)` |
| `chain(*score_mods)` | score | the score mods applied left to right |

References
----------
[He, Guessous, Liang, Zhang and Lu (2024). FlexAttention: A Programming Model for Generating
Optimized Attention Kernels.](https://arxiv.org/abs/2412.05496)
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ._checks import check_size

__all__ = [
    "alibi",
    "and_masks",
    "causal",
    "chain",
    "document",
    "or_masks",
    "prefix_lm",
    "sliding_window",
    "softcap",
]

MaskMod = Callable[[Any, Any, Any, Any], Any]
ScoreMod = Callable[[Any, Any, Any, Any, Any], Any]


def _named(fn: Any, name: str) -> Any:
    """Give a mod a readable name (shown in error messages and reprs of tracebacks)."""
    fn.__name__ = fn.__qualname__ = name
    return fn


def _int(n: object, name: str) -> int:
    """An integer of any sign (a Python int or NumPy integer, not a bool or a float)."""
    if isinstance(n, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {n!r}")
    try:
        return operator.index(n)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {n!r}") from None


def causal(offset: int = 0) -> MaskMod:
    """The causal mask: query `q_idx` sees the keys `kv_idx <= q_idx + offset`.

    `offset=0` is the top-left alignment of `is_causal=True` (`tril(ones(L, S))`, PyTorch's
    SDPA); `offset=S - L` is the bottom-right alignment of FlashAttention >= 2.1 and PyTorch's
    `causal_lower_right`, in which the last query sees every key (chunked prefill, decoding
    against a cache).

    Parameters
    ----------
    offset : int, default 0
        Any integer; negative hides the diagonal as well.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> q, kv = np.arange(2)[:, None], np.arange(4)[None, :]
    >>> mods.causal()(0, 0, q, kv).astype(int).tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0]]
    >>> mods.causal(offset=4 - 2)(0, 0, q, kv).astype(int).tolist()  # bottom-right
    [[1, 1, 1, 0], [1, 1, 1, 1]]
    """
    offset = _int(offset, "offset")

    def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        return kv_idx <= q_idx + offset

    mask_mod.key_range = lambda i0, i1, S: (0, i1 + offset)  # type: ignore[attr-defined]
    mask_mod.query_range = lambda j0, j1, L: (j0 - offset, L)  # type: ignore[attr-defined]
    mask_mod.relative = True  # type: ignore[attr-defined]
    return _named(mask_mod, f"causal(offset={offset})")


def sliding_window(left: int, right: int = 0) -> MaskMod:
    """A window of keys around each query: `q_idx - left <= kv_idx <= q_idx + right`.

    FlashAttention's `window_size=(left, right)`: query $i$ sees `left` keys before it, itself
    and `right` keys after it, `left + right + 1` keys away from the edges. `right=0` is the
    causal sliding window of Mistral and Gemma's local layers. Combine with `causal(S - L)`
    through `and_masks` for a bottom-right window.

    Parameters
    ----------
    left, right : int
        Non-negative numbers of keys before and after the query.

    Raises
    ------
    ValueError
        If `left` or `right` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> q, kv = np.arange(4)[:, None], np.arange(4)[None, :]
    >>> mods.sliding_window(1)(0, 0, q, kv).astype(int).tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    """
    left = check_size(left, "sliding_window's left")
    right = check_size(right, "sliding_window's right")

    def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        return (kv_idx >= q_idx - left) & (kv_idx <= q_idx + right)

    mask_mod.key_range = lambda i0, i1, S: (i0 - left, i1 + right)  # type: ignore[attr-defined]
    mask_mod.query_range = lambda j0, j1, L: (j0 - right, j1 + left)  # type: ignore[attr-defined]
    mask_mod.relative = True  # type: ignore[attr-defined]
    return _named(mask_mod, f"sliding_window(left={left}, right={right})")


def prefix_lm(prefix_len: int) -> MaskMod:
    """The prefix-LM mask: every query sees the prefix, and the rest causally.

    `kv_idx < prefix_len or kv_idx <= q_idx`: the first `prefix_len` positions (an image, a
    prompt) attend to each other bidirectionally; the rest is generated causally (T5's
    prefix-LM objective, PaliGemma).

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> q, kv = np.arange(3)[:, None], np.arange(3)[None, :]
    >>> mods.prefix_lm(2)(0, 0, q, kv).astype(int).tolist()
    [[1, 1, 0], [1, 1, 0], [1, 1, 1]]
    """
    prefix_len = check_size(prefix_len, "prefix_len")

    def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        return (kv_idx < prefix_len) | (kv_idx <= q_idx)

    mask_mod.key_range = lambda i0, i1, S: (0, max(prefix_len, i1))  # type: ignore[attr-defined]
    return _named(mask_mod, f"prefix_lm({prefix_len})")


def _doc_ids(ids: object, name: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be a 1-D array of integer document ids, got dtype {arr.dtype} "
            f"(shape {arr.shape})"
        )
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of document ids, got shape {arr.shape}")
    return arr.copy()  # later changes to the caller's array do not change the mask


def document(q_doc_ids: Any, kv_doc_ids: Any = None) -> MaskMod:
    """Packed sequences: a query sees only the keys of its own document.

    Efficient training packs several documents into one row of `L` tokens; this mask keeps
    them from attending to each other, so the result equals running each document separately.
    Combine with `causal()` through `and_masks` for causal language models.

    Parameters
    ----------
    q_doc_ids : array_like of int, shape (L,)
        The document id of each query position.
    kv_doc_ids : array_like of int, shape (S,), optional
        The document id of each key position; defaults to `q_doc_ids` (self-attention).

    Raises
    ------
    TypeError, ValueError
        If the ids are not 1-D integer arrays; `ValueError` when the mod is called with an
        index beyond them (the ids must cover `L` and `S`).

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> ids = np.array([0, 0, 1])
    >>> q, kv = np.arange(3)[:, None], np.arange(3)[None, :]
    >>> mods.document(ids)(0, 0, q, kv).astype(int).tolist()
    [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    """
    q_docs = _doc_ids(q_doc_ids, "q_doc_ids")
    kv_docs = q_docs if kv_doc_ids is None else _doc_ids(kv_doc_ids, "kv_doc_ids")

    def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        for idx, docs, name, what in (
            (q_idx, q_docs, "q_doc_ids", "L"),
            (kv_idx, kv_docs, "kv_doc_ids", "S"),
        ):
            if np.size(idx) and np.max(idx) >= len(docs):
                raise ValueError(
                    f"document: {name} has {len(docs)} ids but the attention has "
                    f"{what} > {int(np.max(idx))}: give one id per position"
                )
        return q_docs[q_idx] == kv_docs[kv_idx]

    sorted_ids = bool(np.all(np.diff(q_docs) >= 0) and np.all(np.diff(kv_docs) >= 0))
    if sorted_ids:  # packed documents in order: the queries' documents span a range of keys

        def key_range(i0: int, i1: int, S: int) -> tuple[int, int]:
            if i1 > len(q_docs) or S != len(kv_docs):
                return 0, S  # every tile is evaluated, and the mask_mod says what is wrong
            first, last = q_docs[i0 : min(i1, len(q_docs))][[0, -1]]
            lo = int(np.searchsorted(kv_docs, first, side="left"))
            return lo, int(np.searchsorted(kv_docs, last, side="right"))

        mask_mod.key_range = key_range  # type: ignore[attr-defined]
    return _named(mask_mod, "document")


def and_masks(*mask_mods: MaskMod) -> MaskMod:
    """A mask_mod that keeps a position when every one of `mask_mods` keeps it.

    With no mask_mods, every position is kept (as PyTorch's `and_masks()`).

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> q, kv = np.arange(3)[:, None], np.arange(3)[None, :]
    >>> m = mods.and_masks(mods.causal(), mods.sliding_window(1))
    >>> m(0, 0, q, kv).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [0, 1, 1]]
    """
    _check_callables(mask_mods, "and_masks")

    def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        result: Any = True
        for mod in mask_mods:
            result = result & np.asarray(mod(b, h, q_idx, kv_idx))
        return np.asarray(result)

    hints = (getattr(m, "key_range", None) for m in mask_mods)
    ranged = [r for r in hints if callable(r)]
    if ranged:  # the keys every one keeps lie in the intersection of the ranges

        def key_range(i0: int, i1: int, S: int) -> tuple[int, int]:
            bounds = [r(i0, i1, S) for r in ranged]
            return max(lo for lo, _ in bounds), min(hi for _, hi in bounds)

        mask_mod.key_range = key_range  # type: ignore[attr-defined]
    q_ranged = [r for r in (getattr(m, "query_range", None) for m in mask_mods) if callable(r)]
    if q_ranged:  # the queries every one keeps lie in the intersection of the ranges

        def query_range(j0: int, j1: int, L: int) -> tuple[int, int]:
            bounds = [r(j0, j1, L) for r in q_ranged]
            return max(lo for lo, _ in bounds), min(hi for _, hi in bounds)

        mask_mod.query_range = query_range  # type: ignore[attr-defined]
    if mask_mods and all(getattr(m, "relative", False) is True for m in mask_mods):
        mask_mod.relative = True  # type: ignore[attr-defined]
    return _named(mask_mod, f"and_masks({', '.join(_name(m) for m in mask_mods)})")


def or_masks(*mask_mods: MaskMod) -> MaskMod:
    """A mask_mod that keeps a position when any one of `mask_mods` keeps it.

    With no mask_mods, no position is kept (as PyTorch's `or_masks()`).

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> q, kv = np.arange(3)[:, None], np.arange(3)[None, :]
    >>> m = mods.or_masks(mods.causal(), mods.prefix_lm(2))
    >>> m(0, 0, q, kv).astype(int).tolist()
    [[1, 1, 0], [1, 1, 0], [1, 1, 1]]
    """
    _check_callables(mask_mods, "or_masks")

    def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        result: Any = False
        for mod in mask_mods:
            result = result | np.asarray(mod(b, h, q_idx, kv_idx))
        return np.asarray(result)

    if all(callable(getattr(m, "key_range", None)) for m in mask_mods):

        def key_range(i0: int, i1: int, S: int) -> tuple[int, int]:
            bounds = [m.key_range(i0, i1, S) for m in mask_mods]  # type: ignore[attr-defined]
            return min((lo for lo, _ in bounds), default=0), max(
                (hi for _, hi in bounds), default=0
            )

        mask_mod.key_range = key_range  # type: ignore[attr-defined]
    if mask_mods and all(callable(getattr(m, "query_range", None)) for m in mask_mods):

        def query_range(j0: int, j1: int, L: int) -> tuple[int, int]:
            bounds = [m.query_range(j0, j1, L) for m in mask_mods]  # type: ignore[attr-defined]
            return min(lo for lo, _ in bounds), max(hi for _, hi in bounds)

        mask_mod.query_range = query_range  # type: ignore[attr-defined]
    if mask_mods and all(getattr(m, "relative", False) is True for m in mask_mods):
        mask_mod.relative = True  # type: ignore[attr-defined]
    return _named(mask_mod, f"or_masks({', '.join(_name(m) for m in mask_mods)})")


def alibi(slopes: Any) -> ScoreMod:
    r"""ALiBi (Press, Smith and Lewis, 2022): a penalty linear in the distance to the key.

    `score + slopes[h] * (kv_idx - q_idx)`: with positive slopes and causal attention
    (`kv_idx <= q_idx`), a key $d$ positions back loses $\text{slope}_h\, d$ from its score.
    BLOOM and MPT use it instead of position embeddings; the paper's slopes for $n$ heads are
    $2^{-8 (h + 1) / n}$.

    Parameters
    ----------
    slopes : array_like of float, shape (H,)
        One slope per query head.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> mod = mods.alibi([0.5])
    >>> q, kv = np.arange(3)[:, None], np.arange(3)[None, :]
    >>> mod(np.zeros((3, 3)), 0, 0, q, kv).tolist()
    [[0.0, 0.5, 1.0], [-0.5, 0.0, 0.5], [-1.0, -0.5, 0.0]]
    """
    arr = np.array(slopes, copy=True)
    if arr.dtype.kind not in "fiu" or arr.dtype == np.bool_:
        raise TypeError(f"alibi's slopes must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"alibi's slopes must be 1-D, one per head (H,), got shape {arr.shape}")
    arr = arr.astype(np.float64)

    def score_mod(score: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        score = np.asarray(score)
        if np.size(h) and np.max(h) >= len(arr):
            raise ValueError(
                f"alibi has {len(arr)} slopes but the attention has more heads "
                f"(head index {int(np.max(h))}): give one slope per query head"
            )
        bias = arr[h] * (np.asarray(kv_idx) - np.asarray(q_idx))  # float64, exact distances
        return score + bias.astype(score.dtype, copy=False)

    def grad(score: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        return np.ones_like(np.asarray(score))

    score_mod.grad = grad  # type: ignore[attr-defined]
    return _named(score_mod, "alibi")


def softcap(cap: float) -> ScoreMod:
    r"""Logit soft-capping (Gemma 2): `cap * tanh(score / cap)`, every score in $(-c, c)$.

    Near zero the scores are unchanged ($\tanh x \approx x$); large ones saturate smoothly
    at $\pm$ `cap` instead of dominating the softmax. Gemma 2 caps attention scores at 50.
    The cap applies to the **scaled** score, as in Gemma 2 and PyTorch's examples.
    Its derivative, `grad`, is $1 - \tanh^2(\text{score} / c)$.

    Parameters
    ----------
    cap : float
        A positive number.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> mods.softcap(2.0)(np.array([0.0, 1e6, -1e6]), 0, 0, 0, 0).tolist()
    [0.0, 2.0, -2.0]
    """
    if isinstance(cap, (bool, np.bool_)) or not isinstance(
        cap, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"softcap's cap must be a positive number, got {cap!r}")
    c = float(cap)
    if not c > 0.0 or c == np.inf:
        raise ValueError(f"softcap's cap must be a positive finite number, got {cap!r}")

    def score_mod(score: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        score = np.asarray(score)
        return np.tanh(score / score.dtype.type(c)) * score.dtype.type(c)

    def grad(score: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        score = np.asarray(score)
        t = np.tanh(score / score.dtype.type(c))
        return 1.0 - t * t

    score_mod.grad = grad  # type: ignore[attr-defined]
    return _named(score_mod, f"softcap({c:g})")


def chain(*score_mods: ScoreMod) -> ScoreMod:
    """The score_mods applied left to right: `chain(f, g)` is `g(f(score))`.

    The result has a `grad` (by the chain rule) when every one of `score_mods` has one.

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import mods
    >>> mod = mods.chain(mods.alibi([1.0]), mods.softcap(1.0))
    >>> q, kv = np.arange(2)[:, None], np.arange(2)[None, :]
    >>> out = mod(np.zeros((2, 2)), 0, 0, q, kv)
    >>> bool(np.allclose(out, np.tanh([[0, 1], [-1, 0]])))
    True
    """
    _check_callables(score_mods, "chain")

    def score_mod(score: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
        for mod in score_mods:
            score = mod(score, b, h, q_idx, kv_idx)
        return score

    if all(callable(getattr(mod, "grad", None)) for mod in score_mods):

        def grad(score: Any, b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
            total: Any = 1.0
            for mod in score_mods:  # d(g o f) = g'(f(s)) f'(s)
                total = total * np.asarray(mod.grad(score, b, h, q_idx, kv_idx))  # type: ignore[attr-defined]
                score = mod(score, b, h, q_idx, kv_idx)
            return total

        score_mod.grad = grad  # type: ignore[attr-defined]
    return _named(score_mod, f"chain({', '.join(_name(m) for m in score_mods)})")


def _name(mod: object) -> str:
    return getattr(mod, "__name__", type(mod).__name__)


def _check_callables(mods: tuple[object, ...], where: str) -> None:
    for i, mod in enumerate(mods):
        if not callable(mod):
            raise TypeError(f"{where}: argument {i} must be a callable mod, got {mod!r}")
