L = 48
q_all = ar.rotary_embedding(np.repeat(q, L, axis=0))  # (L, E): q at positions 0 .. L - 1
k_all = ar.rotary_embedding(np.repeat(k, L, axis=0))
grid = q_all @ k_all.T  # (L, L): the score of q at m against k at n
# every diagonal is constant: the score depends on m - n only (a Toeplitz matrix)
for d in range(-L + 1, L):
    assert np.allclose(np.diagonal(grid, d), np.diagonal(grid, d)[0])
fig, ax = new_figure(figsize=(4.4, 3.6))
image = ax.imshow(grid, cmap="cividis", interpolation="nearest")
ax.set(xlabel="key position n", ylabel="query position m")
fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
print(
    figure_html(
        fig,
        caption=f"The score of the same query and key, rotated to every pair of positions "
        f"$m, n$ below {L}. Each diagonal ($m - n$ fixed) has one colour: the score depends "
        "only on the relative position.",
        alt=f"A {L} by {L} heatmap whose colours run in stripes parallel to the diagonal.",
    )
)
