tokens = ["A", "B", "C", "A", "B", "D"]
kinds = sorted(set(tokens))  # A B C D
L, D, H = len(tokens), 12, 2  # head_dim = 6
ids = np.array([kinds.index(t) for t in tokens])
x = np.zeros((L, D))  # unbatched: (L, D)
x[np.arange(L), np.arange(L)] = 1.0  # columns 0..5: the position, one-hot
x[np.arange(L), L + ids] = 1.0  # columns 6..9: the token, one-hot

mha = ar.MultiHeadAttention(D, H, bias=False, rng=0)
hd, c = mha.head_dim, 3.0
mha.w_q[:], mha.w_k[:] = 0.0, 0.0
mha.w_v[:], mha.w_o[:] = np.eye(D), np.eye(D)  # pass the input through

# Head 0 owns columns 0..5 of w_q and w_k: position i asks for position i - 1.
for i in range(L):
    mha.w_k[i, i] = c  # key: "I am at position i"
    mha.w_q[i, max(i - 1, 0)] = c  # query: "I want position i - 1" (0: itself)
# Head 1 owns columns 6..11: a token asks for tokens of its own kind.
for t in range(len(kinds)):
    mha.w_k[L + t, hd + t] = c  # key: "I am token t"
    mha.w_q[L + t, hd + t] = c  # query: "I want token t"

out, weights = mha(x, need_weights=True, average_attn_weights=False)
print("x", x.shape, " out", out.shape, " weights", weights.shape)  # (H, L, S)
assert weights.shape == (H, L, L)
