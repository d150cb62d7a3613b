# Which scores flex_attention computes for a sliding window, noted by a score_mod that
# changes nothing: it is called once per computed tile, with that tile's index arrays.
L = S = 4096
window = ar.mods.sliding_window(512)
computed = np.zeros((L // 128, S // 128), dtype=bool)  # in squares of 128 by 128


def record(score, b, h, q_idx, kv_idx):
    rows = slice(q_idx.min() // 128, q_idx.max() // 128 + 1)
    computed[rows, kv_idx.min() // 128 : kv_idx.max() // 128 + 1] = True
    return score


q, k, v = rng.standard_normal((3, 1, 1, L, 8))
out = ar.flex_attention(q, k, v, record, window)
assert np.allclose(out, ar.flex_attention(q, k, v, mask_mod=window))
assert computed.sum(axis=1).tolist() == [1, 2, 3, 4] + [5] * 28  # 4 tiles back, at most
print(mask_figure(
    computed,
    caption=f"The scores `flex_attention` computes for `sliding_window(512)` at "
    f"$L = S = 4096$, in squares of 128 queries by 128 keys: {computed.sum()} of "
    f"{computed.size}. Each block of 128 queries takes the (at most) 640 keys it may see "
    "in one tile; the other squares are masked everywhere and never computed.",
    alt=f"A 32 by 32 grid of squares; only a diagonal band of {computed.sum()} squares, at "
    "most five wide, is filled.",
    true_label="computed", false_label="skipped", xlabel="key tile", ylabel="query tile",
))
