# Two heads built by hand, over a ten-token sentence, with a causal mask (a token
# sees itself and the tokens before it). A token's vector: [one-hot word | position].
#   head 0, "previous token": the query of position i is position i - 1's one-hot;
#   head 1, "same word": the query of a token is its word's one-hot.
tokens = "the cat sat on the mat , the cat slept".split()
vocab = sorted(set(tokens))
L = len(tokens)
word = np.eye(len(vocab))[[vocab.index(t) for t in tokens]]  # (L, 7)
pos = np.eye(L)  # (L, L)
previous = np.roll(pos, -1, axis=1)  # row i: the one-hot of position i - 1
no_word, no_pos = np.zeros_like(word), np.zeros_like(pos)
sharpness = 8.0  # the score of a match; a mismatch scores 0
q = sharpness * np.stack([np.hstack([no_word, previous]), np.hstack([word, no_pos])])
k = np.stack([np.hstack([no_word, pos]), np.hstack([word, no_pos])])  # (H=2, L, E=17)
_, heads = ar.scaled_dot_product_attention(
    q, k, k, is_causal=True, scale=1.0, return_weights=True
)  # (H, L, L)
print("head 0, the key each query weights most:", heads[0].argmax(axis=-1).tolist())
print("head 1, weights of the third 'the':", heads[1][7, [0, 4, 7]].round(3).tolist())
assert heads[0][1:].argmax(axis=-1).tolist() == list(range(L - 1))  # i looks at i - 1
assert np.allclose(heads[1][7, [0, 4, 7]], 1 / 3, atol=1e-3)  # the 3 "the"s share
