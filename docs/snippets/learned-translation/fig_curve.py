history = trained.history
steps = np.arange(1, len(history["loss"]) + 1)
fig, (left, right) = new_figure(ncols=2, figsize=(8.0, 2.8))
left.plot(steps, history["loss"], linewidth=1)
left.set(yscale="log", xlabel="Adam step", ylabel="training loss (cross-entropy)")
right.plot(history["eval_step"], history["word_accuracy"], "o-", label="words")
right.plot(history["eval_step"], history["sentence_accuracy"], "s-", label="whole sentences")
right.set(xlabel="Adam step", ylabel="held-out accuracy", ylim=(0, 1.03))
right.legend(frameon=False, loc="lower right")
fig.tight_layout()
first_95 = history["eval_step"][np.argmax(np.array(history["word_accuracy"]) >= 0.95)]
assert history["loss"][-1] < 0.01 * history["loss"][0] and history["word_accuracy"][0] < 0.2
print(
    figure_html(
        fig,
        caption=f"Learning curves. Left: the loss of each training batch. Right: accuracy on the "
        f"1,024 held-out sentences, measured every 50 steps; 95% of the words are right from step "
        f"{first_95}.",
        alt=f"Left: a noisy falling curve on a log scale from {history['loss'][0]:.1f} to about "
        f"{history['loss'][-1]:.0e} over {len(steps)} steps. Right: word accuracy rises from "
        f"{history['word_accuracy'][0]:.0%} to {history['word_accuracy'][-1]:.0%}, sentence accuracy "
        f"from {history['sentence_accuracy'][0]:.0%} to {history['sentence_accuracy'][-1]:.0%}.",
    )
)
