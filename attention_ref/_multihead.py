"""Multi-head attention: project, split into heads, attend, concatenate, project."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._checks import (
    as_float_array,
    check_causal_args,
    check_last_dim,
    check_mask,
    check_positive,
    compute_dtype,
)
from ._sdpa import attend


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Glorot/Xavier uniform initialisation, as PyTorch uses for the input projections."""
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_in, fan_out))


class MultiHeadAttention:
    r"""Multi-head attention with learned projections, in NumPy.

    $$\operatorname{MultiHead}(X_q, X_k, X_v) =
    \operatorname{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W_o + b_o,$$
    $$\mathrm{head}_h = \operatorname{Attention}\left(X_q W_q^{(h)} + b_q^{(h)},\;
    X_k W_k^{(h)} + b_k^{(h)},\; X_v W_v^{(h)} + b_v^{(h)}\right)$$

    Each head attends in its own $\text{head\_dim} = D / H$-dimensional subspace, so the
    model can attend to different things at once at the cost of one full-width attention.
    With `num_kv_heads` $H_{kv} < H$, keys and values have fewer heads and each is shared by
    $G = H / H_{kv}$ consecutive query heads: grouped-query attention (GQA), or multi-query
    attention (MQA) when $H_{kv} = 1$.

    Shapes:
        `B` batch, `L` query length, `S` key/value length, `D` = `embed_dim`,
        `H` = `num_heads`, `Hkv` = `num_kv_heads`, `head_dim` = `D // H`.

    Parameters
    ----------
    embed_dim : int
        Model width $D$ of the query and of the output.
    num_heads : int
        Number of query heads $H$; must divide `embed_dim`.
    num_kv_heads : int, optional
        Number of key/value heads $H_{kv}$; must divide `num_heads`. Defaults to `num_heads`.
    kdim : int, optional
        Width of the `key` input; defaults to `embed_dim`.
    vdim : int, optional
        Width of the `value` input; defaults to `embed_dim`.
    bias : bool, default True
        Whether the four projections have biases. With `bias=False` the `b_*` attributes
        are `None`.
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (a seed makes them reproducible).

    Attributes
    ----------
    w_q : ndarray of shape (embed_dim, embed_dim)
        Query projection, applied as $X W_q$ (the paper's notation: no transpose).
    w_k : ndarray of shape (kdim, num_kv_heads * head_dim)
        Key projection.
    w_v : ndarray of shape (vdim, num_kv_heads * head_dim)
        Value projection.
    w_o : ndarray of shape (embed_dim, embed_dim)
        Output projection.
    b_q, b_k, b_v, b_o : ndarray or None
        Biases of shapes `(embed_dim,)`, `(num_kv_heads * head_dim,)` (twice) and
        `(embed_dim,)`.

    Raises
    ------
    ValueError
        If `num_heads` does not divide `embed_dim`, `num_kv_heads` does not divide
        `num_heads`, or a size is not positive.

    See Also
    --------
    scaled_dot_product_attention : the attention each head computes.

    Notes
    -----
    **Layout.** Head $h$ owns columns `[h*head_dim, (h+1)*head_dim)` of `w_q` (and of `w_k`,
    `w_v` for kv head $h$) and rows `[h*head_dim, (h+1)*head_dim)` of `w_o`: the layout of
    PyTorch's `nn.MultiheadAttention`, whose weights are the transposes of these
    (`w_q = in_proj_weight[:D].T`, `w_o = out_proj.weight.T`).

    **Initialisation** follows PyTorch: Glorot-uniform weights and zero biases (so
    `b_o` is 0 until you set it). Parameters are float64; the computation runs in the
    input's dtype (float16 in float32), and the output has the input's dtype.

    **Masks** are boolean with True = may attend, as everywhere in this package; PyTorch's
    `nn.MultiheadAttention` uses the opposite polarity for boolean masks.

    References
    ----------
    [Vaswani et al. (2017). Attention Is All You Need, section 3.2.2.](https://arxiv.org/abs/1706.03762)
    MQA: [Shazeer (2019). Fast Transformer Decoding: One Write-Head is All You
    Need.](https://arxiv.org/abs/1911.02150)
    GQA: [Ainslie et al. (2023).](https://arxiv.org/abs/2305.13245)

    Examples
    --------
    >>> import numpy as np
    >>> from attention_ref import MultiHeadAttention
    >>> mha = MultiHeadAttention(embed_dim=8, num_heads=2, rng=0)
    >>> x = np.random.default_rng(1).normal(size=(3, 5, 8))   # (B, L, D)
    >>> out, w = mha(x, need_weights=True)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    >>> bool(np.allclose(w.sum(axis=-1), 1.0))
    True

    With a single key every head returns its projected value, so the output does not depend
    on the query:

    >>> k = np.ones((1, 8))                                    # (S=1, D) unbatched
    >>> out1, _ = mha(np.zeros((4, 8)), k)
    >>> out2, _ = mha(np.full((4, 8), 7.0), k)
    >>> bool(np.allclose(out1, out2))
    True
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        num_kv_heads: int | None = None,
        kdim: int | None = None,
        vdim: int | None = None,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        self.embed_dim = check_positive(embed_dim, "embed_dim")
        self.num_heads = check_positive(num_heads, "num_heads")
        self.num_kv_heads = (
            self.num_heads if num_kv_heads is None else check_positive(num_kv_heads, "num_kv_heads")
        )
        self.kdim = self.embed_dim if kdim is None else check_positive(kdim, "kdim")
        self.vdim = self.embed_dim if vdim is None else check_positive(vdim, "vdim")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim={self.embed_dim} must be divisible by num_heads={self.num_heads}"
            )
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must be divisible by num_kv_heads={self.num_kv_heads}"
            )
        self.head_dim = self.embed_dim // self.num_heads
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        D, kv_width = self.embed_dim, self.num_kv_heads * self.head_dim
        self.w_q: np.ndarray = _glorot(gen, D, D)
        self.w_k: np.ndarray = _glorot(gen, self.kdim, kv_width)
        self.w_v: np.ndarray = _glorot(gen, self.vdim, kv_width)
        self.w_o: np.ndarray = _glorot(gen, D, D)
        self.b_q: np.ndarray | None = np.zeros(D) if bias else None
        self.b_k: np.ndarray | None = np.zeros(kv_width) if bias else None
        self.b_v: np.ndarray | None = np.zeros(kv_width) if bias else None
        self.b_o: np.ndarray | None = np.zeros(D) if bias else None

    def __repr__(self) -> str:
        return (
            f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"num_kv_heads={self.num_kv_heads}, kdim={self.kdim}, vdim={self.vdim}, "
            f"bias={self.b_q is not None})"
        )

    def __call__(
        self,
        query: ArrayLike,
        key: ArrayLike | None = None,
        value: ArrayLike | None = None,
        *,
        attn_mask: ArrayLike | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        average_attn_weights: bool = True,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Apply multi-head attention.

        Parameters
        ----------
        query : array_like of shape (B, L, embed_dim) or (L, embed_dim)
            Batch first; an unbatched 2-D input gives unbatched outputs.
        key : array_like of shape (B, S, kdim) or (S, kdim), optional
            Defaults to `query` (self-attention). Give it for cross-attention.
        value : array_like of shape (B, S, vdim) or (S, vdim), optional
            Defaults to `key`.
        attn_mask : array_like of bool or float, optional
            Broadcastable to `(B, num_heads, L, S)` (`(num_heads, L, S)` unbatched).
            bool: True = may attend. float: added to the scaled scores.
        is_causal : bool, default False
            Apply the top-left causal mask; cannot be combined with `attn_mask`.
        need_weights : bool, default False
            Return the attention weights (otherwise `None` in their place).
        average_attn_weights : bool, default True
            Average the weights over heads: `(B, L, S)`; else `(B, num_heads, L, S)`.

        Returns
        -------
        output : ndarray of shape (B, L, embed_dim) or (L, embed_dim)
            dtype `np.result_type(query, key, value)`. A query row whose keys are all masked gets
            weights 0 and output `b_o` (zeros with `bias=False`).
        weights : ndarray or None
            `(B, L, S)` or `(B, num_heads, L, S)`, without `B` for unbatched input.

        Raises
        ------
        TypeError
            If an input is not float16/32/64 or the mask is neither bool nor float.
        ValueError
            If the inputs are not 2-D or 3-D, their widths do not match `embed_dim`, `kdim`,
            `vdim`, batch sizes or key/value lengths differ, the mask does not broadcast, or
            `attn_mask` is given with `is_causal=True`.
        """
        x_q = as_float_array(query, "query")
        x_k = x_q if key is None else as_float_array(key, "key")
        x_v = x_k if value is None else as_float_array(value, "value")
        check_causal_args(attn_mask, is_causal)
        if x_q.ndim not in (2, 3):
            raise ValueError(
                f"query must be (B, L, embed_dim) or (L, embed_dim), got shape {x_q.shape}"
            )
        for name, x in (("key", x_k), ("value", x_v)):
            if x.ndim != x_q.ndim:
                raise ValueError(
                    f"query and {name} must both be batched (3-D) or both unbatched (2-D): "
                    f"got query of shape {x_q.shape} and {name} of shape {x.shape}"
                )
        check_last_dim(x_q, "query", self.embed_dim, "embed_dim")
        check_last_dim(x_k, "key", self.kdim, "kdim")
        check_last_dim(x_v, "value", self.vdim, "vdim")
        if x_k.shape[:-1] != x_v.shape[:-1]:
            raise ValueError(
                "key and value must have the same batch size and length S: "
                f"got key of shape {x_k.shape} and value of shape {x_v.shape}"
            )
        if x_q.ndim == 3 and x_q.shape[0] != x_k.shape[0]:
            raise ValueError(
                "query and key must have the same batch size B: "
                f"got query of shape {x_q.shape} and key of shape {x_k.shape}"
            )

        unbatched = x_q.ndim == 2
        if unbatched:
            x_q, x_k, x_v = x_q[None], x_k[None], x_v[None]  # (1, L, D), (1, S, kdim), ...
        B, L, _ = x_q.shape
        S = x_k.shape[1]
        H, Hkv, hd = self.num_heads, self.num_kv_heads, self.head_dim
        mask_shape = (H, L, S) if unbatched else (B, H, L, S)
        mask = None if attn_mask is None else check_mask(attn_mask, mask_shape, "attn_mask")

        out_dtype = np.result_type(x_q, x_k, x_v)
        cdt = compute_dtype(out_dtype)

        def project(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
            y = x.astype(cdt, copy=False) @ w.astype(cdt, copy=False)
            return y if b is None else y + b.astype(cdt, copy=False)

        q = project(x_q, self.w_q, self.b_q)  # (B, L, H * hd)
        k = project(x_k, self.w_k, self.b_k)  # (B, S, Hkv * hd)
        v = project(x_v, self.w_v, self.b_v)  # (B, S, Hkv * hd)
        q = q.reshape(B, L, H, hd).transpose(0, 2, 1, 3)  # (B, H, L, hd)
        k = k.reshape(B, S, Hkv, hd).transpose(0, 2, 1, 3)  # (B, Hkv, S, hd)
        v = v.reshape(B, S, Hkv, hd).transpose(0, 2, 1, 3)  # (B, Hkv, S, hd)

        heads, probs = attend(q, k, v, mask=mask, is_causal=bool(is_causal), group=H // Hkv)
        # heads (B, H, L, hd), probs (B, H, L, S)
        concat = heads.transpose(0, 2, 1, 3).reshape(B, L, H * hd)  # (B, L, D)
        out = project(concat, self.w_o, self.b_o)  # (B, L, D)

        weights = None
        if need_weights:
            weights = probs.mean(axis=1) if average_attn_weights else probs
            # (B, L, S) or (B, H, L, S)
            weights = weights.astype(out_dtype, copy=False)
            if unbatched:
                weights = weights[0]
        if unbatched:
            out = out[0]  # (L, D)
        return out.astype(out_dtype, copy=False), weights
