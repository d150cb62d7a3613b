D, H = 8, 2
mha = ar.MultiHeadAttention(D, H, rng=1)
for b in (mha.b_q, mha.b_k, mha.b_v, mha.b_o):
    b[...] = rng.standard_normal(b.shape)  # non-zero biases, checked too
x = rng.standard_normal((2, 5, D))  # (B, L, D)

# PyTorch's layout: one packed (3D, D) matrix, applied as x @ W.T + b.
in_proj_weight = np.concatenate([mha.w_q.T, mha.w_k.T, mha.w_v.T])  # (3D, D)
in_proj_bias = np.concatenate([mha.b_q, mha.b_k, mha.b_v])  # (3D,)
out_proj_weight, out_proj_bias = mha.w_o.T, mha.b_o  # (D, D), (D,)
print("in_proj_weight", in_proj_weight.shape, " w_q", mha.w_q.shape)

q_t, k_t, v_t = np.split(x @ in_proj_weight.T + in_proj_bias, 3, axis=-1)
assert np.allclose(q_t, x @ mha.w_q + mha.b_q)
assert np.allclose(k_t, x @ mha.w_k + mha.b_k)
assert np.allclose(v_t, x @ mha.w_v + mha.b_v)
