# The two alignments for L < S and L > S: top-left from ar.causal_mask, bottom-right from the
# mod flex_attention takes, mods.causal(S - L), called on the whole index arrays.
from attention_ref_site import diagrams

cases = [(3, 5), (5, 3)]  # (L, S): fewer queries than keys, then more
panels = {}
for L, S in cases:
    q_idx, kv_idx = np.arange(L)[:, None], np.arange(S)[None, :]
    bottom_right = np.broadcast_to(ar.mods.causal(S - L)(0, 0, q_idx, kv_idx), (L, S))
    panels[L, S] = ar.causal_mask(L, S), bottom_right
    # the defining property: key j is visible to query i when j <= i, or j <= i + S - L
    assert np.array_equal(panels[L, S][0], kv_idx <= q_idx)
    assert np.array_equal(bottom_right, kv_idx <= q_idx + S - L)
(a_tl, a_br), (b_tl, b_br) = panels[cases[0]], panels[cases[1]]
print(diagrams.mask_grid(
    [(f"{name}, L = {L}, S = {S}", panels[L, S][k])
     for L, S in cases for k, name in enumerate(["top-left", "bottom-right"])],
    caption="The two alignments of a causal mask when $L \\ne S$ (filled: may attend), "
    "for $L < S$ (top pair) and $L > S$ (bottom pair). Top-left (`ar.causal_mask`, "
    "PyTorch's `is_causal`): the diagonal starts at the top-left corner. Bottom-right "
    "(FlashAttention's `causal`, decoding with a key/value cache, `mods.causal(S - L)`): "
    "it ends at the bottom-right corner.",
    alt=f"Four grids. First two, {a_tl.shape[0]} queries by {a_tl.shape[1]} "
    f"keys: top-left, the queries see {a_tl.sum(axis=1).tolist()} keys; bottom-right, "
    f"{a_br.sum(axis=1).tolist()}. Last two, {b_tl.shape[0]} queries by {b_tl.shape[1]} "
    f"keys: top-left, the queries see {b_tl.sum(axis=1).tolist()} keys; bottom-right, "
    f"{b_br.sum(axis=1).tolist()}: the first queries see nothing.",
))
