"""The numerically stable softmax, and the in-place kernel attention uses."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, compute_dtype


def softmax_(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax of `x` along `axis`, computed in place in `x`'s own buffer; returns `x`.

    The max is subtracted first so `exp` never overflows. A slice that is all `-inf` (every
    key masked out) has max `-inf`; it is shifted by 0 instead, its exponentials are all 0,
    and its sum 0 is replaced by 1, so the slice comes out as zeros rather than `0/0 = NaN`.
    A NaN anywhere in a slice makes its max NaN, so the whole slice becomes NaN: it
    propagates, it is never hidden.
    """
    if x.shape[axis] == 0:  # nothing to normalise (no keys): an empty result
        return x
    m = np.max(x, axis=axis, keepdims=True)
    m[m == -np.inf] = 0.0  # all-masked slices: exp(-inf - 0) = 0, no -inf - -inf = NaN
    x -= m
    np.exp(x, out=x)
    total = np.sum(x, axis=axis, keepdims=True)
    total[total == 0.0] = 1.0  # all-masked slices: 0 / 1 = 0, not 0 / 0 = NaN
    x /= total
    return x


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Numerically stable softmax along one axis.

    $$\operatorname{softmax}(x)_i = \frac{\exp(x_i - m)}{\sum_j \exp(x_j - m)},
    \qquad m = \max_j x_j .$$

    Subtracting the maximum $m$ changes nothing mathematically (it cancels between numerator
    and denominator) and keeps every exponent $\le 0$, so `exp` cannot overflow even for
    logits of $10^4$.

    Parameters
    ----------
    x : array_like of float16, float32 or float64
        The logits. Not modified.
    axis : int, default -1
        The axis to normalise over.

    Returns
    -------
    ndarray
        The same shape and dtype as `x`; non-negative, summing to 1 along `axis`. A slice
        that is entirely `-inf` gives zeros (not NaN): this is how a query with every key
        masked out gets zero attention weights. NaN in a slice makes the slice NaN.

    Raises
    ------
    TypeError
        If `x` is not float16, float32 or float64 (integer input is refused rather than
        silently cast).

    See Also
    --------
    scaled_dot_product_attention : applies this to the scaled, masked scores.

    Notes
    -----
    float16 input is computed in float32 and cast back, so sums of many small terms keep
    their precision. The all-`-inf` rule is what PyTorch's `scaled_dot_product_attention`
    does for fully masked rows; `torch.softmax` and `scipy.special.softmax` return NaN there.

    References
    ----------
    [Bridle, J. S. (1990). Probabilistic interpretation of feedforward classification network
    outputs, with relationships to statistical pattern recognition.](https://doi.org/10.1007/978-3-642-76153-9_28)

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import softmax
    >>> p = softmax(np.array([0.0, 1.0]))
    >>> bool(np.allclose(p, [1 / (1 + np.e), np.e / (1 + np.e)]))
    True

    Equal logits share the mass equally, and huge logits stay finite:

    >>> softmax(np.array([3.0, 3.0, 3.0, 3.0])).tolist()
    [0.25, 0.25, 0.25, 0.25]
    >>> softmax(np.array([1e4, 0.0])).tolist()
    [1.0, 0.0]

    A fully masked slice is zeros, not NaN:

    >>> softmax(np.array([-np.inf, -np.inf])).tolist()
    [0.0, 0.0]
    """
    arr = as_float_array(x, "x")
    if arr.ndim == 0:
        raise ValueError(f"x must have at least 1 dimension, got shape {arr.shape}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of bounds for x of shape {arr.shape}")
    out = arr.astype(compute_dtype(arr.dtype), copy=True)  # the kernel works in place
    return softmax_(out, axis=axis).astype(arr.dtype, copy=False)
