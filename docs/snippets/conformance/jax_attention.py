# jax.nn.dot_product_attention: (B, L, H, E) arrays;
# a bool mask is `mask`, a float one `bias`.
import jax
import jax.numpy as jnp

from attention_ref.conformance import check


def jax_attention(
    query, key, value, attn_mask=None, is_causal=False, scale=None
):
    is_bool = attn_mask is not None and attn_mask.dtype == jnp.bool_
    mask, bias = (attn_mask, None) if is_bool else (None, attn_mask)
    return jax.nn.dot_product_attention(
        query, key, value, bias, mask, scale=scale, is_causal=is_causal
    )


report = check(jax_attention, layout="BLHE", array=jnp.asarray)
print(report.headline())
assert report.precision["float64"] == "float32"  # without jax_enable_x64
assert set(report.matches) == {
    "masked-rows-uniform",  # a fully masked bool row: the mean of the values
    "masked-rows-nan",  # a fully masked float (-inf) row: NaN
    "precision-float32",
    "dtype",  # float32 out for float64 in
}
assert [r.name for r in report.unsupported] == ["value head size"]
