r"""The backward pass of scaled dot-product attention: its exact vector-Jacobian product.

Two implementations of the same formulas, side by side, as in `_sdpa.py`:

- `backward_plain`: the derivation written out over whole arrays, to be read;
- `backward_rows`: one head and one block of query rows at a time, in two reused
  buffers, used by `sdpa_backward` for large inputs. The tests check one against the other.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, check_qkv, compute_dtype
from ._sdpa import (
    FAST_MIN_SCORES,
    LOG2E,
    attend,
    broadcast_heads,
    head_slices,
    prepare,
)

#: Query rows per block in `backward_rows`: two buffers of $S \times$ `BACKWARD_ROWS` scores
#: (the probabilities and their gradient), 2 MiB each in float32 at $S = 1024$.
BACKWARD_ROWS = 512


def sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the dims that broadcasting added to an input of shape `shape`.

    The gradient of a broadcast input is the sum of the gradients of its copies: over the
    leading dims it lacked, and over the dims where it had size 1.
    """
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


def fold_groups(grad: np.ndarray, group: int) -> np.ndarray:
    """`(..., H, S, E)` to `(..., Hkv, S, E)`: sum the `G` query heads sharing a kv head."""
    if group == 1:
        return grad
    H, S, E = grad.shape[-3:]
    return grad.reshape(*grad.shape[:-3], H // group, group, S, E).sum(axis=-3)


def backward_plain(
    d_out: np.ndarray,
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None,
    is_causal: bool,
    scale: float | None,
    group: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vector-Jacobian product over whole arrays, on checked arguments (compute dtype).

    d_out (..., H, L, Ev), query (..., H, L, E), key (..., Hkv, S, E), value (..., Hkv, S,
    Ev). Returns d_q, d_k, d_v of the shapes of query, key and value.
    """
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    out, probs = attend(query, key, value, mask, is_causal, scale, group)  # recompute
    k = np.repeat(key, group, axis=-3) if group > 1 else key  # (..., H, S, E)
    v = np.repeat(value, group, axis=-3) if group > 1 else value  # (..., H, S, Ev)

    d_v = np.swapaxes(probs, -1, -2) @ d_out  # (..., H, S, Ev): P^T dO
    d_probs = d_out @ np.swapaxes(v, -1, -2)  # (..., H, L, S): dO V^T
    delta = np.sum(d_out * out, axis=-1, keepdims=True)  # (..., H, L, 1): rowsum(dO * O)
    d_scores = probs * (d_probs - delta)  # (..., H, L, S): P * (dP - delta)
    d_q = scale * (d_scores @ k)  # (..., H, L, E)
    d_k = scale * (np.swapaxes(d_scores, -1, -2) @ query)  # (..., H, S, E)

    return (
        sum_to_shape(d_q, query.shape),
        sum_to_shape(fold_groups(d_k, group), key.shape),
        sum_to_shape(fold_groups(d_v, group), value.shape),
    )


def backward_rows(
    d_out: np.ndarray,
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None,
    is_causal: bool,
    scale: float,
    d_q: np.ndarray,
    d_k: np.ndarray,
    d_v: np.ndarray,
    rows_block: int | None = None,
) -> None:
    r"""The backward pass for one head, a block of query rows at a time.

    d_out (L, Ev), q (L, E), k (S, E), v (S, Ev), mask (L, S) or None. Writes `d_q` (L, E)
    and adds this head's contribution to `d_k` (S, E) and `d_v` (S, Ev) (kv heads shared
    under GQA accumulate). All in the compute dtype.

    The forward block is recomputed as in `attend_rows` (keys by queries, base 2, the
    unnormalised $p_{ij} = e^{s_{ij} - m_i}$ and $\ell_i$ from one product with $[V, 1]$).
    The normalisation is never applied to the $S \times n$ block: with $g_i = dO_i / \ell_i$
    and $\delta_i' = \delta_i / \ell_i$,
    $\partial s_{ij} = p_{ij}\,(g_i \cdot v_j - \delta_i')$ and $dV = p^\top g$.
    """
    L, E = q.shape
    S, Ev = v.shape
    dt = d_q.dtype
    c = dt.type(scale * LOG2E)
    v1 = np.empty((S, Ev + 1), dtype=dt)  # [V, 1]
    v1[:, :Ev] = v
    v1[:, Ev] = 1.0
    Bq = max(1, min(L, BACKWARD_ROWS if rows_block is None else rows_block))
    q_blk = np.empty((Bq, E), dtype=dt)
    buf_p = np.empty(S * Bq, dtype=dt)  # p, keys by queries
    buf_dp = np.empty(S * Bq, dtype=dt)  # dp, then the gradient of the scores

    for i0 in range(0, L, Bq):
        i1 = min(i0 + Bq, L)
        n = i1 - i0
        S1 = min(S, i1) if is_causal else S  # keys this block can see
        p = buf_p[: S1 * n].reshape(S1, n)
        np.multiply(q[i0:i1], c, out=q_blk[:n])
        np.matmul(k[:S1], q_blk[:n].T, out=p)  # p[j, i] = c k_j . q_i
        if is_causal and S1 - 1 > i0:
            np.copyto(p[i0:S1], -np.inf, where=np.tri(S1 - i0, n, -1, dtype=bool))
        elif mask is not None and mask.dtype == np.bool_:
            np.copyto(p, -np.inf, where=~mask[i0:i1].T)
        elif mask is not None:
            p += mask[i0:i1].T * dt.type(LOG2E)
        m = np.max(p, axis=0)  # (n,)
        m[m == -np.inf] = 0.0  # fully masked rows: p = 0, every gradient 0
        p -= m
        np.exp2(p, out=p)  # p_ij = exp(s_ij - m_i), unnormalised
        o = np.matmul(p.T, v1[:S1])  # (n, Ev + 1): [sum_j p_ij v_j, l_i]
        row_sum = o[:, Ev]  # (n,) l_i
        row_sum[row_sum == 0.0] = 1.0  # fully masked rows: p = 0 already
        g = d_out[i0:i1] / row_sum[:, None]  # (n, Ev): dO_i / l_i
        out = o[:, :Ev] / row_sum[:, None]  # (n, Ev): O_i
        delta = np.einsum("ie,ie->i", d_out[i0:i1], out) / row_sum  # (n,): rowsum(dO * O) / l_i

        dp = buf_dp[: S1 * n].reshape(S1, n)
        np.matmul(v[:S1], g.T, out=dp)  # dp[j, i] = v_j . dO_i / l_i
        dp -= delta
        dp *= p  # the gradient of the scores s_ij (transposed): P * (dP - delta)
        np.matmul(dp.T, k[:S1], out=d_q[i0:i1])
        d_q[i0:i1] *= dt.type(scale)
        d_k[:S1] += (dp @ q[i0:i1]) * dt.type(scale)
        d_v[:S1] += p @ g


def sdpa_backward(
    grad_output: ArrayLike,
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The gradients of `scaled_dot_product_attention` with respect to query, key and value.

    The exact vector-Jacobian product: given $dO = \partial \mathcal{L} / \partial O$ for
    $O = P V$, $P = \operatorname{softmax}(S)$, $S = c\, Q K^\top + M$ (with $c$ the scale),

    $$dV = P^\top dO, \qquad dP = dO\, V^\top, \qquad
    \delta_i = \sum_e dO_{ie}\, O_{ie},$$
    $$dS = P \circ (dP - \delta \mathbf{1}^\top), \qquad
    dQ = c\, dS\, K, \qquad dK = c\, dS^\top Q .$$

    $\delta_i = \sum_j P_{ij}\, dP_{ij}$ comes from the softmax's Jacobian
    $\partial P_{ij} / \partial S_{ik} = P_{ij}(\mathbb{1}_{j=k} - P_{ik})$; computing it as
    $\operatorname{rowsum}(dO \circ O)$ costs $L \times E_v$ instead of $L \times S$
    (FlashAttention-2's $D_i$).

    Shapes:
        `B` batch (any leading dims `...`, broadcast), `H` query heads, `Hkv` key/value heads,
        `L` query length, `S` key/value length, `E` query/key head size, `Ev` value head size.

    Parameters
    ----------
    grad_output : array_like of shape (..., H, L, Ev)
        $\partial \mathcal{L} / \partial O$: exactly the shape of the attention output.
    query : array_like of shape (..., L, E)
        The queries, as in `scaled_dot_product_attention`.
    key : array_like of shape (..., S, E)
        The keys; `(B, Hkv, S, E)` with `enable_gqa=True`.
    value : array_like of shape (..., S, Ev)
        The values; `(B, Hkv, S, Ev)` with `enable_gqa=True`.
    attn_mask : array_like of bool or float, optional
        As in `scaled_dot_product_attention` (bool: True = may attend; float: added).
    is_causal : bool, default False
        The top-left causal mask; cannot be combined with `attn_mask`.
    scale : float, optional
        The factor $c$ multiplying $Q K^\top$; `None` means $1/\sqrt{E}$.
    enable_gqa : bool, default False
        Grouped-query attention, as in `scaled_dot_product_attention`.

    Returns
    -------
    grad_query : ndarray of shape (..., L, E)
        $dQ$, the shape of `query`.
    grad_key : ndarray of shape (..., S, E)
        $dK$, the shape of `key`: a broadcast input gets the sum over its copies, and under
        `enable_gqa` a kv head gets the sum over the `G` query heads that read it.
    grad_value : ndarray of shape (..., S, Ev)
        $dV$, the shape of `value`, summed in the same way.

        All three have dtype `np.result_type(grad_output, query, key, value)`. A fully
        masked query row contributes zero to every gradient. No gradient is returned for
        `attn_mask` (a float mask's would be $dS$).

    Raises
    ------
    TypeError
        As `scaled_dot_product_attention`, or if `grad_output` is not float16/32/64.
    ValueError
        As `scaled_dot_product_attention`, or if `grad_output` does not have the output's
        shape.

    See Also
    --------
    scaled_dot_product_attention : the forward pass.
    flash_attention : its `return_lse` is what a tiled backward pass would start from.

    Notes
    -----
    The forward pass is recomputed (nothing is cached between calls). For large inputs it
    runs one head and one block of query rows at a time in two reused buffers, never
    normalising the $S \times L$ block (the $1/\ell_i$ goes on $dO$ and $\delta$ instead).

    References
    ----------
    [Vaswani et al. (2017). Attention Is All You Need.](https://arxiv.org/abs/1706.03762)
    [Dao (2023). FlashAttention-2: Faster Attention with Better Parallelism and Work
    Partitioning, section 3.1.2.](https://arxiv.org/abs/2307.08691)

    Examples
    --------
    With a single key the output is `v[0]` whatever the query, so the query and the key get
    no gradient and the value gets the sum of `grad_output` over the queries:

    >>> import numpy as np
    >>> from attention_ref import sdpa_backward
    >>> q = np.array([[1.0, 2.0], [3.0, -1.0]]); k = np.array([[0.5, 0.5]])
    >>> v = np.array([[4.0, 5.0]]); d_out = np.array([[1.0, 0.0], [2.0, 3.0]])
    >>> d_q, d_k, d_v = sdpa_backward(d_out, q, k, v)
    >>> d_q.tolist(), d_k.tolist(), d_v.tolist()
    ([[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0]], [[3.0, 3.0]])

    With equal scores the weights are uniform, $dV = P^\top dO$ splits each row of
    `grad_output` equally between the keys:

    >>> q = np.zeros((1, 2)); k = np.ones((2, 2)); v = np.array([[1.0], [3.0]])
    >>> sdpa_backward(np.array([[1.0]]), q, k, v)[2].tolist()
    [[0.5], [0.5]]
    """
    q, k, v, mask, scale, group, out_dtype = prepare(
        query, key, value, attn_mask, is_causal, scale, enable_gqa
    )
    d_out = as_float_array(grad_output, "grad_output")
    scores_shape = check_qkv(q, k, v, group > 1)[0]  # (..., H, L, S); the inputs are checked
    out_shape = (*scores_shape[:-1], v.shape[-1])
    if d_out.shape != out_shape:
        raise ValueError(
            f"grad_output must have the shape of the attention output (..., H, L, Ev) = "
            f"{out_shape} (from query {q.shape}, key {k.shape}, value {v.shape}), "
            f"got shape {d_out.shape}"
        )
    out_dtype = np.result_type(out_dtype, d_out)
    cdt = compute_dtype(out_dtype)
    d_out, q, k, v = (a.astype(cdt, copy=False) for a in (d_out, q, k, v))
    L, S = scores_shape[-2:]

    if L * S < FAST_MIN_SCORES:
        grads = backward_plain(d_out, q, k, v, mask, bool(is_causal), scale, group)
    else:
        grads = _backward_fast(d_out, q, k, v, mask, bool(is_causal), scale, group, scores_shape)
    return tuple(g.astype(out_dtype, copy=False) for g in grads)  # type: ignore[return-value]


def _backward_fast(
    d_out: np.ndarray,
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    mask: np.ndarray | None,
    is_causal: bool,
    scale: float | None,
    group: int,
    scores_shape: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`backward_plain`'s result, one head at a time with `backward_rows`."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    q, k, v, m = broadcast_heads(query, key, value, mask, scores_shape, group)
    d_q = np.empty(q.shape, dtype=query.dtype)  # (..., H, L, E)
    d_k = np.zeros(k.shape, dtype=query.dtype)  # (..., Hkv, S, E), summed over groups
    d_v = np.zeros(v.shape, dtype=query.dtype)  # (..., Hkv, S, Ev)
    for idx, kv in head_slices(scores_shape, group):
        head_mask = None if m is None else m[idx]
        inputs = (d_out[idx], q[idx], k[kv], v[kv], head_mask, is_causal, scale)
        backward_rows(*inputs, d_q[idx], d_k[kv], d_v[kv])
    return (
        sum_to_shape(d_q, query.shape),
        sum_to_shape(d_k, key.shape),
        sum_to_shape(d_v, value.shape),
    )
