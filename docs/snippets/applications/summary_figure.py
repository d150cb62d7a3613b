positions = np.arange(len(document))
kept = np.isin(positions, chosen)
fig, ax = new_figure(figsize=(5.6, 3.0))
bars = ax.bar(positions, weights, color=np.where(kept, "C0", "C1"))
for bar, in_summary in zip(bars, kept, strict=True):
    bar.set_hatch("" if in_summary else "///")
ax.bar_label(bars, fmt="%.2f", fontsize=8)
ax.set_xticks(positions, [f"sentence {i}" for i in positions], rotation=30, ha="right")
ax.set_ylabel("weight")
ax.legend(
    [bars[chosen[0]], bars[int(np.flatnonzero(~kept)[0])]],
    ["in the summary", "left out"],
    frameon=False,
    fontsize=8,
    ncol=2,
    loc="lower center",
    bbox_to_anchor=(0.5, 1.0),
)
assert np.isclose(sum(bar.get_height() for bar in bars), 1.0)
low = weights[~kept]
print(
    figure_html(
        fig,
        caption="The document's centroid attending over its sentences "
        "(`scale=10`): the three sentences about attention share most of the "
        "weight and form the summary.",
        alt=f"A bar chart of six sentence weights. Sentences 0, 2 and 4 have tall "
        f"solid bars of {weights[kept].min():.2f} each; sentences 1, 3 and 5 have "
        f"short hatched bars of {low.min():.2f} to {low.max():.2f}.",
    )
)
