H = 4  # heads; head h owns columns h*E .. (h+1)*E - 1 of w
w = rng.normal(size=(D, H * E))
per_head = np.concatenate([h * E + perm for h in range(H)])
# Hugging Face's permute, on torch's (out, in) layout w.T:
#   w.view(n_heads, E // 2, 2, D).transpose(1, 2).reshape(H * E, D)
hf = w.T.reshape(H, E // 2, 2, D).transpose(0, 2, 1, 3).reshape(H * E, D)
assert np.array_equal(hf, w[:, per_head].T)  # the same permutation
print("head 1's new column order:", per_head[E : 2 * E].tolist())
