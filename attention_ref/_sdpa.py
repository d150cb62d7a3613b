r"""Scaled dot-product attention: the formula of Vaswani et al. (2017), with masks and GQA.

Two implementations of the same formula (as nanoGPT keeps its "manual" attention beside the
fused one):

- `attend`, the plain one, here: every score of every head in one array, the stable softmax
  in place, one matrix product. It is the definition, written to be read, and the one that
  returns the weights (`MultiHeadAttention` uses it too).
- the tiled one, `attention_ref._tiles.forward`, used by `scaled_dot_product_attention`
  when the weights are not asked for and the problem is large enough to pay for it: one head
  and one tile of `BLOCK_Q` queries by `BLOCK_K` keys at a time, the exponential in base 2
  in one reused buffer, the row sums read off the same product as the output (see
  `_tiles.py`). The tests run both under the same oracles.

`_sdpa` chooses between them; tests pass it the path and the tile sizes.
"""

from __future__ import annotations

import math
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from . import _tiles
from ._checks import Prepared, prepare
from ._masks import apply_mask_, causal_mask
from ._softmax import softmax_

#: Queries by keys per tile of the tiled path, in float32: one tile of scores, 1 MiB, reused
#: for every tile and head (float64 halves `BLOCK_Q`, for the same 1 MiB). Half of the 2 MiB
#: of L2 cache per core of the machines measured: with 2048 by 256 tiles (2 MiB) the product
#: with [V, 1] ran up to 1.7 times slower, its tile no longer in cache. The history of the
#: measurements is in benchmarks/README.md.
BLOCK_Q = 1024
BLOCK_K = 256

#: Tiles of `BLOCK_Q_LARGE` by `BLOCK_K_LARGE` (4 MiB in float32) when the scores may spread
#: over more than `LARGE_REACH` doublings (`tile_sizes`): queries and keys a few times
#: standard normal, where rows move their shifts (`_tiles._move_shift`) in most tiles. That
#: work is a dozen NumPy calls on small arrays per tile, which hold the GIL, so the engine's
#: threads wait on each other; four times fewer tiles wait four times less. Measured at
#: L = S = 4096, float32, 8 heads on 2 threads, inputs 10 times standard normal: 203 against
#: 256 ms (causal: 141 against 160 ms); on standard-normal inputs the small tiles stay the
#: faster (171 against 176 ms; one thread, CPU time: 78.6 against 85.6 ms).
BLOCK_Q_LARGE = 2048
BLOCK_K_LARGE = 512
LARGE_REACH = 60.0

#: `scaled_dot_product_attention` takes the tiled path when one head has at least this many
#: scores ($L \times S$) and the weights are not asked for. Below it, the Python loop over
#: heads and tiles costs more than it saves, and the plain vectorised path is as fast.
FAST_MIN_SCORES = 256 * 256


def attend(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    group: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """The computation, on arguments already checked and cast to the compute dtype.

    query (..., H, L, E), key (..., Hkv, S, E), value (..., Hkv, S, Ev), mask broadcastable to
    (..., H, L, S), group G = H // Hkv (1: no grouping, heads broadcast as leading dims),
    scale None meaning 1/sqrt(E). Returns out (..., H, L, Ev) and probs (..., H, L, S), in
    the compute dtype.
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


def choose_path(L: int, S: int, *, return_weights: bool = False) -> Literal["plain", "tiled"]:
    """The path for one head of `L` queries by `S` keys: the one place that decides.

    Tiled when the weights are not asked for and `L * S >= FAST_MIN_SCORES`; else plain.
    `sdpa_backward` decides the same way.
    """
    return "tiled" if not return_weights and L * S >= FAST_MIN_SCORES else "plain"


def tile_sizes(p: Prepared, masks: _tiles.TileMasks) -> tuple[int, int]:
    r"""Queries and keys per tile of the tiled path for a prepared call and its masks.

    `BLOCK_Q` by `BLOCK_K`, or `BLOCK_Q_LARGE` by `BLOCK_K_LARGE` when the Cauchy-Schwarz
    bound $|c| \max_i \lVert q_i \rVert \max_j \lVert k_j \rVert$ on the scores (base 2,
    $c = \text{scale} \cdot \log_2 e$; one pass over the queries and keys), plus what a
    float mask's finite entries may add, passes `LARGE_REACH`: standard-normal inputs
    (E = 64) reach about 20, three times that about 180. Float64 takes half the queries,
    for the same bytes.
    """
    q_norm = float(np.sqrt(np.max(np.einsum("...e,...e->...", p.q, p.q), initial=0.0)))
    k_norm = float(np.sqrt(np.max(np.einsum("...e,...e->...", p.k, p.k), initial=0.0)))
    reach = abs(p.scale) * _tiles.LOG2E * q_norm * k_norm
    ends = [abs(b) for b in (masks.bias_min, masks.bias_max) if math.isfinite(b)]
    if ends:  # a float mask's bounds (bias_min is -inf when some entry hides its score)
        reach += max(ends) * _tiles.LOG2E
    large = not reach <= LARGE_REACH  # NaN or inf: large
    block_q, block_k = (BLOCK_Q_LARGE, BLOCK_K_LARGE) if large else (BLOCK_Q, BLOCK_K)
    return block_q * 4 // p.q.dtype.itemsize, block_k


def _sdpa(
    p: Prepared,
    *,
    return_weights: bool = False,
    path: Literal["plain", "tiled"] | None = None,
    block_q: int | None = None,
    block_k: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Choose the path and run it: out `(..., H, L, Ev)` and the weights or None.

    `path=None` chooses: the tiled path for large problems without weights, else the plain
    one. Tile sizes left None are `tile_sizes`'s. Both results are in the compute dtype.
    """
    if path is None:
        path = choose_path(*p.scores_shape[-2:], return_weights=return_weights)
    if path == "tiled":
        if return_weights:
            raise ValueError("the tiled path does not compute the weights")
        masks = _tiles.tile_masks(p)
        if block_q is None or block_k is None:
            default_q, default_k = tile_sizes(p, masks)
            block_q = default_q if block_q is None else block_q
            block_k = default_k if block_k is None else block_k
        return _tiles.forward(p, masks, block_q=block_q, block_k=block_k)[0], None
    with np.errstate(invalid="ignore"):  # inf in the inputs: NaN propagates, as documented
        out, probs = attend(
            p.q, p.k, p.v, mask=p.mask, is_causal=p.is_causal, scale=p.scale, group=p.group
        )
    return out, broadcast_weights(probs, out) if return_weights else None


@overload
def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    enable_gqa: bool = ...,
    return_weights: Literal[False] = ...,
) -> np.ndarray: ...


@overload
def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    enable_gqa: bool = ...,
    *,
    return_weights: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def scaled_dot_product_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    attn_mask: ArrayLike | None = ...,
    is_causal: bool = ...,
    scale: float | None = ...,
    enable_gqa: bool = ...,
    return_weights: bool = ...,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]: ...


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
    p = prepare(query, key, value, attn_mask, is_causal, scale, enable_gqa)
    out, weights = _sdpa(p, return_weights=bool(return_weights))
    if weights is not None:
        return out.astype(p.out_dtype, copy=False), weights.astype(p.out_dtype, copy=False)
    return out.astype(p.out_dtype, copy=False)
