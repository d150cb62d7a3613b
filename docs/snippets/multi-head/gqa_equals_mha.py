D, H, Hkv = 16, 4, 2
G = H // Hkv  # query heads per kv head
gqa = ar.MultiHeadAttention(D, H, num_kv_heads=Hkv, rng=1)
for b in (gqa.b_q, gqa.b_k, gqa.b_v, gqa.b_o):
    b[:] = rng.standard_normal(b.shape)  # non-zero biases: checked too
hd = gqa.head_dim


def repeat_kv(w):
    """(..., Hkv * hd) -> (..., H * hd): kv head g's columns, G times."""
    split = w.reshape(*w.shape[:-1], Hkv, hd)
    return np.repeat(split, G, axis=-2).reshape(*w.shape[:-1], H * hd)


mha = ar.MultiHeadAttention(D, H, rng=2)  # an ordinary MHA, given GQA weights
mha.w_q, mha.b_q, mha.w_o, mha.b_o = gqa.w_q, gqa.b_q, gqa.w_o, gqa.b_o
mha.w_k, mha.b_k = repeat_kv(gqa.w_k), repeat_kv(gqa.b_k)
mha.w_v, mha.b_v = repeat_kv(gqa.w_v), repeat_kv(gqa.b_v)

x = rng.standard_normal((2, 7, D))  # (B, L, D)
out_gqa, w_gqa = gqa(x, need_weights=True, average_attn_weights=False)
out_mha, w_mha = mha(x, need_weights=True, average_attn_weights=False)
print("gqa.w_k", gqa.w_k.shape, "-> repeated", mha.w_k.shape)
print("outputs equal:", np.allclose(out_gqa, out_mha))
print("weights equal:", np.allclose(w_gqa, w_mha))
assert np.allclose(out_gqa, out_mha) and np.allclose(w_gqa, w_mha)
