r"""Where is each token: rotary embeddings (RoPE), sinusoidal positions and ALiBi slopes.

Attention by itself is permutation equivariant: it sees a set of keys, not a sequence. The
three functions here are the three ways of telling it the order that need a formula (learned
absolute positions are just a trained table, `h = embed[x] + pos[:L]`, and need none):

- `sinusoidal_positions`: added to the token embeddings (Vaswani et al. 2017);
- `rotary_embedding`: rotates the queries and keys so their dot product depends on the
  *relative* position (Su et al. 2021);
- `alibi_slopes`: one slope per head for a bias linear in the distance, added to the scores
  (Press et al. 2022); `attention_ref.mods.alibi(slopes)` or a float `attn_mask` applies it.

Angles are computed in float64 whatever the input dtype: the angle of position $m$ is
$m\,\theta_i$, and in float32 it is off by about $m\,\theta_i \cdot 2^{-24}$, a visible error
once $m$ is in the hundreds of thousands.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_float_array, check_int, check_min_ndim, compute_dtype

__all__ = ["alibi_slopes", "rotary_embedding", "sinusoidal_positions"]


def _check_base(base: object) -> float:
    """`base` is a real number > 0 (finite); bool and complex are refused."""
    if isinstance(base, (bool, np.bool_)) or not isinstance(
        base, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"base must be a positive real number, got {base!r}")
    value = float(base)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"base must be a positive, finite real number, got {base!r}")
    return value


def rotary_frequencies(rotary_dim: int, base: float = 10000.0) -> np.ndarray:
    r"""The rotary frequencies $\theta_i = \text{base}^{-2i/R}$, $i = 0 \dots R/2 - 1$, float64.

    Parameters
    ----------
    rotary_dim : int
        $R$, the number of rotated features (even).
    base : float, default 10000.0
        The base of the geometric sequence of wavelengths.

    Returns
    -------
    ndarray of float64, shape (R/2,)
        Radians per position; the wavelength of pair $i$ is $2\pi / \theta_i$ positions.
    """
    return base ** (-np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim)


def rotary_embedding(
    x: ArrayLike,
    positions: ArrayLike | None = None,
    *,
    base: float = 10000.0,
    rotary_dim: int | None = None,
    interleaved: bool = False,
) -> np.ndarray:
    r"""Rotary position embedding (RoPE): rotate feature pairs by an angle proportional to position.

    Row $l$ of `x` sits at position $m$, given by `positions[l]`. Its features are grouped into
    $R/2$ pairs $(a_i, b_i)$, and pair $i$ is rotated by the angle $m\,\theta_i$:

    $$
    \begin{pmatrix} a_i' \\ b_i' \end{pmatrix} =
    \begin{pmatrix} \cos m\theta_i & -\sin m\theta_i \\
    \sin m\theta_i & \cos m\theta_i \end{pmatrix}
    \begin{pmatrix} a_i \\ b_i \end{pmatrix},
    \qquad \theta_i = \text{base}^{-2i/R}, \quad i = 0, \dots, R/2 - 1 .
    $$

    A rotation by $m\theta$ followed by the transpose of one by $n\theta$ is a rotation by
    $(m - n)\theta$, so after rotating queries at positions $m$ and keys at positions $n$,
    $q_m' \cdot k_n'$ depends on the positions only through $m - n$: attention scores see
    relative positions. Rotations preserve norms.

    Which features form a pair is the **layout**, and the two in use are not interchangeable
    (the same weights give different outputs):

    - `interleaved=False` (default): pairs $(i, i + R/2)$, the "rotate half" of GPT-NeoX and
      Hugging Face Transformers;
    - `interleaved=True`: pairs $(2i, 2i + 1)$, GPT-J and Meta's Llama, which view each pair
      as one complex number $a_i + \mathrm{i}\,b_i$ multiplied by $e^{\mathrm{i} m \theta_i}$.

    Parameters
    ----------
    x : array_like of shape (..., L, E)
        Queries or keys (float16, float32 or float64). Not modified.
    positions : array_like of int or float, broadcastable to (..., L), optional
        The position of each row; default `arange(L)`. Float positions are allowed (position
        interpolation scales them). They must broadcast to `x.shape[:-1]` without enlarging it.
    base : float, default 10000.0
        The base of the frequencies; larger bases give longer wavelengths (Llama 3 uses
        500000). Must be positive.
    rotary_dim : int, optional
        $R$, the number of leading features that are rotated (default `E`; GPT-NeoX rotates a
        quarter). Must be even and at most `E`. Features `rotary_dim:` pass through unchanged,
        and the frequencies use $R$, not $E$, in the exponent.
    interleaved : bool, default False
        The pair layout: False for $(i, i + R/2)$, True for $(2i, 2i + 1)$.

    Returns
    -------
    ndarray of shape (..., L, E)
        The rotated `x`, in the dtype of `x`.

    Shapes
    ------
    `L` positions (rows), `E` features, `R` = `rotary_dim` rotated features, `...` any leading
    dims (batch, heads).

    Raises
    ------
    TypeError
        If `x` is not float16/32/64, if `positions` is not an int or float array, if `base`
        is not a real number, or if `rotary_dim` is not an integer.
    ValueError
        If `x` has fewer than 2 dims, `rotary_dim` is odd, not positive or larger than `E`,
        `positions` does not broadcast to `(..., L)`, or `base` is not positive.

    See Also
    --------
    sinusoidal_positions : the same frequencies, added to the embeddings instead.

    Notes
    -----
    The angles $m\,\theta_i$, their sines and cosines are computed in float64 whatever the
    dtype of `x`, then the rotation is done in the input's precision (float16 in float32, as
    everywhere in the package). Angles computed in float32, as some implementations do, are
    off by about $m\,\theta_i\,2^{-24}$: 0.03 radians at position $10^6$.

    The two layouts are related by a fixed permutation of the features: with `perm` sending
    the interleaved order to the half-split one (`perm = [0, 2, 4, ..., 1, 3, 5, ...]` on the
    first $R$ features), `rotary_embedding(x[..., perm]) == rotary_embedding(x,
    interleaved=True)[..., perm]`. This is why Hugging Face permutes Llama's query and key
    weights when converting Meta's checkpoints.

    References
    ----------
    - [Su, Lu, Pan, Murtadha, Wen and Liu (2021). RoFormer: Enhanced Transformer with Rotary
      Position Embedding.](https://arxiv.org/abs/2104.09864)
    - [Black et al. (2022). GPT-NeoX-20B: An Open-Source Autoregressive Language
      Model.](https://arxiv.org/abs/2204.06745)

    Examples
    --------
    Position 1 rotates the first pair by $\theta_0 = 1$ radian:

    >>> import numpy as np
    >>> from attention_ref import rotary_embedding
    >>> x = np.array([[1.0, 0.0]])                    # (L=1, E=2): one pair (1, 0)
    >>> y = rotary_embedding(x, positions=[1])
    >>> bool(np.allclose(y, [[np.cos(1.0), np.sin(1.0)]]))
    True

    Position 0 is the identity, and norms are preserved:

    >>> x = np.arange(8.0).reshape(2, 4)              # (L=2, E=4)
    >>> bool(np.array_equal(rotary_embedding(x)[0], x[0]))
    True
    >>> norms = np.linalg.norm(rotary_embedding(x), axis=-1)
    >>> bool(np.allclose(norms, np.linalg.norm(x, axis=-1)))
    True

    Scores depend only on the relative position:

    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.normal(size=(2, 1, 8))
    >>> s1 = rotary_embedding(q, [7]) @ rotary_embedding(k, [4]).T     # m - n = 3
    >>> s2 = rotary_embedding(q, [103]) @ rotary_embedding(k, [100]).T
    >>> bool(np.allclose(s1, s2))
    True
    """
    arr = as_float_array(x, "x")
    check_min_ndim(arr, "x", 2, "(..., L, E)")
    L, E = arr.shape[-2:]
    if rotary_dim is None:
        R = E
        if R % 2:
            raise ValueError(
                f"rotary_dim defaults to E, which must then be even: got x of shape {arr.shape} "
                f"(E={E}); pass an even rotary_dim <= E"
            )
    else:
        R = check_int(rotary_dim, "rotary_dim")
        if R <= 0 or R % 2 or R > E:
            raise ValueError(
                f"rotary_dim must be a positive even integer at most E: got rotary_dim={R} for "
                f"x of shape {arr.shape} (E={E})"
            )
    base_value = _check_base(base)

    if positions is None:
        pos = np.arange(L, dtype=np.float64)  # (L,)
    else:
        pos_arr = np.asarray(positions)
        if pos_arr.dtype == np.bool_ or pos_arr.dtype.kind not in "iuf":
            raise TypeError(
                f"positions must be an integer or floating-point array, got dtype "
                f"{pos_arr.dtype} (shape {pos_arr.shape})"
            )
        try:
            fits = np.broadcast_shapes(pos_arr.shape, arr.shape[:-1]) == arr.shape[:-1]
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"positions of shape {pos_arr.shape} does not broadcast to (..., L) = "
                f"{arr.shape[:-1]} without enlarging it, for x of shape {arr.shape}"
            )
        pos = pos_arr.astype(np.float64)  # a copy: the caller's positions are not touched

    angles = pos[..., None] * rotary_frequencies(R, base_value)  # (..., L, R/2), float64
    dtype = compute_dtype(arr.dtype)
    cos = np.cos(angles).astype(dtype, copy=False)  # (..., L, R/2)
    sin = np.sin(angles).astype(dtype, copy=False)

    out = np.array(arr, dtype=dtype, copy=True)  # (..., L, E): the pass-through features kept
    if interleaved:
        a, b = arr[..., 0:R:2].astype(dtype), arr[..., 1:R:2].astype(dtype)  # (..., L, R/2)
        out[..., 0:R:2] = a * cos - b * sin
        out[..., 1:R:2] = b * cos + a * sin
    else:
        half = R // 2
        a, b = arr[..., :half].astype(dtype), arr[..., half:R].astype(dtype)  # (..., L, R/2)
        out[..., :half] = a * cos - b * sin
        out[..., half:R] = b * cos + a * sin
    return out.astype(arr.dtype, copy=False)


def sinusoidal_positions(L: int, D: int, *, base: float = 10000.0) -> np.ndarray:
    r"""The sinusoidal positional encodings of Vaswani et al. (2017), section 3.5.

    $$
    PE_{p, 2i} = \sin\left(\frac{p}{\text{base}^{2i/D}}\right), \qquad
    PE_{p, 2i+1} = \cos\left(\frac{p}{\text{base}^{2i/D}}\right), \qquad i = 0 \dots D/2 - 1 .
    $$

    Each pair of columns is a point turning on the unit circle at its own frequency
    $\omega_i = \text{base}^{-2i/D}$, the same frequencies as `rotary_embedding`'s. So moving
    $k$ positions on is a rotation of every pair by $k\,\omega_i$: $PE_{p + k} = PE_p\,M_k$ for
    a fixed matrix $M_k$ that does not depend on $p$. The encodings are added to the token
    embeddings: $h_p = e(x_p) + PE_p$.

    Parameters
    ----------
    L : int
        The number of positions, $0 \dots L - 1$ (non-negative).
    D : int
        The model width (positive, even).
    base : float, default 10000.0
        The base of the wavelengths, which run from $2\pi$ to $2\pi \cdot \text{base}$
        positions. Must be positive.

    Returns
    -------
    ndarray of float64, shape (L, D)
        Row $p$ is the encoding of position $p$; sines in the even columns, cosines in the
        odd ones.

    Shapes
    ------
    `L` positions, `D` model width.

    Raises
    ------
    TypeError
        If `L` or `D` is not an integer, or `base` not a real number.
    ValueError
        If `L` is negative, `D` is not a positive even number, or `base` is not positive.

    See Also
    --------
    rotary_embedding : the same frequencies, as rotations of the queries and keys.

    References
    ----------
    [Vaswani et al. (2017). Attention Is All You Need, section 3.5.](https://arxiv.org/abs/1706.03762)

    Examples
    --------
    Position 0 is $(\sin 0, \cos 0, \dots) = (0, 1, 0, 1, \dots)$, and the first pair turns
    one radian per position:

    >>> import numpy as np
    >>> from attention_ref import sinusoidal_positions
    >>> pe = sinusoidal_positions(3, 4)
    >>> pe[0].tolist()
    [0.0, 1.0, 0.0, 1.0]
    >>> bool(np.allclose(pe[2, :2], [np.sin(2.0), np.cos(2.0)]))
    True
    >>> # the second pair's frequency is 1 / 10000^(2/4) = 0.01
    >>> bool(np.allclose(pe[1, 2:], [np.sin(0.01), np.cos(0.01)]))
    True
    """
    n_pos = check_int(L, "L")
    if n_pos < 0:
        raise ValueError(f"L must be non-negative, got L={n_pos}")
    width = check_int(D, "D")
    if width <= 0 or width % 2:
        raise ValueError(f"D must be a positive even integer, got D={width}")
    base_value = _check_base(base)
    p = np.arange(n_pos, dtype=np.float64)  # (L,)
    angles = p[:, None] * rotary_frequencies(width, base_value)  # (L, D/2)
    pe = np.empty((n_pos, width), dtype=np.float64)  # (L, D)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles)
    return pe


def alibi_slopes(num_heads: int) -> np.ndarray:
    r"""The per-head slopes of ALiBi, attention with linear biases (Press et al. 2022).

    ALiBi adds no vector to the tokens. Head $h$ adds $m_h\,(j - i)$ to the score of query $i$
    and key $j$: a penalty linear in the distance, steep for some heads (they look nearby) and
    gentle for others. For $n$ heads, $n$ a power of two, the slopes are the geometric sequence

    $$ m_h = 2^{-8 (h + 1) / n}, \qquad h = 0, \dots, n - 1, $$

    e.g. $1/2, 1/4, \dots, 1/256$ for 8 heads. For other $n$, the paper's code takes the
    slopes of the largest power of two $p < n$, followed by every other slope of the
    $2p$-head sequence (its 1st, 3rd, 5th, ...), as many as needed to make $n$.

    Parameters
    ----------
    num_heads : int
        $n \ge 1$.

    Returns
    -------
    ndarray of float64, shape (num_heads,)
        The slope $m_h$ of each head, all in $(0, 1)$.

    Raises
    ------
    TypeError
        If `num_heads` is not an integer.
    ValueError
        If `num_heads < 1`.

    See Also
    --------
    attention_ref.mods.alibi : the score_mod `score + slopes[h] * (kv_idx - q_idx)`.

    Notes
    -----
    With a causal mask, $j \le i$, so the bias $m_h (j - i) \le 0$ is a penalty growing with
    the distance $i - j$. As a float `attn_mask` for `scaled_dot_product_attention` (the
    scores are scaled first, then the mask is added, as in PyTorch):
    `bias = slopes[:, None, None] * (j - i)` of shape `(H, L, S)`, with `-inf` above the
    diagonal for a causal model.

    References
    ----------
    [Press, Smith and Lewis (2022). Train Short, Test Long: Attention with Linear Biases
    Enables Input Length Extrapolation.](https://arxiv.org/abs/2108.12409)

    Examples
    --------
    >>> from attention_ref import alibi_slopes
    >>> alibi_slopes(8).tolist()
    [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]

    Six heads: the 4-head slopes $2^{-2}, 2^{-4}, 2^{-6}, 2^{-8}$, then the 1st and 3rd of
    the 8-head slopes, $2^{-1}$ and $2^{-3}$:

    >>> alibi_slopes(6).tolist()
    [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]
    """
    n = check_int(num_heads, "num_heads")
    if n < 1:
        raise ValueError(f"num_heads must be at least 1, got num_heads={n}")

    def power_of_two(count: int) -> np.ndarray:  # the geometric sequence for 2^k heads
        return 2.0 ** (-8.0 * np.arange(1, count + 1, dtype=np.float64) / count)

    p = 1 << (n.bit_length() - 1)  # the largest power of two <= n
    if p == n:
        return power_of_two(n)
    return np.concatenate([power_of_two(p), power_of_two(2 * p)[0::2][: n - p]])
