rows = table[: 2 * n]  # the 16 trained rows and the next 16, untrained
unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
cosine = unit @ unit.T  # (32, 32)
fig, ax = new_figure(figsize=(4.4, 3.6))
image = ax.imshow(cosine, cmap="cividis", vmin=-1, vmax=1, interpolation="nearest")
ax.axhline(n - 0.5, color="C1", linewidth=1)
ax.axvline(n - 0.5, color="C1", linewidth=1)
ax.set(xlabel="position", ylabel="position")
fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
near = np.mean([cosine[p, p + 2] for p in range(n - 2)])  # two apart, both trained
assert abs(near) < 0.3  # neighbours in position are no more alike than random vectors
print(
    figure_html(
        fig,
        caption=f"Cosine similarity between the rows of the learned position table of the "
        f"experiment on the next page, for positions 0 to {2 * n - 1}. Training set rows 0 "
        f"to {n - 1} (top left); rows from {n} on (right of and below the orange lines) are "
        f"still random. Rows two positions apart have a mean cosine of {near:.2f}, as "
        f"unrelated random vectors would: nothing makes position 7 resemble position 9.",
        alt=f"A {2 * n} by {2 * n} heatmap of cosine similarities. The diagonal is bright; the "
        "rest is a mix of mid tones without a visible band structure, in the trained and the "
        "untrained quarter alike.",
    )
)
