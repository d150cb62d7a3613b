n = np.arange(1, recall.SEQ_LEN)
fig, ax = new_figure(figsize=(6.4, 3.2))
for seed, run in zip(seeds, runs["attention"], strict=True):
    ax.plot(
        n,
        run.accuracy,
        color="C0",
        linewidth=2.5 - 0.7 * seed,
        label="attention, seeds 0, 1, 2" if seed == 0 else None,
    )
for seed, run, style in zip(seeds, runs["rnn"], ["-", "--", ":"], strict=True):
    ax.plot(n, run.accuracy, style, color="C1", label=f"RNN, seed {seed}")
ax.axhline(1 / recall.CLASSES, color="C2", linewidth=1, label="chance (1/8)")
ax.set(
    xlabel="distance n from the capital to the ?",
    ylabel="held-out accuracy",
    ylim=(0, 1.04),
    xlim=(0.5, recall.SEQ_LEN - 0.5),
)
ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0.0, 0.17), fontsize=8)
rnn_final = np.array([run.accuracy for run in runs["rnn"]])  # (seeds, T - 1)
near, far = rnn_final[:, :3].mean(), rnn_final[:, 15:].mean()
assert near > far + 0.1  # over the seeds, the RNN is worse far away
assert rnn_final.min() > 2 / recall.CLASSES  # but well above chance (1/8) everywhere
assert rnn_final[:, 15:].max() < min(run.accuracy.min() for run in runs["attention"])
print(
    figure_html(
        fig,
        caption=f"Accuracy against distance after the same 500 steps. Attention: 100% at "
        f"every n, for all three seeds (the lines lie on top of each other). The RNN: "
        f"{near:.0%} on average at n = 1 to 3, {far:.0%} at n = 16 to 23.",
        alt=f"Line plot of accuracy against n from 1 to 23. Three blue lines lie flat at 1.0. "
        f"Three orange lines start between {rnn_final[:, 0].min():.2f} and "
        f"{rnn_final[:, 0].max():.2f} at n = 1 and end between {rnn_final[:, -1].min():.2f} "
        f"and {rnn_final[:, -1].max():.2f} at n = 23. A green line marks chance at 0.125.",
    )
)
