from matplotlib.patches import Rectangle

grid = weights.reshape(4, 4)
fig, (ax_image, ax_weights) = new_figure(ncols=2, figsize=(6.4, 3.2))
ax_image.imshow(image, cmap="cividis", vmin=0.0, vmax=1.0)
ax_image.set_title("image, cut into 8 x 8 patches")
ax_weights.imshow(grid, cmap="viridis", vmin=0.0)
ax_weights.set_title("weights of the query patch")
for (r, c), w in np.ndenumerate(grid):
    ax_weights.text(
        c,
        r,
        f"{w:.2f}",
        ha="center",
        va="center",
        fontsize=9,
        color="black" if w > 0.6 * grid.max() else "white",
    )
r, c = divmod(q_patch, 4)
for ax, size in ((ax_image, P), (ax_weights, 1)):
    lines = np.arange(1, 4) * size - 0.5
    ax.vlines(lines, -0.5, 4 * size - 0.5, color="white", linewidth=0.6)
    ax.hlines(lines, -0.5, 4 * size - 0.5, color="white", linewidth=0.6)
    ax.add_patch(
        Rectangle(
            (c * size - 0.5, r * size - 0.5), size, size, fill=False, edgecolor="C3", linewidth=2.0
        )
    )
    ax.set_xticks([])
    ax.set_yticks([])
assert np.isclose(grid.sum(), 1.0)
half = grid[[0, 1, 1, 2], [2, 1, 3, 2]]  # the patches the square half covers
quarter = grid[[0, 0, 2, 2], [1, 3, 1, 3]]  # and a quarter
background = np.delete(weights, object_patches)
print(
    figure_html(
        fig,
        caption="Left: the synthetic image and its 16 patches; the query patch is "
        "outlined. Right: the query patch's attention weights over all 16 patches, "
        "in the same grid. The weight follows how much of each patch the bright "
        "square covers.",
        alt=f"Left, a 32 by 32 image, dark, with a bright square that covers one "
        f"patch fully, four by half and four by a quarter. Right, a 4 by 4 grid of "
        f"weights: {grid[r, c]:.2f} on the query patch, {half.min():.2f} to "
        f"{half.max():.2f} on the half-covered patches, {quarter.min():.2f} to "
        f"{quarter.max():.2f} on the quarter-covered ones and "
        f"{background.max():.2f} or less on the background.",
        cells=[
            figures.Cells(
                ax_weights, grid, row_name="patch row", col_name="patch column",
                value_name="weight of the query patch",
            )
        ],
    )
)
