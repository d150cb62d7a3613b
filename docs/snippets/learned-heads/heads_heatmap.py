row = 0  # the first held-out sequence
labels = hm.text(two.test, row)
causal = ar.causal_mask(hm.SEQ_LEN)  # blank where a query may not look
panels = [found["probs"][row, prev_head], found["probs"][row, match_head]]
assert all(np.allclose(p.sum(axis=-1), 1.0) for p in panels)
print(
    plots.heatmaps(
        [np.where(causal, p, np.nan) for p in panels],
        titles=[f"head {prev_head}", f"head {match_head}"],
        row_labels=labels,
        col_labels=labels,
        annotate=False,
        caption=f"The two heads of the trained model on one held-out sequence, "
        f"{' '.join(labels)}. Head {prev_head} looks one position back. Head {match_head} "
        "looks, from each second-half position, at the first-half token with the same letter.",
        alt="Two 12 by 12 lower-triangular grids of weights, tokens along both axes. Left: "
        "bright cells just below the diagonal. Right: in the bottom six rows, one bright cell "
        "each, in the left half, in the column whose token has the row's letter.",
    )
)
