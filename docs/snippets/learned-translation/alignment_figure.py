def show_alignment(i, caption, alt):
    """The learned weights of held-out sentence i beside its true alignment."""
    french = [tr.SOURCE_WORDS[j] for j in test.source[i]]
    english = [tr.TARGET_WORDS[j] for j in test.target[i]]
    truth = np.eye(7)[test.alignment[i]]  # (L, S): 1 where English i translates French j
    print(
        plots.heatmaps(
            [probs[i], truth],
            titles=["learned weights", "true alignment"],
            row_labels=english,
            col_labels=french,
            xlabel="French (keys)",
            ylabel="English (queries)",
            caption=caption,
            alt=alt,
        )
    )


test = trained.test
predicted, probs = tr.predict(trained.params, test)  # (B, L), (B, L, S)
words = [[tr.SOURCE_WORDS[j] for j in s] for s in test.source]
a = next(
    i for i, w in enumerate(words) if w[0] == w[4] == "un" and w[2] in tr.NOUNS and w[5] in tr.NOUNS
)  # un ADJ NOUN ... un NOUN ADJ: in order, then crossed
assert (predicted[a] == test.target[a]).all()
assert (probs[a].argmax(axis=-1) == test.alignment[a]).all()  # every row right
show_alignment(
    a,
    caption=f"Held-out sentence {a}: the learned cross-attention weights (left) and the true "
    "alignment (right). The first noun phrase is in order, the second crossed, and the weights "
    "follow: the model learned the word order of each adjective.",
    alt=f"Two 7 by 7 grids, English words down the side, French across the top, for "
    f"'{' '.join(words[a])}'. Left, the learned weights: in every row the brightest cell is the "
    "cell that is lit in the right grid, the true alignment, which is diagonal except for the "
    "last two rows, which cross.",
)
