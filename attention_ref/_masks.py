"""Boolean masks, True = may attend: causal and padding."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_size


def causal_mask(L: int, S: int | None = None) -> np.ndarray:
    r"""The causal mask: query $i$ may attend to key $j$ exactly when $j \le i$.

    $$M_{ij} = \begin{cases} \text{True} & j \le i \\ \text{False} & j > i \end{cases}$$

    This is `tril(ones(L, S))` aligned at the top-left corner, exactly the mask PyTorch's
    `scaled_dot_product_attention(..., is_causal=True)` uses, also when $L \ne S$.

    Parameters
    ----------
    L : int
        Query length, $\ge 0$.
    S : int, optional
        Key length, $\ge 0$; defaults to `L`.

    Returns
    -------
    ndarray of bool of shape (L, S)
        True where the query may attend to the key.

    Raises
    ------
    TypeError
        If `L` or `S` is not an integer.
    ValueError
        If `L` or `S` is negative.

    See Also
    --------
    scaled_dot_product_attention : `is_causal=True` applies this mask.

    Notes
    -----
    With $L \ne S$ the alignment is a convention, and libraries differ. Top-left (this one,
    PyTorch's `is_causal`) lets query $i$ see keys $0 \dots i$. Bottom-right (FlashAttention's
    `causal=True` since version 2.1, and what a decoder with a key/value cache needs) lets query
    $i$ see keys $0 \dots i + S - L$. Write the bottom-right mask as
    `np.tril(np.ones((L, S), bool), k=S - L)`. When $L > S$ the top-left mask leaves the rows
    $i \ge S$ full, and the bottom-right one leaves the first $L - S$ rows fully masked.

    References
    ----------
    [Vaswani et al. (2017). Attention Is All You Need, section 3.2.3.](https://arxiv.org/abs/1706.03762)

    Examples
    --------
    >>> from attention_ref import causal_mask
    >>> causal_mask(3).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    >>> causal_mask(2, 4).astype(int).tolist()
    [[1, 0, 0, 0], [1, 1, 0, 0]]
    """
    L = check_size(L, "L")
    S = L if S is None else check_size(S, "S")
    return np.tril(np.ones((L, S), dtype=bool))


def padding_mask(lengths: ArrayLike, max_len: int, *, as_attn_mask: bool = False) -> np.ndarray:
    """The padding mask of a batch of sequences: True marks a real token, False a pad.

    Sequence $b$ holds `lengths[b]` real tokens followed by padding up to `max_len`.

    Parameters
    ----------
    lengths : array_like of int of shape (B,)
        The number of real tokens of each sequence, each in `[0, max_len]`.
    max_len : int
        The padded length, $\\ge 0$.
    as_attn_mask : bool, default False
        Return the mask of padded *keys* ready for `attn_mask`, of shape `(B, 1, 1, max_len)`:
        it broadcasts over the heads and queries of scores `(B, H, L, S)` with
        `S = max_len`. The default keeps the plain `(B, max_len)` array.

    Returns
    -------
    ndarray of bool of shape (B, max_len), or (B, 1, 1, max_len) with as_attn_mask=True
        `mask[b, j]` (`mask[b, 0, 0, j]`) is True when `j < lengths[b]`.

    Raises
    ------
    TypeError
        If `lengths` is not an integer array or `max_len` not an integer.
    ValueError
        If `lengths` is not 1-D, or a length is negative or larger than `max_len`.

    See Also
    --------
    scaled_dot_product_attention : takes it as `attn_mask`, broadcast over queries and heads.

    Notes
    -----
    To mask padded *keys* in attention with scores of shape `(B, H, L, S)`, pass
    `padding_mask(lengths, S, as_attn_mask=True)`, the same as
    `padding_mask(lengths, S)[:, None, None, :]` (shape `(B, 1, 1, S)`). This is the
    opposite polarity of PyTorch's `key_padding_mask` for `nn.MultiheadAttention`, where True
    means *ignore*.

    **Do not pass the `(B, S)` array itself as `attn_mask`.** Broadcasting aligns a mask's
    axes from the right, so `(B, S)` is read as `(L, S)`: one row per *query*, not per
    sequence. When `B != L` the shapes do not broadcast and the error says what to write;
    when `B == L` (a batch of 8 sequences of length 8, say) nothing can tell the two apart
    and the result is silently wrong. `as_attn_mask=True` gives the right shape.

    The default return shape stays `(B, max_len)`, the shape of the contract and of a batch
    of token ids; `as_attn_mask` is keyword-only, so no existing call changes meaning.

    References
    ----------
    [Vaswani et al. (2017). Attention Is All You Need.](https://arxiv.org/abs/1706.03762)

    Examples
    --------
    >>> from attention_ref import padding_mask
    >>> padding_mask([2, 3], 4).astype(int).tolist()
    [[1, 1, 0, 0], [1, 1, 1, 0]]
    >>> padding_mask([2, 3], 4, as_attn_mask=True).shape   # (B, 1, 1, S)
    (2, 1, 1, 4)

    With as many sequences as queries, the `(B, S)` mask broadcasts as an `(L, S)` mask and
    masks the wrong thing, without an error:

    >>> import numpy as np
    >>> from attention_ref import scaled_dot_product_attention as sdpa
    >>> # B=2, H=1, L=S=2, E=4; sequence 0 has one real token
    >>> x = np.random.default_rng(0).normal(size=(2, 1, 2, 4))
    >>> pad = padding_mask([1, 2], 2)
    >>> right = sdpa(x, x, x, attn_mask=padding_mask([1, 2], 2, as_attn_mask=True))
    >>> wrong = sdpa(x, x, x, attn_mask=pad)  # read as (L, S): no error
    >>> bool(np.allclose(right[0, 0], x[0, 0, 0]))  # every query sees key 0 only
    True
    >>> bool(np.allclose(wrong, right))
    False
    """
    max_len = check_size(max_len, "max_len")
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"lengths must be an array of integers, got dtype {arr.dtype} (shape {arr.shape})"
        )
    if arr.ndim != 1:
        raise ValueError(f"lengths must be 1-D (B,), got shape {arr.shape}")
    if np.any(arr < 0) or np.any(arr > max_len):
        raise ValueError(
            f"every entry of lengths must be in [0, max_len={max_len}], got lengths {arr.tolist()}"
        )
    if not isinstance(as_attn_mask, (bool, np.bool_)):
        raise TypeError(f"as_attn_mask must be a bool (True or False), got {as_attn_mask!r}")
    mask = np.arange(max_len) < arr[:, None]  # (B, max_len)
    return mask[:, None, None, :] if as_attn_mask else mask  # (B, 1, 1, max_len) or (B, max_len)


def apply_mask_(scores: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Apply a checked bool or float mask to `scores` in place; return the scores.

    bool: False entries become `-inf` (probability 0 after the softmax). float: added. If
    the mask has larger leading dims than the scores (possible when `value` carries batch
    dims that `query` and `key` do not), the scores are first broadcast to the full shape.
    """
    if mask is None:
        return scores
    full = np.broadcast_shapes(scores.shape, mask.shape)
    if full != scores.shape:
        scores = np.broadcast_to(scores, full).copy()
    if mask.dtype == np.bool_:
        np.copyto(scores, -np.inf, where=~mask)  # masked-out keys get probability 0
    else:
        scores += mask.astype(scores.dtype, copy=False)  # additive float mask
    return scores
