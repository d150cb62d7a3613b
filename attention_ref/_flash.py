r"""Flash attention: the same output as scaled dot-product attention, without the L × S matrix.

The online softmax (Milakov and Gimelshein, 2018) computes $\operatorname{softmax}(s) V$ in one
pass over the keys, block by block, keeping per query row only a running maximum `m`, a
running sum `l` and a running weighted sum of values `acc`; FlashAttention (Dao et al., 2022;
Dao, 2023) tiles attention that way so the $L \times S$ scores never exist at once.

Two implementations live here, side by side (as JAX's Pallas kernel ships `mha_reference`):

- `online_softmax_attention`, the algorithm as the papers write it, for one head, to be read;
- `flash_head`, the kernel `flash_attention` runs: the same recurrence over tiles of
  queries and keys, arranged for NumPy's speed (see its docstring). The tests check both
  against `scaled_dot_product_attention`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_positive, check_qkv
from ._sdpa import LOG2E, broadcast_heads, head_slices, prepare

#: Lazy rescaling threshold, in base-2 units of the scores. `flash_head` moves its shift `m`
#: (and rescales `acc` and `l`) only when a tile's maximum exceeds it by more than `TAU`, so
#: the exponentials stay below $2^{16} = 65536$: far from overflow even in float32 (a sum of
#: them would need $2^{112}$ keys to overflow), and with no loss of precision, since floating
#: point is relative. The exact running maximum of the papers is `TAU = 0`. The threshold is
#: also what lets the Cauchy-Schwarz bound skip looking for the maximum: with standard-normal
#: queries and keys of size 64 the bound overshoots the true maximum by about 10.
TAU = 16.0

#: Query rows per tile of `flash_head`: about `TILE_SCORES` scores per tile, i.e. a tile of
#: `TILE_SCORES // block_size` queries by `block_size` keys (2 MiB in float32): tall enough
#: that BLAS runs near its peak and the Python loop costs little next to the products, small
#: enough to stay in cache. Under `is_causal` the tiles have `CAUSAL_ROWS` query rows, so that
#: the tiles above the diagonal (about half of them) are skipped.
TILE_SCORES = 2**19
CAUSAL_ROWS = 512


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


def flash_head(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None,
    is_causal: bool,
    scale: float,
    block_size: int,
    out: np.ndarray,
    lse: np.ndarray,
) -> None:
    r"""The kernel of `flash_attention` for one head; writes `out` (L, Ev) and `lse` (L,).

    The recurrence of `online_softmax_attention`, over tiles of `Bq` queries by `block_size`
    keys, with the work arranged for NumPy (the dtype of `out` is the compute dtype):

    - **The largest dimension first.** A tile of scores is `Bq` queries by `block_size` keys
      with `Bq` large (thousands of rows): the shape BLAS multiplies fastest.
    - **Base 2.** The scores are kept in units of $\log_2 e$ (folded into the scale), so
      `m` and `acc` use `exp2`, twice as fast as `exp` in float32 (as FlashAttention-2 does).
    - **The shift rides in the product.** The query tile carries an extra column $-m_i$ and
      the key tile a column of ones, so one matrix product gives $c\, q_i \cdot k_j - m_i$
      directly; no subtraction pass.
    - **`l` rides in the product too**: the value tile carries a column of ones, so
      $P [V, 1]$ accumulates `acc` and `l` together (`acc_l`, the last column being `l`).
    - **Lazy rescaling.** `m` is moved only when a tile's maximum exceeds it by more than
      `TAU`; until then the exponentials are at most $2^{TAU}$, and the rescaling of `acc` and
      `l` is skipped. The result is the same (any shift cancels in $\tilde{O} / \ell$); the
      shift stays within `TAU` below the running maximum, so nothing underflows that the
      exact recurrence would keep. A tile does not even look for its maximum when the
      Cauchy-Schwarz bound $|c|\,\lVert q_i \rVert \max_j \lVert k_j \rVert$ shows that no
      score can pass $m_i + \text{TAU}$ (finding the maximum of short rows is slow in NumPy).
    - **Masked tiles are skipped**: under `is_causal` the tiles entirely above the diagonal,
      and with a boolean mask the tiles with no True entry.

    Memory: the tile (`block_size` $\times$ `Bq`) and three `(Bq, E + 1)`-sized buffers, with
    `Bq` $\le L$: $O(L \times \text{block\_size})$, in the compute dtype.
    """
    L, E = q.shape
    S, Ev = v.shape
    dt = out.dtype
    Bk = max(1, min(block_size, S))
    Bq = max(1, min(L, max(Bk, (CAUSAL_ROWS if is_causal else TILE_SCORES // Bk))))
    c = dt.type(scale * LOG2E)  # scores in base-2 units
    q1 = np.empty((Bq, E + 1), dtype=dt)  # [c q_i, -m_i]
    k1 = np.ones((Bk, E + 1), dtype=dt)  # [k_j, 1]
    v1 = np.ones((Bk, Ev + 1), dtype=dt)  # [v_j, 1]
    tile = np.empty(Bq * Bk, dtype=dt)  # the tile of scores
    tmp = np.empty((Bq, Ev + 1), dtype=dt)
    acc_l = np.empty((Bq, Ev + 1), dtype=dt)  # [acc_i, l_i]
    rows = np.arange(Bq)
    # Cauchy-Schwarz: c q_i . k_j <= |c| |q_i| |k_j|, a bound on every score of row i that
    # lets a tile skip the search for its maximum when no score can pass m_i + TAU.
    k_norm = np.sqrt(np.einsum("se,se->s", k, k, dtype=dt))  # (S,)

    for i0 in range(0, L, Bq):
        i1 = min(i0 + Bq, L)
        n = i1 - i0
        q_t = q1[:n]
        np.multiply(q[i0:i1], c, out=q_t[:, :E])
        q_t[:, E] = 0.0  # the shift -m_i; 0 while m_i = -inf (no key seen yet)
        q_bound = np.sqrt(np.einsum("ie,ie->i", q_t[:, :E], q_t[:, :E]))  # (n,) |c q_i|
        m = np.full(n, -np.inf, dtype=dt)  # m_i (base 2); FlashAttention-2: m_i^(j)
        acc = acc_l[:n]  # acc[:, :Ev] = O~_i^(j), acc[:, Ev] = l_i^(j)
        acc.fill(0.0)
        S1 = min(S, i1) if is_causal else S  # under is_causal, keys >= i1 are all masked
        for j0 in range(0, S1, Bk):
            j1 = min(j0 + Bk, S1)
            b = j1 - j0
            tile_mask = None if mask is None else mask[i0:i1, j0:j1]  # (n, b)
            if tile_mask is not None and tile_mask.dtype == np.bool_ and not tile_mask.any():
                continue  # nothing to attend to in this tile
            k_t, v_t = k1[:b], v1[:b]
            k_t[:, :E] = k[j0:j1]
            v_t[:, :Ev] = v[j0:j1]
            s = tile[: n * b].reshape(n, b)
            np.matmul(q_t, k_t.T, out=s)  # s[i, j] = c q_i . k_j - m_i
            if is_causal and j1 - 1 > i0:  # the diagonal: key j0 + j after query i0 + i,
                r = min(n, j1 - 1 - i0)  # which only the first r queries of the tile have
                hidden = np.tri(r, b, i0 - j0, dtype=bool)  # visible: j0 + j <= i0 + i
                np.copyto(s[:r], -np.inf, where=np.logical_not(hidden, out=hidden))
            elif tile_mask is not None and tile_mask.dtype == np.bool_:
                np.copyto(s, -np.inf, where=~tile_mask)
            elif tile_mask is not None:
                s += tile_mask * dt.type(LOG2E)  # the float mask, in base-2 units

            # Lazy rescaling: is any score more than TAU above the shift? Not if the bound
            # says so (every row already has a finite m_i, no float mask raises the scores);
            # else look: d_i is how far row i's max is above its shift. (Gathering at argmax
            # is faster than max along rows this short, and keeps NaN: argmax finds it.)
            if tile_mask is not None and tile_mask.dtype != np.bool_:
                bounded = False
            else:
                bounded = bool(np.all(q_bound * k_norm[j0:j1].max() - m <= TAU))
            if not bounded:
                d = s[rows[:n], np.argmax(s, axis=1)]
                grow = (d > TAU) | ((m == -np.inf) & (d > -np.inf))
            if not bounded and grow.any():  # move the shift up, rescale what was summed
                shift = np.where(grow, d, 0.0).astype(dt, copy=False)
                s -= shift[:, None]
                seen = m != -np.inf  # rows with nothing summed yet have acc = 0: leave them
                acc *= np.exp2(-shift, out=np.zeros(n, dtype=dt), where=seen)[:, None]
                m = np.where(grow, np.where(m == -np.inf, 0.0, m) + shift, m).astype(dt)
                q_t[:, E] = -np.where(m == -np.inf, 0.0, m)
            np.exp2(s, out=s)  # P~_i^(j) = exp(S_i^(j) - m_i), in base 2
            np.matmul(s, v_t, out=tmp[:n])  # [P~ V, rowsum P~]
            acc += tmp[:n]

        l = acc[:, Ev]  # l_i, the papers' name  # noqa: E741
        np.divide(acc[:, :Ev], np.where(l == 0.0, 1.0, l)[:, None], out=out[i0:i1])
        # logsumexp of the scaled scores: ln 2 * (m + log2 l); -inf for a fully masked row
        lse_t = np.log2(l, out=np.full(n, -np.inf, dtype=dt), where=l > 0.0)
        np.multiply(m + lse_t, dt.type(1.0 / LOG2E), out=lse[i0:i1])


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
    The kernel (`flash_head` in `attention_ref._flash`) tiles queries as well as keys, stores
    the state under the papers' names (`m`, `l`, `acc`) and makes a few choices for speed:
    scores in base 2 (`exp2`), the shift $-m_i$ folded into the matrix product, and lazy
    rescaling (the shift moves only when a block's maximum exceeds it by more than `TAU` = 16
    in base-2 units, so no exponential exceeds $2^{16}$). None
    of these change the result beyond float rounding. `online_softmax_attention` in the same
    module is the recurrence written plainly.

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
    q, k, v, mask, scale, group, out_dtype = prepare(
        query, key, value, attn_mask, is_causal, scale, enable_gqa
    )
    block_size = check_positive(block_size, "block_size")
    scores_shape = check_qkv(q, k, v, group > 1)[0]  # (..., H, L, S); the inputs are checked
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    qh, kh, vh, mh = broadcast_heads(q, k, v, mask, scores_shape, group)
    out = np.empty((*scores_shape[:-1], v.shape[-1]), dtype=q.dtype)  # (..., H, L, Ev)
    lse = np.empty(scores_shape[:-1], dtype=q.dtype)  # (..., H, L)
    for idx, kv in head_slices(scores_shape, group):
        head_mask = None if mh is None else mh[idx]
        args = (head_mask, bool(is_causal), scale, block_size)
        flash_head(qh[idx], kh[kv], vh[kv], *args, out[idx], lse[idx])
    out = out.astype(out_dtype, copy=False)
    if return_lse:
        return out, lse.astype(out_dtype, copy=False)
    return out
