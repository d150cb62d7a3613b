fig, (ax_signal, ax_align) = new_figure(nrows=2, sharex=True, figsize=(6.4, 3.6))
duration = signal.size / fs
ax_signal.plot(np.arange(signal.size) / fs, signal, linewidth=0.4)
ends = np.cumsum([n for _, n in spoken]) * frame / fs  # in seconds
starts = np.r_[0.0, ends[:-1]]
for start, end, (t, _) in zip(starts, ends, spoken, strict=True):
    ax_signal.axvline(end, color="C3", linewidth=0.8, linestyle="--")
    ax_signal.text((start + end) / 2, 1.35, f"{t!r}: {tones[t]:.0f} Hz", ha="center", fontsize=8)
ax_signal.set_ylim(-1.6, 1.6)
ax_signal.set_ylabel("signal")
ax_align.imshow(
    align,
    aspect="auto",
    cmap="viridis",
    interpolation="nearest",
    extent=(0.0, duration, len(decoded) - 0.5, -0.5),
)
ax_align.set_yticks(range(len(decoded)), [f"token {t!r}" for t in decoded])
ax_align.set_xlabel("time (s); one column per 25 ms frame")
assert align.shape == (3, frames.shape[0])
print(
    figure_html(
        fig,
        caption="Top: the synthetic utterance, three tones with seeded noise, and "
        "where each ends. Bottom: each output token's weights over the 18 frames. "
        "Each token's weight sits on its own tone's frames, so the alignment runs "
        "diagonally, as in speech.",
        alt="Top, a noisy waveform in three segments labelled 'o' 1000 Hz, 'i' "
        "1600 Hz and 'a' 400 Hz. Bottom, three rows of cells: row 'o' is bright "
        "over the first 6 frames, row 'i' over the next 4 and row 'a' over the "
        "last 8; everything else is dark.",
    )
)
