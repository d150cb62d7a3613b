# One panel per head, drawn side by side with the same colour scale.
fig, axes = new_figure(ncols=H, figsize=(7.6, 3.6))
for h, ax in enumerate(axes):
    ax.imshow(weights[h], cmap="viridis", vmin=0.0, vmax=1.0)
    for (i, j), p in np.ndenumerate(weights[h]):
        ax.text(
            j,
            i,
            f"{p:.2f}",
            ha="center",
            va="center",
            fontsize=8,
            # viridis is light enough for black text from 0.44 up (WCAG: 4.5:1 either side)
            color="black" if p >= 0.44 else "white",
        )
    labels = [f"{t}{i}" for i, t in enumerate(tokens)]
    ax.set_xticks(range(L), labels)
    ax.set_yticks(range(L), labels)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    ax.set_xlabel(["head 0: the previous token", "head 1: the same token"][h])
axes[0].set_ylabel("query")
print(
    figure_html(
        fig,
        caption="The attention weights of the two heads of the constructed layer, for the same "
        "input. Head 0 looks at the previous position (position 0, which has none, at itself); "
        "head 1 at every occurrence of the same token, itself included. The layer's output "
        "holds both results side by side.",
        alt=f"Two {L} by {L} grids of weights. Left, head 0: a bright cell just below the "
        f"diagonal in every row, {weights[0, 1, 0]:.2f}. Right, head 1: rows A0 and A3 split "
        f"their weight between columns A0 and A3, {weights[1, 0, 0]:.2f} each, as do B1 and "
        "B4; rows C2 and D5 attend to themselves.",
        cells=[
            figures.Cells(ax, weights[h], labels, labels, title=f"head {h}")
            for h, ax in enumerate(axes)
        ],
    )
)
