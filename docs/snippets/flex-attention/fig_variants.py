# The masks of the page, side by side: one panel per mask_mod, drawn from the mod itself.
import matplotlib.pyplot as plt

from attention_ref_site.figures import FOREGROUND

fill = plt.get_cmap("cividis")(0.85)  # as mask_figure: visible on light and dark pages
L = S = 10
q_idx, kv_idx = np.arange(L)[:, None], np.arange(S)[None, :]
doc_ids = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
panels = {
    "causal()": ar.mods.causal(),
    "sliding_window(3)": ar.mods.sliding_window(3),
    "prefix_lm(4)": ar.mods.prefix_lm(4),
    "and_masks(causal(),\ndocument(ids))": ar.mods.and_masks(
        ar.mods.causal(), ar.mods.document(doc_ids)
    ),
}
masks = {name: np.broadcast_to(mod(0, 0, q_idx, kv_idx), (L, S)) for name, mod in panels.items()}
fig, axes = new_figure(ncols=4, figsize=(7.6, 2.6))
for ax, (name, mask) in zip(axes, masks.items(), strict=True):
    for (i, j), allowed in np.ndenumerate(mask):
        ax.add_patch(plt.Rectangle(
            (j - 0.45, i - 0.45), 0.9, 0.9, linewidth=0.6, alpha=1.0 if allowed else 0.45,
            facecolor=fill if allowed else "none", edgecolor=fill if allowed else FOREGROUND,
        ))
    ax.set_xlim(-0.5, S - 0.5)
    ax.set_ylim(L - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)
    ax.set_xlabel(name, fontsize=8.5)
axes[0].set_ylabel("query →")
axes[0].set_title("key →", fontsize=8.5, loc="left")
seen = {name: mask.sum(axis=1).tolist() for name, mask in masks.items()}
assert seen["sliding_window(3)"] == [1, 2, 3, 4, 4, 4, 4, 4, 4, 4]
assert seen["prefix_lm(4)"] == [4, 4, 4, 4, 5, 6, 7, 8, 9, 10]
assert seen["and_masks(causal(),\ndocument(ids))"] == [1, 2, 3, 4, 1, 2, 3, 1, 2, 3]
print(figure_html(
    fig,
    caption="Four mask_mods on 10 queries by 10 keys (filled: may attend), each drawn by "
    "calling the mod on the whole index arrays. Left to right: causal; a sliding window of "
    "3 keys back (4 keys seen); a prefix of 4 seen by everyone; causal within three packed "
    "documents of 4, 3 and 3 tokens.",
    alt="Four 10 by 10 grids. Causal: a lower triangle. Sliding window: a band of width 4 "
    f"along the diagonal, rows see {seen['sliding_window(3)']} keys. Prefix-LM: the first "
    f"4 columns filled for every row, then a triangle; rows see {seen['prefix_lm(4)']} "
    "keys. Documents: three small triangles along the diagonal.",
))
