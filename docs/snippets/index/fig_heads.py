visible = ar.causal_mask(L)  # the cells a query may attend to; the rest are left blank
labels = [f"{t} {i}" for i, t in enumerate(tokens)]
titles = {
    0: "Head 0 looks at the previous token: the weights sit just below the diagonal.",
    1: "Head 1 looks at earlier copies of the same word: the second 'cat' splits its weight "
    "between both 'cat's, the third 'the' between all three 'the's.",
}
for h, caption in titles.items():
    assert np.allclose(heads[h].sum(axis=-1), 1.0) and not heads[h][~visible].any()
    print(
        heatmap(
            np.where(visible, heads[h], np.nan),
            row_labels=labels,
            col_labels=labels,
            caption=caption,
            fmt="{:.2f}",
            alt=f"A 10 by 10 lower-triangular grid of weights for head {h}, queries "
            "as rows and keys as columns, labelled with the tokens of 'the cat sat on "
            "the mat , the cat slept'.",
        )
    )
