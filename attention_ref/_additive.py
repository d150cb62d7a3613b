"""Additive (Bahdanau) attention: a small feed-forward network scores each query-key pair."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, broadcast_leading, check_mask, check_min_ndim, compute_dtype
from ._masks import apply_mask_
from ._sdpa import broadcast_weights
from ._softmax import softmax_


def additive_attention(
    query: ArrayLike,
    key: ArrayLike,
    value: ArrayLike,
    w_query: ArrayLike,
    w_key: ArrayLike,
    v: ArrayLike,
    mask: ArrayLike | None = None,
    return_weights: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    r"""Additive attention (Bahdanau et al., 2015), the attention that came before the dot product.

    $$e_{ij} = v^\top \tanh\left(q_i W_q + k_j W_k\right), \qquad
    \alpha_{ij} = \operatorname{softmax}_j(e_{ij}), \qquad
    o_i = \sum_j \alpha_{ij} \, \mathrm{value}_j$$

    The score of a query-key pair comes from a one-hidden-layer network of width $A$ instead
    of a dot product, so queries and keys may have different sizes and no scaling is needed
    ($\tanh$ bounds the hidden layer). It costs $L \times S \times A$ operations and memory,
    which is why the dot product, a single matrix multiplication, replaced it.

    Shapes:
        `B` batch (any leading dims `...`, broadcast), `L` query length, `S` key length,
        `Dq` query size, `Dk` key size, `Ev` value size, `A` hidden (alignment) size.

    Parameters
    ----------
    query : array_like of shape (..., L, Dq)
        In the paper, the decoder state $s_{i-1}$ for each output position.
    key : array_like of shape (..., S, Dk)
        In the paper, the encoder annotations $h_j$.
    value : array_like of shape (..., S, Ev)
        What is averaged; in the paper the annotations again (pass `key` twice).
    w_query : array_like of shape (Dq, A)
        $W_q$ (the paper's $W_a$).
    w_key : array_like of shape (Dk, A)
        $W_k$ (the paper's $U_a$).
    v : array_like of shape (A,)
        $v$ (the paper's $v_a$).
    mask : array_like of bool or float, optional
        Broadcastable to the scores' shape `(..., L, S)`. bool: True = may attend;
        float: added to the scores.
    return_weights : bool, default False
        Also return the weights $\alpha$.

    Returns
    -------
    output : ndarray of shape (..., L, Ev)
        dtype `np.result_type` of all array inputs.
    weights : ndarray of shape (..., L, S)
        Only when `return_weights=True`. A fully masked row is zeros.

    Raises
    ------
    TypeError
        If an input is not float16/32/64, or the mask is neither bool nor float.
    ValueError
        If `w_query` is not `(Dq, A)`, `w_key` not `(Dk, A)`, `v` not `(A,)`, key and value
        lengths differ, leading dims do not broadcast, or the mask does not broadcast to
        `(..., L, S)`.

    See Also
    --------
    scaled_dot_product_attention : the dot-product form the Transformer uses.

    References
    ----------
    [Bahdanau, Cho and Bengio (2015). Neural Machine Translation by Jointly Learning to
    Align and Translate.](https://arxiv.org/abs/1409.0473)

    Examples
    --------
    One key: the output is its value.

    >>> import numpy as np
    >>> from attention_ref import additive_attention
    >>> rng = np.random.default_rng(0)
    >>> wq, wk = rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    >>> v = rng.normal(size=4)
    >>> q, k = rng.normal(size=(5, 3)), rng.normal(size=(1, 2))
    >>> additive_attention(q, k, np.array([[7.0, 8.0]]), wq, wk, v).tolist()
    [[7.0, 8.0], [7.0, 8.0], [7.0, 8.0], [7.0, 8.0], [7.0, 8.0]]

    With `v = 0` every score is 0, so the weights are uniform and the values are averaged:

    >>> values = np.array([[1.0], [2.0], [6.0]])
    >>> keys = np.ones((3, 2))
    >>> additive_attention(q, keys, values, wq, wk, np.zeros(4))[0].tolist()
    [3.0]
    """
    arrays = {
        name: as_float_array(x, name)
        for name, x in (
            ("query", query),
            ("key", key),
            ("value", value),
            ("w_query", w_query),
            ("w_key", w_key),
            ("v", v),
        )
    }
    q, k, val = arrays["query"], arrays["key"], arrays["value"]
    wq, wk, va = arrays["w_query"], arrays["w_key"], arrays["v"]
    check_min_ndim(q, "query", 2, "(..., L, Dq)")
    check_min_ndim(k, "key", 2, "(..., S, Dk)")
    check_min_ndim(val, "value", 2, "(..., S, Ev)")
    if va.ndim != 1:
        raise ValueError(f"v must be 1-D (A,), got shape {va.shape}")
    A = va.shape[0]
    for name, w, x in (("w_query", wq, q), ("w_key", wk, k)):
        if w.shape != (x.shape[-1], A):
            which = "query" if name == "w_query" else "key"
            raise ValueError(
                f"{name} must have shape ({which} size, A) = ({x.shape[-1]}, {A}): got "
                f"{name} of shape {w.shape}, {which} of shape {x.shape} and v of shape {va.shape}"
            )
    if k.shape[-2] != val.shape[-2]:
        raise ValueError(
            "key and value must have the same length S (dim -2): "
            f"got key of shape {k.shape} and value of shape {val.shape}"
        )
    L, S = q.shape[-2], k.shape[-2]
    lead = broadcast_leading({"query": q.shape, "key": k.shape, "value": val.shape}, 2)
    checked_mask = None if mask is None else check_mask(mask, (*lead, L, S), "mask")

    out_dtype = np.result_type(*arrays.values())
    cdt = compute_dtype(out_dtype)
    q, k, val, wq, wk, va = (a.astype(cdt, copy=False) for a in (q, k, val, wq, wk, va))

    hidden = (q @ wq)[..., :, None, :] + (k @ wk)[..., None, :, :]  # (..., L, S, A)
    np.tanh(hidden, out=hidden)
    scores = hidden @ va  # (..., L, S)
    scores = apply_mask_(scores, checked_mask)
    probs = softmax_(scores, axis=-1)  # (..., L, S)
    out = (probs @ val).astype(out_dtype, copy=False)  # (..., L, Ev)
    if return_weights:
        return out, broadcast_weights(probs, out).astype(out_dtype, copy=False)
    return out
