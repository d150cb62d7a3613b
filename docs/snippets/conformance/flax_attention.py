# flax.nnx.dot_product_attention: (B, L, H, E) arrays,
# no scale parameter (1/sqrt(E) always).
import jax.numpy as jnp
from flax import nnx

from attention_ref.conformance import check


def flax_attention(query, key, value, attn_mask=None, is_causal=False):
    is_bool = attn_mask is not None and attn_mask.dtype == jnp.bool_
    mask, bias = (attn_mask, None) if is_bool else (None, attn_mask)
    return nnx.dot_product_attention(
        query, key, value, bias, mask, is_causal=is_causal
    )


report = check(
    flax_attention,
    layout="BLHE",
    array=jnp.asarray,
    dtypes=("float16", "float32"),
)
print(report.headline())
assert set(report.matches) == {"masked-rows-uniform", "masked-rows-nan"}
assert [r.name for r in report.unsupported] == [
    "custom scale",
    "value head size",
]
