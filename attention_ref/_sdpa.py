r"""Scaled dot-product attention: the formula of Vaswani et al. (2017), with masks and GQA.

Two implementations of the same formula live here, side by side (as nanoGPT keeps its "manual"
attention beside the fused one):

- `attend`, the plain one: every score of every head in one array, the stable softmax in
  place, one matrix product. It is the definition, written to be read, and the one that
  returns the weights (`MultiHeadAttention` uses it too).
- `attend_fast`, the fast one, used by `scaled_dot_product_attention` when the weights are
  not asked for and the problem is large enough to pay for it: one head and one tile of
  queries by keys at a time, all the elementwise work in place in one reused score buffer,
  each row shifted by a bound on its scores that is known before they are (so the shift
  rides in the first matrix product, the only pass over the scores is the exponential, and
  the sums run over tiles of keys with nothing to rescale), the exponential taken as `exp2`
  with $\log_2 e$ folded into the scale, the row sums read off the same matrix product as
  the output, and the division applied to the $L \times E_v$ output instead of the
  $L \times S$ weights. The tests check one against the other.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike

from ._checks import (
    as_float_array,
    check_causal_args,
    check_mask,
    check_qkv,
    check_scale,
    compute_dtype,
)
from ._masks import apply_mask_, causal_mask
from ._softmax import softmax_

#: $\log_2 e = 1 / \ln 2$. The fast kernels compute $e^x$ as $2^{x \log_2 e}$ with the factor
#: folded into the query's scale, because NumPy's `exp2` is about twice as fast as its `exp` in
#: float32 (and somewhat faster in float64); FlashAttention-2's kernels do the same.
LOG2E = 1.0 / math.log(2.0)

#: Queries per block and keys per tile in `attend_rows`: one tile of scores, `ROWS_BLOCK` by
#: `KEYS_BLOCK` (2 MiB in float32, 4 MiB in float64), is reused for every tile and head.
#: Measured on 2 cores with OpenBLAS at $L = S = 4096$ and $8192$, shapes taking turns in one
#: process: tall tiles of 256 keys were the fastest (BLAS multiplies tall operands fastest,
#: and the Python loop runs few times), in float32 10 to 30% faster than blocks of 512
#: queries by all $S$ keys, with the largest gains when the machine was busy; 128 or 512
#: keys, or 1024 queries, were slower; 4096 queries were as fast in float32 and 5% slower in
#: float64.
ROWS_BLOCK = 2048
KEYS_BLOCK = 256

#: `scaled_dot_product_attention` takes the fast path when one head has at least this many
#: scores ($L \times S$) and the weights are not asked for. Below it, the Python loop over heads
#: and blocks costs more than it saves, and the plain vectorised path is as fast.
FAST_MIN_SCORES = 256 * 256

#: `attend_rows` shifts each row of scores by an upper bound rather than by its maximum. A row
#: whose sum of exponentials $\ell_i$ comes out below this is computed again the plain way: its
#: bound was so far above its maximum (more than 60 doublings) that small terms could have been
#: lost to underflow in float32. Above it, the largest term is at least $2^{-60} / S$, and every
#: term that matters next to it in float32 is a normal number.
MIN_ROW_SUM = 2.0**-60


def attend(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None,
    is_causal: bool,
    scale: float | None,
    group: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The computation, on arguments already checked and cast to the compute dtype.

    query (..., H, L, E), key (..., Hkv, S, E), value (..., Hkv, S, Ev), mask broadcastable to
    (..., H, L, S), group G = H // Hkv (1: no grouping, heads broadcast as leading dims).
    Returns out (..., H, L, Ev) and probs (..., H, L, S), in the compute dtype.
    """
    L, E = query.shape[-2:]
    S = key.shape[-2]
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    q = query * np.asarray(scale, dtype=query.dtype)  # (..., H, L, E), a new array
    if group > 1:
        H, Hkv = query.shape[-3], key.shape[-3]
        q = q.reshape(*q.shape[:-3], Hkv, group, L, E)  # (..., Hkv, G, L, E)
        key = key[..., :, None, :, :]  # (..., Hkv, 1, S, E)
        value = value[..., :, None, :, :]  # (..., Hkv, 1, S, Ev)

    scores = q @ np.swapaxes(key, -1, -2)  # (..., H, L, S) or (..., Hkv, G, L, S)
    if group > 1:
        scores = scores.reshape(*scores.shape[:-4], H, L, S)  # (..., H, L, S), a view

    if is_causal:
        mask = causal_mask(L, S)  # (L, S)
    scores = apply_mask_(scores, mask)

    probs = softmax_(scores, axis=-1)  # (..., H, L, S), in place: scores is now probs
    if group > 1:
        grouped = probs.reshape(*probs.shape[:-3], Hkv, group, L, S)  # (..., Hkv, G, L, S)
        out = grouped @ value  # (..., Hkv, G, L, Ev)
        out = out.reshape(*out.shape[:-4], H, L, out.shape[-1])  # (..., H, L, Ev)
    else:
        out = probs @ value  # (..., H, L, Ev)
    return out, probs


def broadcast_weights(probs: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Give the weights the output's leading dims (..., H, L, S).

    They differ only when `value` has leading dims that `query` and `key` lack; the weights
    are then the same for every such index, and are repeated so their shape is the
    documented one.
    """
    full = (*out.shape[:-1], probs.shape[-1])
    return probs if probs.shape == full else np.broadcast_to(probs, full).copy()


def head_slices(
    scores_shape: tuple[int, ...], group: int
) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every head of the scores `(..., H, L, S)`: yield `(idx, kv_idx)`.

    `idx` indexes the leading dims `(..., H)` of the scores (and of query, mask and output,
    broadcast to them); `kv_idx` indexes key and value broadcast to `(..., Hkv)`: the same
    index, with head `h` read from kv head `h // G` under grouped-query attention.
    """
    for idx in np.ndindex(*scores_shape[:-2]):
        yield idx, ((*idx[:-1], idx[-1] // group) if group > 1 else idx)


def broadcast_heads(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None,
    scores_shape: tuple[int, ...],
    group: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Read-only views of the inputs broadcast to the scores' leading dims, indexed per head.

    query `(..., H, L, E)` and mask `(..., H, L, S)` broadcast to `scores_shape[:-2]`; key
    and value to the same dims with `Hkv = H // G` heads. No data is copied.
    """
    lead = scores_shape[:-2]
    lead_kv = (*lead[:-1], lead[-1] // group) if group > 1 else lead
    q = np.broadcast_to(query, (*lead, *query.shape[-2:]))
    k = np.broadcast_to(key, (*lead_kv, *key.shape[-2:]))
    v = np.broadcast_to(value, (*lead_kv, *value.shape[-2:]))
    m = None if mask is None else np.broadcast_to(mask, scores_shape)
    return q, k, v, m


def attend_rows(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None,
    is_causal: bool,
    scale: float,
    out: np.ndarray,
) -> None:
    r"""The fast path for one head: q (L, E), k (S, E), v (S, Ev), mask (L, S) or None.

    Writes the attention output into `out` (L, Ev), whose dtype is the compute dtype.

    **The shift.** The softmax is unchanged by any shift $b_i$ of row $i$'s scores; the
    usual choice, $b_i = \max_j s_{ij}$, needs every score of the row before the first
    exponential (or, as in `flash_attention`, a running maximum and rescaling). Here $b_i$
    is the Cauchy-Schwarz bound $|c|\,\lVert q_i \rVert \max_j \lVert k_j \rVert$ (plus the
    row's largest float-mask entry), which is at least every score of the row and is known
    before any score is. It is carried into the product by a column:
    $[c\,q_i, -b_i] \cdot [k_j, 1] = s_{ij} - b_i \le 0$, so no exponential overflows, the
    only pass over the scores is the exponential itself, and the keys can be taken a tile
    at a time with nothing to rescale.

    **The tiles.** For a block of up to `ROWS_BLOCK` queries, the keys are taken
    `KEYS_BLOCK` at a time: one product makes the tile of scores `(n, b)`, it is masked,
    exponentiated in place (`exp2`, the scale carrying $\log_2 e$), and multiplied by the
    tile of `[V, 1]`, which gives $\sum_j p_{ij} v_j$ and the row sum
    $\ell_i = \sum_j p_{ij}$ in one product; these are summed over the tiles, and the output
    is their quotient. Under `is_causal` a tile leaves out the queries that come before all
    of its keys, and the keys after the block's last query are never read; with a boolean
    mask, a tile with no True entry is skipped.

    **The check.** An exponential could underflow if the bound were far above the row's
    maximum. A row whose sum $\ell_i$ comes out below `MIN_ROW_SUM` (also a fully masked
    row, whose sum is 0, and a row whose sum or bound is inf or NaN, from inf or NaN in the
    inputs) is computed again by the plain `attend`, which shifts by the true maximum.
    """
    L, E = q.shape
    S, Ev = v.shape
    dt = out.dtype
    c = dt.type(scale * LOG2E)  # scores in base-2 units: exp(x) = exp2(x * log2 e)
    bool_mask = mask is not None and mask.dtype == np.bool_
    float_mask = mask is not None and not bool_mask
    k1 = np.empty((S, E + 1), dtype=dt)  # (S, E + 1): [K, 1]
    k1[:, :E] = k
    k1[:, E] = 1.0
    v1 = np.empty((S, Ev + 1), dtype=dt)  # (S, Ev + 1): [V, 1]
    v1[:, :Ev] = v
    v1[:, Ev] = 1.0
    k_max = np.sqrt(np.max(np.einsum("se,se->s", k, k), initial=0.0))  # max_j |k_j|
    Bq = max(1, min(L, ROWS_BLOCK))
    Bk = max(1, min(S, KEYS_BLOCK))
    q1 = np.empty((Bq, E + 1), dtype=dt)  # (Bq, E + 1): [c q_i, -b_i] for the block
    tile = np.empty(Bq * Bk, dtype=dt)  # the one score buffer, reused for every tile
    o = np.empty((Bq, Ev + 1), dtype=dt)  # (Bq, Ev + 1): one tile's P [V, 1]
    acc = np.empty((Bq, Ev + 1), dtype=dt)  # (Bq, Ev + 1): [sum_j p_ij v_j, l_i] so far
    if mask is not None:  # scratch for a mask tile: negated bool, or float times log2 e
        scratch = np.empty(Bq * Bk, dtype=np.bool_ if bool_mask else dt)

    for i0 in range(0, L, Bq):
        i1 = min(i0 + Bq, L)
        n = i1 - i0
        q_blk = q1[:n]
        np.multiply(q[i0:i1], c, out=q_blk[:, :E])
        bound = np.sqrt(np.einsum("ie,ie->i", q_blk[:, :E], q_blk[:, :E])) * k_max  # (n,)
        if float_mask:  # a float mask can raise a score: add its largest entry in the row
            bound += np.max(mask[i0:i1], axis=1) * LOG2E
        bound[~np.isfinite(bound)] = 0.0  # from inf or NaN: the check below catches the row
        np.negative(bound, out=q_blk[:, E])
        a = acc[:n]
        a.fill(0.0)
        S1 = min(S, i1) if is_causal else S  # keys the block can see (causal: j <= i1 - 1)
        for j0 in range(0, S1, Bk):
            j1 = min(j0 + Bk, S1)
            b = j1 - j0
            r0 = max(0, j0 - i0) if is_causal else 0  # queries before key j0 see none of it
            m = n - r0
            if bool_mask and not mask[i0:i1, j0:j1].any():
                continue  # nothing to attend to in this tile
            s = tile[: m * b].reshape(m, b)  # (m, b): s[i, j], query i0 + r0 + i, key j0 + j
            np.matmul(q_blk[r0:], k1[j0:j1].T, out=s)  # s[i, j] = c q_i . k_j - b_i
            if is_causal and j1 - 1 > i0 + r0:  # the first r rows have keys after them
                r = min(m, j1 - 1 - i0 - r0)
                hidden = np.tri(r, b, i0 + r0 - j0, dtype=bool)  # visible: key <= query
                np.copyto(s[:r], -np.inf, where=np.logical_not(hidden, out=hidden))
            elif bool_mask:
                hidden = scratch[: m * b].reshape(m, b)
                np.logical_not(mask[i0:i1, j0:j1], out=hidden)
                np.copyto(s, -np.inf, where=hidden)  # False = may not attend
            elif float_mask:
                bias = scratch[: m * b].reshape(m, b)
                np.multiply(mask[i0:i1, j0:j1], dt.type(LOG2E), out=bias, casting="same_kind")
                s += bias  # the float mask, in base-2 units
            np.exp2(s, out=s)  # p_ij = exp(score_ij - b_i), in place
            np.matmul(s, v1[j0:j1], out=o[:m])
            a[r0:] += o[:m]
        row_sum = a[:, Ev]  # (n,) l_i, the row sums of p
        redo = ~(row_sum >= MIN_ROW_SUM) | (row_sum == np.inf)  # underflow, masked, inf, NaN
        row_sum[redo] = 1.0
        np.divide(a[:, :Ev], row_sum[:, None], out=out[i0:i1])
        if redo.any():  # the plain computation, shifted by each row's maximum
            rows = i0 + np.flatnonzero(redo)
            if is_causal:
                row_mask = np.arange(S) <= rows[:, None]  # (r, S): key j visible to query i
            else:
                row_mask = None if mask is None else mask[rows]  # (r, S)
            out[rows] = attend(q[rows], k, v, row_mask, False, scale, 1)[0]


def attend_fast(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None,
    is_causal: bool,
    scale: float | None,
    group: int,
) -> np.ndarray:
    """The fast path of `attend`, without the weights: the same arguments, returns out only.

    query (..., H, L, E), key (..., Hkv, S, E), value (..., Hkv, S, Ev) in the compute
    dtype; returns out (..., H, L, Ev) in the compute dtype. One head at a time, see
    `attend_rows`.
    """
    scores_shape = check_qkv(query, key, value, group > 1)[0]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    q, k, v, m = broadcast_heads(query, key, value, mask, scores_shape, group)
    out = np.empty((*scores_shape[:-1], value.shape[-1]), dtype=query.dtype)  # (..., H, L, Ev)
    for idx, kv in head_slices(scores_shape, group):
        attend_rows(q[idx], k[kv], v[kv], None if m is None else m[idx], is_causal, scale, out[idx])
    return out


def prepare(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None,
    is_causal: bool,
    scale: float | None,
    enable_gqa: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, float | None, int, np.dtype]:
    """Validate the public arguments of the attention functions; cast to the compute dtype.

    Returns query, key, value (compute dtype), the mask (or None), the scale, the group size
    and the output dtype.
    """
    q = as_float_array(query, "query")
    k = as_float_array(key, "key")
    v = as_float_array(value, "value")
    check_causal_args(attn_mask, is_causal)
    scale = check_scale(scale)
    scores_shape, group = check_qkv(q, k, v, bool(enable_gqa))
    mask = None if attn_mask is None else check_mask(attn_mask, scores_shape, "attn_mask")
    out_dtype = np.result_type(q, k, v)
    cdt = compute_dtype(out_dtype)
    q, k, v = (a.astype(cdt, copy=False) for a in (q, k, v))
    return q, k, v, mask, scale, group, out_dtype


def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    return_weights: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Scaled dot-product attention.

    $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\left(
    \frac{Q K^\top}{\sqrt{E}} + M\right) V$$

    Each query row is compared with every key by a dot product; the scores are scaled by
    $1/\sqrt{E}$ so their variance does not grow with the head size; a softmax over the keys
    turns them into weights that are non-negative and sum to 1; the output row is the
    weighted sum of the value rows. $M$ is the mask: 0 where a query may attend, $-\infty$
    where it may not (or any float you pass).

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
        Broadcastable to the scores' shape `(..., H, L, S)` without enlarging it. **bool:
        True = may attend.** float: added to the scaled scores (use `-np.inf` to forbid).
        Integer masks are refused. Axes align from the right: a `(B, S)` padding mask is
        read as `(L, S)` (silently when `B == L`); pass
        `padding_mask(lengths, S, as_attn_mask=True)`, shape `(B, 1, 1, S)`.
    is_causal : bool, default False
        Apply `causal_mask(L, S)`: query $i$ attends to keys $j \le i$, aligned top-left.
        Cannot be combined with `attn_mask`.
    scale : float, optional
        The factor multiplying $Q K^\top$; `None` means $1/\sqrt{E}$.
    enable_gqa : bool, default False
        Grouped-query attention: `key` and `value` have `Hkv` heads, `H % Hkv == 0`, and kv
        head `g` serves the `G = H // Hkv` consecutive query heads `g*G ... g*G + G - 1`
        (PyTorch's `repeat_interleave` on dim -3).
    return_weights : bool, default False
        Also return the attention weights.

    Returns
    -------
    output : ndarray of shape (..., L, Ev)
        Same dtype as `np.result_type(query, key, value)`.
    weights : ndarray of shape (..., H, L, S)
        Only when `return_weights=True`: the softmax probabilities, rows summing to 1 (or all
        zero for a fully masked row).

    Raises
    ------
    TypeError
        If an input is not float16/32/64, the mask is not bool or float, `is_causal` is not a
        bool, or `scale` is not a real number.
    ValueError
        If E of query and key differ, S of key and value differ, leading dims do not
        broadcast, the mask does not broadcast to `(..., H, L, S)`, `attn_mask` is given with
        `is_causal=True`, or with `enable_gqa=True` `H` is not a multiple of `Hkv`.

    See Also
    --------
    softmax : the normalisation used on the scores.
    causal_mask, padding_mask : the two common boolean masks.
    MultiHeadAttention : projections around this function.

    Notes
    -----
    Choices this reference makes, where the contract or PyTorch leave room:

    - A query whose keys are all masked gets an output row of **zeros** and weights of
      zeros. PyTorch's `scaled_dot_product_attention` does the same (since 2.5), but
      `torch.softmax` and `nn.MultiheadAttention` give NaN; JAX's `dot_product_attention`
      fills masked scores with a large finite negative number, so such a row gets uniform
      weights and the mean of the values.
    - NaN or inf in the inputs propagates to the output, with one exception: a score that a
      boolean mask hides is set to $-\infty$ whatever it was, so a NaN in a key that a query
      may not attend to does not reach that query's output. PyTorch 2.13's
      `scaled_dot_product_attention` adds $-\infty$ instead, and gives NaN there. A NaN in
      a hidden value row propagates in both ($0 \times \text{NaN}$).
    - float16 is computed in float32 and the result cast back, so long sums keep precision.
    - A float mask is cast to the compute dtype before it is added, so its dtype never
      changes the output dtype.
    - The scale multiplies the query before the product ($L \times E$ operations rather than
      $L \times S$); mathematically the same, different only in the last bit.

    References
    ----------
    [Vaswani et al. (2017). Attention Is All You Need, section 3.2.1.](https://arxiv.org/abs/1706.03762)
    GQA: [Ainslie et al. (2023). GQA: Training Generalized Multi-Query Transformer Models
    from Multi-Head Checkpoints.](https://arxiv.org/abs/2305.13245)

    Examples
    --------
    A single key: the output is its value, whatever the query.

    >>> import numpy as np
    >>> from attention_ref import scaled_dot_product_attention
    >>> q = np.array([[1.0, 2.0]])           # (L=1, E=2)
    >>> k = np.array([[0.5, -1.0]])          # (S=1, E=2)
    >>> v = np.array([[3.0, 4.0, 5.0]])      # (S=1, Ev=3)
    >>> scaled_dot_product_attention(q, k, v).tolist()
    [[3.0, 4.0, 5.0]]

    Equal scores average the values; the first causal row equals `v[0]`:

    >>> q, k = np.zeros((2, 2)), np.ones((2, 2))
    >>> v = np.array([[1.0, 0.0], [3.0, 2.0]])
    >>> scaled_dot_product_attention(q, k, v).tolist()
    [[2.0, 1.0], [2.0, 1.0]]
    >>> out, w = scaled_dot_product_attention(q, k, v, is_causal=True,
    ...                                       return_weights=True)
    >>> out.tolist(), w.tolist()
    ([[1.0, 0.0], [2.0, 1.0]], [[1.0, 0.0], [0.5, 0.5]])

    A boolean mask: True = may attend; a row with nothing to attend to is zeros.

    >>> mask = np.array([[True, False], [False, False]])
    >>> scaled_dot_product_attention(q, k, v, attn_mask=mask).tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    q, k, v, mask, scale, group, out_dtype = prepare(
        query, key, value, attn_mask, is_causal, scale, enable_gqa
    )
    L, S = q.shape[-2], k.shape[-2]
    if not return_weights and L * S >= FAST_MIN_SCORES:
        out = attend_fast(q, k, v, mask, bool(is_causal), scale, group)  # (..., H, L, Ev)
        return out.astype(out_dtype, copy=False)
    out, probs = attend(q, k, v, mask, bool(is_causal), scale, group)
    if return_weights:
        weights = broadcast_weights(probs, out).astype(out_dtype, copy=False)
        return out.astype(out_dtype, copy=False), weights
    return out.astype(out_dtype, copy=False)
