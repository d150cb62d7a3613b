alibi = runs["alibi"][0].params
test = experiment.test_set(0, n)
c = experiment.forward(alibi, test, "alibi")[1]
bias = experiment.alibi_bias(4, n)  # (H, T, T), -inf above the diagonal
_, probs = ar.scaled_dot_product_attention(
    c["q"], c["k"], c["v"], attn_mask=bias, return_weights=True
)  # (B, H, T, T)
t = np.arange(8, n)  # queries with at least 8 keys behind them
weight = np.array([probs[:, :, t, t - d].mean(axis=(0, 2)) for d in range(5)]).T
print("mean weight on the key d back, d = 0 1 2 3 4")  # weight: (H, 5)
for h, row in enumerate(weight):
    print(f"head {h} (slope 1/{1 / ar.alibi_slopes(4)[h]:g}):", row.round(3))
assert (weight[:, 0] < weight[:, 1]).all()  # less on the own token than d = 1
assert weight[0].argmax() == 1  # the steepest head: the most on d = 1, not 2
assert (weight[:, 2] <= weight[:, 1] + 1e-3).all()  # none prefers d = 2 to 1
