r"""Flash attention: the same output as scaled dot-product attention, without the L × S matrix.

The online softmax (Milakov and Gimelshein, 2018) computes $\operatorname{softmax}(s) V$ in one
pass over the keys, block by block, keeping per query row only a running maximum `m`, a
running sum `l` and a running weighted sum of values `acc`; FlashAttention (Dao et al., 2022;
Dao, 2023) tiles attention that way so the $L \times S$ scores never exist at once.

Two implementations live here, side by side (as JAX's Pallas kernel ships `mha_reference`):

- `online_softmax_attention`, the algorithm as the papers write it, for one head, to be read;
- the tile engine of `attention_ref._tiles`, which `flash_attention` runs with tiles of
  `block_size` keys: the same recurrence over tiles of queries and keys, arranged for
  NumPy's speed (see its docstring), shared with `scaled_dot_product_attention` and
  `sdpa_backward`. The tests run both under the same oracles.
"""

from __future__ import annotations

import math
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from . import _tiles
from ._checks import Prepared, check_positive, prepare

#: Query rows per tile: about `TILE_SCORES` scores per tile, i.e. `TILE_SCORES // block_size`
#: queries by `block_size` keys (2 MiB in float32): tall enough that BLAS runs near its peak
#: and the Python loop costs little next to the products, small enough to stay in cache.
#: Under `is_causal` too: the engine leaves out of each tile the queries that come before
#: all of its keys, so tall tiles waste only the triangle on the diagonal. (Tiles of 512
#: query rows, used before, were 1.4 times slower at L = S = 4096, float32, 8 heads: 200
#: against 140 ms; at 10 times standard-normal inputs 356 against 198 ms.)
TILE_SCORES = 2**19


def online_softmax_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    block_size: int = 128,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The online-softmax forward pass for one head, written as the papers write it.

    FlashAttention-2's Algorithm 1 with all queries in one block: one pass over the keys,
    `block_size` at a time. Per query row $i$ it keeps

    | here | paper | meaning |
    |---|---|---|
    | `m[i]` | $m_i^{(j)}$ | the largest score of row $i$ seen so far |
    | `l[i]` | $\ell_i^{(j)}$ | $\sum_{j' \text{ seen}} e^{s_{ij'} - m_i}$ |
    | `acc[i]` | $\tilde{O}_i^{(j)}$ | $\sum_{j' \text{ seen}} e^{s_{ij'} - m_i} v_{j'}$ |

    When a block raises the maximum from $m$ to $m'$, everything summed so far is multiplied
    by $e^{m - m'}$, so it is always relative to the current maximum. At the end
    $o_i = \tilde{O}_i / \ell_i$ and $\operatorname{logsumexp}_i = m_i + \ln \ell_i$.

    Shapes:
        q `(L, E)`, k `(S, E)`, v `(S, Ev)`, mask `(L, S)` (bool, True = may attend, or float)
        or None. Returns out `(L, Ev)` and lse `(L,)`.
    """
    L, E = q.shape
    S, Ev = v.shape
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    m = np.full(L, -np.inf, dtype=q.dtype)  # m_i: running max of row i's scores
    l = np.zeros(L, dtype=q.dtype)  # l_i: running sum of exp(s_ij - m_i)  # noqa: E741
    acc = np.zeros((L, Ev), dtype=q.dtype)  # O~_i: running sum of exp(s_ij - m_i) v_j
    for j0 in range(0, S, block_size):
        j1 = min(j0 + block_size, S)
        s = scale * (q @ k[j0:j1].T)  # (L, Bk): S_i^(j), this block's scores
        if is_causal:
            s[np.arange(L)[:, None] < np.arange(j0, j1)] = -np.inf  # key j after query i
        elif mask is not None and mask.dtype == np.bool_:
            s[~mask[:, j0:j1]] = -np.inf
        elif mask is not None:
            s += mask[:, j0:j1]
        m_new = np.maximum(m, s.max(axis=1))  # (L,): m_i^(j) = max(m_i^(j-1), rowmax S_i^(j))
        shift = np.where(m_new == -np.inf, 0.0, m_new)  # rows with no key yet: shift by 0
        p = np.exp(s - shift[:, None])  # (L, Bk): P~_i^(j) = exp(S_i^(j) - m_i^(j))
        alpha = np.exp(m - shift)  # (L,): exp(m_i^(j-1) - m_i^(j)), 0 when m was -inf
        l = alpha * l + p.sum(axis=1)  # noqa: E741
        acc = alpha[:, None] * acc + p @ v[j0:j1]
        m = m_new
    out = acc / np.where(l == 0.0, 1.0, l)[:, None]  # fully masked rows: 0 / 1 = 0
    lse = m + np.log(l, out=np.full(L, -np.inf, dtype=l.dtype), where=l > 0.0)
    return out, lse


def _flash(
    p: Prepared, *, block_size: int, block_q: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run the tile engine with `block_size` keys per tile: out and lse, compute dtype.

    `block_q` (query rows per tile) defaults to `TILE_SCORES // block_size`, causal or
    not; tests pass small ones.
    """
    if block_q is None:
        block_q = max(block_size, TILE_SCORES // block_size)
    out, lse = _tiles.forward(
        p, block_q=block_q, block_k=block_size, with_lse=True, kv_per_head=False
    )
    assert lse is not None
    return out, lse


@overload
def flash_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    enable_gqa: bool = ...,
    block_size: int = ...,
    return_lse: Literal[False] = ...,
) -> np.ndarray: ...


@overload
def flash_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    enable_gqa: bool = ...,
    block_size: int = ...,
    *,
    return_lse: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def flash_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    enable_gqa: bool = ...,
    block_size: int = ...,
    return_lse: bool = ...,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


def flash_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    block_size: int = 128,
    return_lse: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Scaled dot-product attention computed block by block, without the $L \times S$ scores.

    The same result as `scaled_dot_product_attention` (to float rounding), computed with the
    online softmax: the keys are read `block_size` at a time and each query row keeps three
    running quantities, updated per block $j$ of scores $s_{i,\cdot}^{(j)}$:

    $$m_i \leftarrow \max\bigl(m_i, \max_{j'} s_{ij'}^{(j)}\bigr), \qquad
    \ell_i \leftarrow e^{m_i^{\text{old}} - m_i}\,\ell_i + \sum_{j'} e^{s_{ij'} - m_i},$$
    $$\tilde{o}_i \leftarrow e^{m_i^{\text{old}} - m_i}\,\tilde{o}_i
    + \sum_{j'} e^{s_{ij'} - m_i}\, v_{j'}, \qquad o_i = \tilde{o}_i / \ell_i .$$

    Only a block of scores exists at any time: the extra memory is $O(L \times
    \text{block\_size})$ instead of $O(L \times S)$, in the input's own precision (float32
    stays float32; float16 is computed in float32, as everywhere in the package).

    Shapes:
        `B` batch (any leading dims `...`, broadcast), `H` query heads, `Hkv` key/value heads,
        `L` query length, `S` key/value length, `E` query/key head size, `Ev` value head size.

    Parameters
    ----------
    query : array_like of shape (..., L, E)
        Queries; heads, where present, at dim -3: `(B, H, L, E)`.
    key : array_like of shape (..., S, E)
        Keys; `(B, Hkv, S, E)` with `enable_gqa=True`.
    value : array_like of shape (..., S, Ev)
        Values; `(B, Hkv, S, Ev)` with `enable_gqa=True`.
    attn_mask : array_like of bool or float, optional
        Broadcastable to `(..., H, L, S)` without enlarging it. **bool: True = may attend**;
        float: added to the scaled scores. Blocks with no True entry are skipped.
    is_causal : bool, default False
        The top-left causal mask `tril(ones(L, S))`; blocks entirely above the diagonal are
        skipped. Cannot be combined with `attn_mask`.
    scale : float, optional
        The factor multiplying $Q K^\top$; `None` means $1/\sqrt{E}$.
    enable_gqa : bool, default False
        Grouped-query attention, as in `scaled_dot_product_attention`.
    block_size : int, default 128
        Keys per block; any positive integer (it need not divide `S`). Larger blocks mean
        fewer, larger matrix products and more memory.
    return_lse : bool, default False
        Also return the log-sum-exp of each row of scaled, masked scores,
        $\ln \sum_j e^{s_{ij}}$: the softmax's normaliser, what a backward pass needs to
        recompute the weights. `-inf` for a fully masked row.

    Returns
    -------
    output : ndarray of shape (..., L, Ev)
        dtype `np.result_type(query, key, value)`.
    logsumexp : ndarray of shape (..., L)
        Only when `return_lse=True`; same dtype.

    Raises
    ------
    TypeError
        As `scaled_dot_product_attention`, or if `block_size` is not an integer.
    ValueError
        As `scaled_dot_product_attention`, or if `block_size` is not positive.

    See Also
    --------
    scaled_dot_product_attention : the same output, from the full matrix of scores.
    sdpa_backward : the gradients.

    Notes
    -----
    The kernel (the tile engine, `attention_ref._tiles`, shared with
    `scaled_dot_product_attention` and `sdpa_backward`) tiles queries as well as keys, stores
    the state under the papers' names (`m`, `l`, `acc`) and makes a few choices for speed:
    scores in base 2 (`exp2`), the shift $-m_i$ folded into the matrix product, lazy
    rescaling (the shift moves only when a block's sum of terms exceeds $2^{32}$, which the
    product with $[V, 1]$ shows without searching the block for its maximum), and exponents
    clamped at $2^{-120}$ below the shift so that no term is subnormal. None of these change
    the result beyond float rounding, at any input scale. `online_softmax_attention` in the
    same module is the recurrence written plainly.

    A fully masked row gives zeros, as `scaled_dot_product_attention`; NaN and inf propagate.

    References
    ----------
    [Milakov and Gimelshein (2018). Online normalizer calculation for
    softmax.](https://arxiv.org/abs/1805.02867)
    [Dao, Fu, Ermon, Rudra and Ré (2022). FlashAttention: Fast and Memory-Efficient Exact
    Attention with IO-Awareness.](https://arxiv.org/abs/2205.14135)
    [Dao (2023). FlashAttention-2: Faster Attention with Better Parallelism and Work
    Partitioning.](https://arxiv.org/abs/2307.08691)

    Examples
    --------
    Equal scores average the values, whatever the block size; the first causal row is `v[0]`:

    >>> import numpy as np
    >>> from attention_ref import flash_attention
    >>> q, k = np.zeros((2, 2)), np.ones((3, 2))
    >>> v = np.array([[1.0], [2.0], [6.0]])
    >>> flash_attention(q, k, v, block_size=2).tolist()
    [[3.0], [3.0]]
    >>> flash_attention(q, k, v, is_causal=True, block_size=1).tolist()
    [[1.0], [1.5]]

    The log-sum-exp of three zero scores is $\ln 3$:

    >>> out, lse = flash_attention(q, k, v, return_lse=True)
    >>> bool(np.allclose(lse, np.log(3.0)))
    True

    It agrees with the full computation:

    >>> from attention_ref import scaled_dot_product_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 7, 4))
    >>> v = rng.normal(size=(2, 7, 3))
    >>> bool(np.allclose(flash_attention(q, k, v, block_size=3),
    ...                  scaled_dot_product_attention(q, k, v)))
    True
    """
    p = prepare(query, key, value, attn_mask, is_causal, scale, enable_gqa)
    out, lse = _flash(p, block_size=check_positive(block_size, "block_size"))
    if return_lse:
        return out.astype(p.out_dtype, copy=False), lse.astype(p.out_dtype, copy=False)
    return out.astype(p.out_dtype, copy=False)
