i = next(i for i, s in enumerate(test.source) if s[0] == un and s[4] == un)
french = [tr.SOURCE_WORDS[j] for j in test.source[i]]
english = [tr.TARGET_WORDS[j] for j in predicted[i]]
assert (probs[i].argmax(axis=-1) == test.alignment[i]).all()  # A: all right
print(
    plots.heatmaps(
        [probs[i], probs_b[i], np.eye(7)[test.alignment[i]]],
        titles=["model A", "model B", "true alignment"],
        row_labels=english,
        col_labels=french,
        xlabel="French (keys)",
        ylabel="English (queries)",
        caption=f"Held-out sentence {i}: both models translate it (and every other held-out "
        "sentence) to the same English words. Model A's weights match the alignment; model B's "
        "are the same weights one column to the left.",
        alt=f"Three 7 by 7 grids for '{' '.join(french)}'. The left grid and the right grid "
        "have their bright cells in the same places. The middle grid has the same pattern "
        "moved one column to the left, the first column's cells wrapping to the last column.",
    )
)
