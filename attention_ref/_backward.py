r"""The backward pass of scaled dot-product attention: its exact vector-Jacobian product.

Two implementations of the same formulas, side by side, as in `_sdpa.py`:

- `backward_plain`: the derivation written out over whole arrays, to be read;
- `attention_ref._tiles.backward`: one head and one block of query rows at a time, in two
  reused buffers, with the tile engine's masking, used by `sdpa_backward` for large inputs.
  The tests run both under the same oracles.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from . import _tiles
from ._checks import Prepared, prepare
from ._sdpa import attend, choose_path

#: Query rows per block of the tiled backward pass: two buffers of $S \times$ `BLOCK_Q`
#: scores (the probabilities and their gradient), 2 MiB each in float32 at $S = 1024$.
BLOCK_Q = 512


def _sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the dims that broadcasting added to an input of shape `shape`.

    The gradient of a broadcast input is the sum of the gradients of its copies: over the
    leading dims it lacked, and over the dims where it had size 1.
    """
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


def _fold_groups(grad: np.ndarray, group: int) -> np.ndarray:
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
    *,
    mask: np.ndarray | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    group: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The vector-Jacobian product over whole arrays, on checked arguments (compute dtype).

    d_out (..., H, L, Ev), query (..., H, L, E), key (..., Hkv, S, E), value (..., Hkv, S,
    Ev). Returns d_q, d_k, d_v of the shapes of query, key and value.
    """
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    out, probs = attend(  # recompute the forward pass
        query, key, value, mask=mask, is_causal=is_causal, scale=scale, group=group
    )
    k = np.repeat(key, group, axis=-3) if group > 1 else key  # (..., H, S, E)
    v = np.repeat(value, group, axis=-3) if group > 1 else value  # (..., H, S, Ev)

    d_v = np.swapaxes(probs, -1, -2) @ d_out  # (..., H, S, Ev): P^T dO
    d_probs = d_out @ np.swapaxes(v, -1, -2)  # (..., H, L, S): dO V^T
    delta = np.sum(d_out * out, axis=-1, keepdims=True)  # (..., H, L, 1): rowsum(dO * O)
    d_scores = probs * (d_probs - delta)  # (..., H, L, S): P * (dP - delta)
    d_q = scale * (d_scores @ k)  # (..., H, L, E)
    d_k = scale * (np.swapaxes(d_scores, -1, -2) @ query)  # (..., H, S, E)

    return (
        _sum_to_shape(d_q, query.shape),
        _sum_to_shape(_fold_groups(d_k, group), key.shape),
        _sum_to_shape(_fold_groups(d_v, group), value.shape),
    )


def _backward(
    p: Prepared,
    *,
    path: Literal["plain", "tiled"] | None = None,
    block_q: int = BLOCK_Q,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Choose the path and run it: d_q, d_k, d_v of the inputs' shapes, compute dtype.

    `path=None` chooses as the forward pass does (`choose_path`).
    """
    assert p.d_out is not None
    if path is None:
        path = choose_path(*p.scores_shape[-2:])
    if path == "plain":
        with np.errstate(invalid="ignore"):  # inf in the inputs: NaN propagates (documented)
            return backward_plain(
                p.d_out,
                p.q,
                p.k,
                p.v,
                mask=p.mask,
                is_causal=p.is_causal,
                scale=p.scale,
                group=p.group,
            )
    d_q, d_k, d_v = _tiles.backward(p, block_q=block_q)
    return (
        _sum_to_shape(d_q, p.q.shape),
        _sum_to_shape(d_k, p.k.shape),
        _sum_to_shape(d_v, p.v.shape),
    )


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
    p = prepare(query, key, value, attn_mask, is_causal, scale, enable_gqa, grad_output=grad_output)
    d_q, d_k, d_v = _backward(p)
    return (
        d_q.astype(p.out_dtype, copy=False),
        d_k.astype(p.out_dtype, copy=False),
        d_v.astype(p.out_dtype, copy=False),
    )
