# The masks of the page, drawn from the mods themselves: each panel is what the mask_mod
# returns on the whole index arrays, with the property that defines it asserted first.
from attention_ref_site import diagrams


def mask_of(mod, L, S):
    q_idx, kv_idx = np.arange(L)[:, None], np.arange(S)[None, :]
    return np.broadcast_to(mod(0, 0, q_idx, kv_idx), (L, S))


i, j = np.indices((10, 10))  # query and key index of every cell
doc = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
top_left = mask_of(ar.mods.causal(), 4, 10)
bottom_right = mask_of(ar.mods.causal(10 - 4), 4, 10)
window = mask_of(ar.mods.sliding_window(3), 10, 10)
prefix = mask_of(ar.mods.prefix_lm(4), 10, 10)
docs = mask_of(ar.mods.and_masks(ar.mods.causal(), ar.mods.document(doc)), 10, 10)
assert top_left.sum(axis=1).tolist() == [1, 2, 3, 4]  # query i sees keys 0..i
assert bottom_right[-1].all()  # the last query is the last position: it sees every key
assert np.array_equal(bottom_right, np.tril(np.ones((4, 10), bool), k=10 - 4))
assert np.array_equal(window, (i - 3 <= j) & (j <= i))  # itself and 3 keys back
assert np.array_equal(prefix, (j < 4) | (j <= i))  # the prefix is seen by all
assert np.array_equal(docs, (doc[i] == doc[j]) & (j <= i))  # causal, own document only
print(diagrams.mask_grid(
    [("causal(): top-left,\nL = 4, S = 10", top_left),
     ("causal(S - L):\nbottom-right", bottom_right),
     ("sliding_window(3)", window), ("prefix_lm(4)", prefix),
     ("and_masks(causal(),\ndocument(ids))", docs)],
    caption="The masks of this page, each drawn by calling the mod on the whole index "
    "arrays. Causal with 4 new queries and 10 keys, aligned top-left and bottom-right; "
    "a sliding window of 3 keys back (4 keys seen); a prefix of 4 seen by everyone; "
    "causal within three packed documents of 4, 3 and 3 tokens.",
    alt="Five grids of filled (may attend) and outlined (masked) cells. Causal top-left, "
    "4 rows by 10 keys: row i fills keys 0 to i. Causal bottom-right: row i fills keys 0 "
    "to i + 6, the last row all 10. Sliding window: a band 4 wide along the diagonal. "
    "Prefix-LM: the first 4 columns filled in every row, then a triangle. Documents: "
    "three small triangles along the diagonal.",
))
