i = np.arange(E // 2)
schemes = {
    "as trained": theta,
    f"position interpolation, s = {s}": theta / s,
    "NTK-aware base": ntk,
    "YaRN": yarn_theta,
}
fig, ax = new_figure(figsize=(6.4, 3.6))
for (label, freq), style in zip(schemes.items(), ["-", "--", "-.", ":"], strict=True):
    ax.plot(i, 2 * np.pi / freq, style, label=label, linewidth=2.2)
for length, text in ((L_train, "training context"), (s * L_train, "target context")):
    ax.axhline(length, color=figures.FOREGROUND, linewidth=0.7, alpha=0.5)
    ax.text(0, length * 1.15, f"{text}, {length}", fontsize=8)
ax.set(yscale="log", xlabel="pair i (fast to slow)", ylabel="wavelength (positions)")
ax.legend(frameon=False, fontsize=8, loc="lower right")
pi_wave = 2 * np.pi / schemes[f"position interpolation, s = {s}"]
yarn_wave = 2 * np.pi / yarn_theta
assert np.allclose(pi_wave, s * wavelength)
assert np.allclose(yarn_wave[gamma == 1], wavelength[gamma == 1])
assert np.allclose(yarn_wave[gamma == 0], pi_wave[gamma == 0])
print(
    figure_html(
        fig,
        caption=f"The wavelength $2\\pi / \\theta_i$ of each of the {E // 2} pairs of a head of "
        f"size {E}, base 10000, extended from {L_train} to {s * L_train} positions. Position "
        f"interpolation stretches every wavelength by $s = {s}$. The NTK-aware base keeps the "
        f"fast pairs and stretches the slowest by $s$. YaRN keeps the {(gamma == 1).sum()} "
        f"pairs that turn more than {beta} times within the training context, interpolates "
        f"the {(gamma == 0).sum()} that turn less than once, and ramps in between.",
        alt="Four curves of wavelength, on a log scale from about 6 to about 200000, rising "
        "with the pair index. The position-interpolation curve lies a constant factor of 4 "
        "above the trained one. The NTK curve starts on the trained curve and ends on the "
        "interpolation curve. The YaRN curve follows the trained one for the fast pairs, then "
        "climbs to the interpolation curve. Horizontal lines mark 4096 and 16384.",
    )
)
