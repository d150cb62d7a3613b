def split_heads(t):  # (B, L, D) -> (B, H, L, D // H): head h = columns h*hd..
    return t.reshape(*t.shape[:2], H, D // H).swapaxes(1, 2)


heads = ar.scaled_dot_product_attention(
    split_heads(q_t), split_heads(k_t), split_heads(v_t)
)  # (B, H, L, D // H)
concat = heads.swapaxes(1, 2).reshape(x.shape)  # (B, L, D)
out_torch_way = concat @ out_proj_weight.T + out_proj_bias

out, weights = mha(x)  # attention_ref's defaults: need_weights=False
print("out", out.shape, " weights", weights)
assert np.allclose(out, out_torch_way) and weights is None
