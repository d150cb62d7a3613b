# Which tiles flex_attention computes for a sliding window, noted by a score_mod that changes
# nothing: it is called once per computed tile, with that tile's index arrays.
L = S = 4096
window = ar.mods.sliding_window(512)
computed = np.zeros((L // 256, S // 128), dtype=bool)  # the default tiles: 256 x 128


def record(score, b, h, q_idx, kv_idx):
    computed[q_idx.min() // 256, kv_idx.min() // 128] = True
    return score


q, k, v = rng.standard_normal((3, 1, 1, L, 8))
out = ar.flex_attention(q, k, v, record, window)
assert np.allclose(out, ar.flex_attention(q, k, v, mask_mod=window))
assert computed.sum(axis=1).tolist() == [2, 4] + [6] * 14  # 4 + 2 tiles back, at most
print(mask_figure(
    computed,
    caption=f"The tiles of 256 queries by 128 keys that `flex_attention` computes for "
    f"`sliding_window(512)` at $L = S = 4096$: {computed.sum()} of {computed.size}. The "
    "others are masked everywhere and are skipped before any of their scores is computed.",
    alt=f"A 16 by 32 grid of tiles; only a diagonal band of {computed.sum()} tiles, at "
    "most six wide, is filled.",
    true_label="computed", false_label="skipped", xlabel="key tile", ylabel="query tile",
))
