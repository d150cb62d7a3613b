rope = runs["rope"][0].params
c = experiment.forward(rope, experiment.test_set(0, 4 * n), "rope")[1]
_, probs = ar.scaled_dot_product_attention(
    c["q"], c["k"], c["v"], is_causal=True, return_weights=True
)  # (B, H, 64, 64); q and k are already rotated
print("query at t | weight on t - 2 | on keys more than 15 back")
far = {}
for q_t in (12, 24, 36, 48, 60):
    right = probs[:, :, q_t, q_t - 2].mean()  # mean over sequences and heads
    far[q_t] = probs[:, :, q_t, : max(0, q_t - 15)].sum(axis=-1).mean()
    print(f"{q_t:10} | {right:15.2f} | {far[q_t]:.2f}")
assert far[12] == 0 and far[24] < 0.05 and far[48] > 0.5 and far[60] > 0.9
