pe = ar.sinusoidal_positions(64, 32)
fig, ax = new_figure(figsize=(6.0, 3.2))
image = ax.imshow(pe.T, cmap="cividis", aspect="auto", vmin=-1, vmax=1, interpolation="nearest")
ax.set(xlabel="position p", ylabel="feature (sin, cos, sin, cos, ...)")
fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
assert np.allclose(pe[:, 0], np.sin(np.arange(64)))  # the fastest pair: 1 radian per position
assert np.allclose(pe[:, -1], np.cos(np.arange(64) * 10000 ** (-30 / 32)), atol=1e-12)
print(
    figure_html(
        fig,
        caption="Sinusoidal encodings of positions 0 to 63 in width $D = 32$, one column per "
        "position. The top rows turn fast (wavelength $2\\pi$ positions), the bottom rows so "
        "slowly that they barely change over 64 positions (wavelength $2\\pi \\cdot 10000^{30/32}$).",
        alt="A heatmap with positions 0 to 63 across and the 32 features down. The first rows "
        "alternate quickly between light and dark, each row below more slowly; the bottom rows "
        "are nearly constant.",
    )
)
