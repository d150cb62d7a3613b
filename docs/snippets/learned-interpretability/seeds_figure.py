j = next(
    j for j in range(len(test.source)) if len({tuple(x[j].tolist()) for x in largest}) == 3
)  # three different readings
french = [tr.SOURCE_WORDS[k] for k in test.source[j]]
english = [tr.TARGET_WORDS[k] for k in test.target[j]]
assert all((words[j] == test.target[j]).all() for words, _ in weights)
assert (largest[2][j] == test.alignment[j]).all()
differ = [english[r] for r in range(7) if len({int(x[j, r]) for x in largest}) > 1]
print(
    plots.heatmaps(
        [w[j] for _, w in weights],
        titles=["seed 0", "seed 1", "seed 2"],
        row_labels=english,
        col_labels=french,
        xlabel="French (keys)",
        ylabel="English (queries)",
        caption=f"Held-out sentence {j}, translated correctly by all three models. Their "
        "weights differ: only seed 2's match the alignment in every row.",
        alt=f"Three 7 by 7 grids of weights for '{' '.join(french)}', one per seed. The "
        f"brightest cell of the rows for {', '.join(differ)} lies in different columns in "
        "different grids; the other rows look alike.",
    )
)
