single = hm.evaluate(one.params, two.test, 1)["probs"]  # the one-head model, (B, 1, L, L)
assert np.allclose(single[row, 0].sum(axis=-1), 1.0)
for i, t in enumerate(range(hm.K, hm.SEQ_LEN)):  # the second half: the largest weights are
    wanted = {t - 1, int(two.test.match_position[row, i])}  # on these (one, if they coincide)
    assert set(np.argsort(single[row, 0, t])[-len(wanted) :].tolist()) == wanted
print(
    plots.heatmaps(
        [np.where(causal, single[row, 0], np.nan)],
        titles=["one head of width 24"],
        row_labels=labels,
        col_labels=labels,
        annotate=False,
        max_width=4.8,
        caption="The one-head model on the same sequence. In the second half (the bottom six "
        "rows) each query splits its weight between the previous position and the first-half "
        "token with the same letter.",
        alt="A 12 by 12 lower-triangular grid of weights. In the bottom six rows each row has "
        "two medium-bright cells, one just below the diagonal and one in the left half at the "
        "token with the row's letter.",
    )
)
