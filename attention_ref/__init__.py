r"""attention_ref: a readable, tested NumPy reference implementation of attention.

Every function takes NumPy arrays and returns NumPy arrays; NumPy is the only dependency.
The conventions are PyTorch's `scaled_dot_product_attention`'s, stated once here.

Shape legend (used in every docstring, comment and einsum string of the package):

| letter | meaning |
|---|---|
| `B` | batch, or any leading dims `...` (they broadcast) |
| `H` | query heads, at dim -3: `(B, H, L, E)` |
| `Hkv` | key/value heads (`Hkv < H` for grouped-query attention) |
| `G` | `H // Hkv`, the query heads that share one key/value head |
| `L` | query length |
| `S` | key/value length |
| `E` | query/key head size |
| `Ev` | value head size |
| `D` | model width (`embed_dim`) |

Conventions:

- A **boolean mask means True = may attend**, everywhere. A float mask is added to the scores.
  Integer masks are refused (`TypeError`).
- `is_causal=True` is `tril(ones(L, S))`, aligned top-left, as in PyTorch.
- `scale=None` means $1/\sqrt{E}$.
- float16, float32, float64 in, the same dtype out; float16 is computed in float32.
- A query row whose keys are all masked gets zero output and zero weights, not NaN.
- Bad shapes or dtypes raise `ValueError` / `TypeError` naming the arguments and shapes.
- No function modifies its inputs.

Papers implemented:

- Vaswani et al. (2017), *Attention Is All You Need*: scaled dot-product and multi-head
  attention. <https://arxiv.org/abs/1706.03762>
- Bahdanau, Cho and Bengio (2015), *Neural Machine Translation by Jointly Learning to Align
  and Translate*: additive attention. <https://arxiv.org/abs/1409.0473>
- Shazeer (2019), *Fast Transformer Decoding: One Write-Head is All You Need*: multi-query
  attention. <https://arxiv.org/abs/1911.02150>
- Ainslie et al. (2023), *GQA: Training Generalized Multi-Query Transformer Models from
  Multi-Head Checkpoints*: grouped-query attention. <https://arxiv.org/abs/2305.13245>
- Milakov and Gimelshein (2018), *Online normalizer calculation for softmax*: the online
  softmax. <https://arxiv.org/abs/1805.02867>
- Dao, Fu, Ermon, Rudra and Ré (2022), *FlashAttention: Fast and Memory-Efficient Exact
  Attention with IO-Awareness*: attention tiled so the $L \times S$ scores never exist.
  <https://arxiv.org/abs/2205.14135>
- Dao (2023), *FlashAttention-2: Faster Attention with Better Parallelism and Work
  Partitioning*: the forward pass of `flash_attention`, and the backward pass's
  $D_i = \operatorname{rowsum}(dO_i \circ O_i)$. <https://arxiv.org/abs/2307.08691>
- Su et al. (2021), *RoFormer: Enhanced Transformer with Rotary Position Embedding*:
  `rotary_embedding`. <https://arxiv.org/abs/2104.09864>
- Press, Smith and Lewis (2022), *Train Short, Test Long: Attention with Linear Biases Enables
  Input Length Extrapolation*: `alibi_slopes`. <https://arxiv.org/abs/2108.12409>
- Kwon et al. (2023), *Efficient Memory Management for Large Language Model Serving with
  PagedAttention*: `paged_attention`. <https://arxiv.org/abs/2309.06180>
- Xiao, Tian, Chen, Han and Lewis (2024), *Efficient Streaming Language Models with Attention
  Sinks*: `KVCache`'s window and sink tokens. <https://arxiv.org/abs/2309.17453>

How to cite: `attention_ref.__citation__`, or `python -m attention_ref --cite`, prints the
BibTeX of the software (for the code and the numbers computed with it, with the version) and of
the article *Understanding Attention Mechanisms in Transformers* (Jimmy Ding, 2024; for its
text), both generated from the project's `CITATION.cff`.
"""

from . import mods
from ._additive import additive_attention
from ._backward import sdpa_backward
from ._citation import CITATION as __citation__
from ._flash import flash_attention
from ._flex import flex_attention, flex_backward
from ._kvcache import KVCache
from ._masks import causal_mask, padding_mask
from ._multihead import MultiHeadAttention
from ._paged import paged_attention
from ._positions import alibi_slopes, rotary_embedding, sinusoidal_positions
from ._sdpa import scaled_dot_product_attention
from ._softmax import softmax

__version__ = "0.2.0"

__all__ = [
    "KVCache",
    "MultiHeadAttention",
    "__citation__",
    "__version__",
    "additive_attention",
    "alibi_slopes",
    "causal_mask",
    "flash_attention",
    "flex_attention",
    "flex_backward",
    "mods",
    "padding_mask",
    "paged_attention",
    "rotary_embedding",
    "scaled_dot_product_attention",
    "sdpa_backward",
    "sinusoidal_positions",
    "softmax",
]
