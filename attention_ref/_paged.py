r"""Paged attention: one decoding query per sequence, its keys and values in shared blocks.

A serving system decodes many sequences at once, each with its own length, and cannot know
in advance how long each will grow. vLLM's PagedAttention (Kwon et al. 2023) stores every
sequence's cache in fixed-size **blocks** taken from one pool, like the pages of virtual
memory; a **block table** per sequence lists its blocks in order. A sequence wastes at most
the unfilled part of its last block, and blocks can be shared (a common prompt).

`paged_attention` computes, for each sequence, ordinary attention of its one query over its
`seq_lens[n]` cached tokens, reading them through its block table. It gathers a chunk of
blocks at a time (about `CHUNK_TOKENS` tokens) into a small contiguous buffer and multiplies
while it is in the CPU's cache, in two passes: the scores of every chunk, the softmax over the
whole row (which is short: one query per head), then the values chunk by chunk.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, check_scale, compute_dtype

#: Tokens gathered per chunk (rounded down to whole blocks, at least one block). 256 tokens
#: of 8 heads of 128 float32 numbers are 1 MiB, which fits in a core's L2 cache: the chunk is
#: multiplied while it is still there, so the cache's bytes cross the memory bus about once.
#: On the 2-core VM this was written on, 128 to 512 were equally fast, 1024 and more slower.
CHUNK_TOKENS = 256


def _int_array(x: object, name: str, ndim: int, layout: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array {layout}, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {layout}, got shape {arr.shape}")
    return arr


def _check(
    query: ArrayLike,
    key_cache: ArrayLike,
    value_cache: ArrayLike,
    block_tables: ArrayLike,
    seq_lens: ArrayLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every check of `paged_attention`'s arguments, before any arithmetic."""
    q = as_float_array(query, "query")
    k = as_float_array(key_cache, "key_cache")
    v = as_float_array(value_cache, "value_cache")
    for name, arr, layout in (
        ("query", q, "(N, H, E)"),
        ("key_cache", k, "(num_blocks, block_size, Hkv, E)"),
        ("value_cache", v, "(num_blocks, block_size, Hkv, Ev)"),
    ):
        if arr.ndim != len(layout.split(",")):
            raise ValueError(f"{name} must have shape {layout}, got shape {arr.shape}")
    if k.shape[:3] != v.shape[:3]:
        raise ValueError(
            "key_cache and value_cache must have the same (num_blocks, block_size, Hkv): "
            f"got key_cache of shape {k.shape} and value_cache of shape {v.shape}"
        )
    if q.shape[2] != k.shape[3]:
        raise ValueError(
            "query and key_cache must have the same head size E (last dim): "
            f"got query of shape {q.shape} and key_cache of shape {k.shape}"
        )
    N, H, _ = q.shape
    num_blocks, block_size, Hkv, _ = k.shape
    if block_size == 0 or Hkv == 0:
        raise ValueError(f"key_cache needs block_size >= 1 and Hkv >= 1, got shape {k.shape}")
    if H % Hkv:
        raise ValueError(
            f"the query heads H must be a multiple of the key/value heads Hkv: got query of "
            f"shape {q.shape} (H={H}) and key_cache of shape {k.shape} (Hkv={Hkv})"
        )
    tables = _int_array(block_tables, "block_tables", 2, "(N, max_blocks)")
    lens = _int_array(seq_lens, "seq_lens", 1, "(N,)")
    if tables.shape[0] != N or lens.shape[0] != N:
        raise ValueError(
            f"block_tables (N, max_blocks) and seq_lens (N,) need one row per query: got "
            f"query of shape {q.shape}, block_tables of shape {tables.shape}, seq_lens of "
            f"shape {lens.shape}"
        )
    if (lens < 0).any():
        n = int(np.flatnonzero(lens < 0)[0])
        raise ValueError(f"seq_lens must be non-negative: seq_lens[{n}] = {int(lens[n])}")
    capacity = tables.shape[1] * block_size
    if (lens > capacity).any():
        n = int(np.flatnonzero(lens > capacity)[0])
        raise ValueError(
            f"seq_lens[{n}] = {int(lens[n])} is more than block_tables can hold: "
            f"{tables.shape[1]} blocks (block_tables of shape {tables.shape}) of block_size "
            f"{block_size} (key_cache of shape {k.shape}) = {capacity} tokens"
        )
    used = np.arange(tables.shape[1]) < -(-lens[:, None] // block_size)  # (N, max_blocks)
    bad = used & ((tables < 0) | (tables >= num_blocks))
    if bad.any():
        n, b = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"block_tables[{n}, {b}] = {int(tables[n, b])} is not a block id: the pool has "
            f"num_blocks = {num_blocks} (key_cache of shape {k.shape}), ids 0 to "
            f"{num_blocks - 1}"
        )
    return q, k, v, tables, lens


def paged_attention(
    query: ArrayLike,
    key_cache: ArrayLike,
    value_cache: ArrayLike,
    block_tables: ArrayLike,
    seq_lens: ArrayLike,
    *,
    scale: float | None = None,
) -> np.ndarray:
    r"""Decode one token per sequence against a paged key/value cache (vLLM's layout).

    Sequence $n$'s token $t$ is stored in block `block_tables[n, t // block_size]`, at slot
    `t % block_size`, of the shared pools `key_cache` and `value_cache`. Query $n$ attends
    to its sequence's first `seq_lens[n]` tokens:

    $$o_{n,h} = \sum_{t < \ell_n} \operatorname{softmax}_t\left(c\, q_{n,h} \cdot
    k_{n,t,g}\right) v_{n,t,g}, \qquad g = \lfloor h / G \rfloor$$

    with $c$ the scale and $\ell_n$ = `seq_lens[n]`. That is
    `scaled_dot_product_attention` of each query over its sequence's tokens gathered into a
    contiguous cache; here they are gathered a chunk of blocks at a time, never all at once.

    Shapes:
        `N` sequences (one query each), `H` query heads, `Hkv` key/value heads,
        `G = H // Hkv`, `E` query/key head size, `Ev` value head size.

    Parameters
    ----------
    query : array_like of shape (N, H, E)
        One decoding query per sequence.
    key_cache : array_like of shape (num_blocks, block_size, Hkv, E)
        The pool of key blocks, shared by all sequences.
    value_cache : array_like of shape (num_blocks, block_size, Hkv, Ev)
        The pool of value blocks, the same blocks.
    block_tables : array_like of int of shape (N, max_blocks)
        Row $n$ lists sequence $n$'s blocks in order. Only its first
        $\lceil \ell_n / \text{block\_size} \rceil$ entries are read; the rest are padding
        and may hold anything.
    seq_lens : array_like of int of shape (N,)
        Tokens cached per sequence, $0 \le \ell_n \le$ `max_blocks * block_size`. A sequence
        of length 0 gets an output of zeros (nothing to attend to).
    scale : float, optional
        The factor multiplying $q \cdot k$; `None` means $1/\sqrt{E}$.

    Returns
    -------
    ndarray of shape (N, H, Ev)
        dtype `np.result_type(query, key_cache, value_cache)` (float16 computed in float32).

    Raises
    ------
    TypeError
        If a float input is not float16/32/64, or `block_tables` or `seq_lens` is not an
        integer array.
    ValueError
        If a shape is wrong (named with its shape), `H` is not a multiple of `Hkv`, a length
        is negative, `seq_lens[n]` exceeds `max_blocks * block_size`, or a block id that is
        read is outside `0 .. num_blocks - 1`.

    See Also
    --------
    KVCache : the contiguous cache of one batch of sequences.
    scaled_dot_product_attention : the same computation on a contiguous cache.

    Notes
    -----
    Slots of the pool that no sequence reads (the unfilled end of a last block, unused
    blocks) are never touched, so whatever they hold, NaN included, does not reach the
    output. Blocks may be shared between sequences (prefix sharing). The layout is the
    logical one, also that of FlashAttention's `flash_attn_with_kvcache` with a
    `block_table` (`k_cache` of shape `(num_blocks, page_block_size, nheads_k, headdim)`);
    vLLM's CUDA kernel stores the same blocks in an order tuned to its GPU.

    References
    ----------
    [Kwon et al. (2023). Efficient Memory Management for Large Language Model Serving with
    PagedAttention.](https://arxiv.org/abs/2309.06180)

    Examples
    --------
    Two sequences share a pool of 3 blocks of 2 slots. Sequence 0 has 3 tokens in blocks
    2 and 0; sequence 1 has 1 token in block 1. A sequence of one token returns its value;
    equal scores (here $q = 0$) average the values.

    >>> import numpy as np
    >>> from attention_ref import paged_attention
    >>> # (num_blocks, block_size, Hkv, E)
    >>> key_cache = np.zeros((3, 2, 1, 1))
    >>> value_cache = np.array([3.0, 4.0, 7.0, 0.0, 1.0, 2.0]).reshape(3, 2, 1, 1)
    >>> block_tables = np.array([[2, 0], [1, 0]])
    >>> seq_lens = np.array([3, 1])
    >>> query = np.zeros((2, 1, 1))                        # (N, H, E)
    >>> out = paged_attention(
    ...     query, key_cache, value_cache, block_tables, seq_lens)
    >>> out[:, 0, 0].tolist()                               # (1 + 2 + 3) / 3 and 7
    [2.0, 7.0]
    """
    q, k_pool, v_pool, tables, lens = _check(query, key_cache, value_cache, block_tables, seq_lens)
    scale = check_scale(scale)
    out_dtype = np.result_type(q, k_pool, v_pool)
    cdt = compute_dtype(out_dtype)
    N, H, E = q.shape
    _, block_size, Hkv, Ev = v_pool.shape
    G = H // Hkv
    c = 1.0 / math.sqrt(E) if scale is None else scale
    chunk_blocks = max(1, CHUNK_TOKENS // block_size)
    underflow = np.log(np.finfo(cdt).tiny)  # exp(x) is subnormal below this
    out = np.zeros((N, H, Ev), dtype=cdt)  # (N, H, Ev); a sequence of length 0 stays zeros
    for n in range(N):
        S = int(lens[n])
        if S == 0:
            continue
        ids = tables[n, : -(-S // block_size)].astype(np.intp)  # the blocks read, in order
        q_n = (q[n].astype(cdt) * cdt.type(c)).reshape(Hkv, G, E)  # (Hkv, G, E), scaled
        scores = np.empty((Hkv, G, S), dtype=cdt)  # (Hkv, G, S)
        for b0 in range(0, len(ids), chunk_blocks):
            t0 = b0 * block_size
            t1 = min(S, t0 + chunk_blocks * block_size)
            k = k_pool.take(ids[b0 : b0 + chunk_blocks], axis=0)  # (nb, block_size, Hkv, E)
            k = k.reshape(-1, Hkv, E)[: t1 - t0].astype(cdt, copy=False)  # (C, Hkv, E)
            np.matmul(q_n, k.transpose(1, 2, 0), out=scores[:, :, t0:t1])  # (Hkv, G, C)
        scores -= scores.max(axis=-1, keepdims=True)  # the stable softmax, over all S
        # Weights below the smallest normal number (relative to the largest, 1) would be
        # subnormal, and products with subnormals are many times slower on x86; they add
        # less than S * 1.2e-38 to a sum of at least 1 in float32: set them to exactly 0.
        scores[scores < underflow] = -np.inf
        probs = np.exp(scores, out=scores)  # (Hkv, G, S), unnormalised
        acc = np.zeros((Hkv, G, Ev), dtype=cdt)
        for b0 in range(0, len(ids), chunk_blocks):
            t0 = b0 * block_size
            t1 = min(S, t0 + chunk_blocks * block_size)
            v = v_pool.take(ids[b0 : b0 + chunk_blocks], axis=0)  # (nb, block_size, Hkv, Ev)
            v = v.reshape(-1, Hkv, Ev)[: t1 - t0].astype(cdt, copy=False)  # (C, Hkv, Ev)
            acc += probs[:, :, t0:t1] @ v.transpose(1, 0, 2)  # (Hkv, G, Ev)
        acc /= probs.sum(axis=-1, keepdims=True)
        out[n] = acc.reshape(H, Ev)  # (H, Ev): head h = g * G + i, kv head g
    return out.astype(out_dtype, copy=False)
