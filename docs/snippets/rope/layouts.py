D, E = 16, 8  # model width, head size (one head)
w_q, w_k = rng.normal(size=(2, D, E))  # weights trained with one layout ...
x = rng.normal(size=(6, D))  # six tokens

def scores(w_q, w_k, interleaved):
    q = ar.rotary_embedding(x @ w_q, interleaved=interleaved)
    k = ar.rotary_embedding(x @ w_k, interleaved=interleaved)
    return q @ k.T  # (L, L)

meta = scores(w_q, w_k, interleaved=True)  # Meta's code: pairs (2i, 2i + 1)
hf = scores(w_q, w_k, interleaved=False)  # rotate_half: pairs (i, i + E/2)
print(f"largest difference in the scores: {np.abs(meta - hf).max():.2f}")
assert not np.allclose(meta, hf)  # the same weights, different attention
