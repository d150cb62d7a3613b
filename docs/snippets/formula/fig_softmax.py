rows, cols = [f"q{i}" for i in range(3)], [f"k{j}" for j in range(5)]
order = np.argsort(scaled, axis=-1)
assert (order == np.argsort(probs, axis=-1)).all()  # the order is kept
ratio = probs[:, :, None] / probs[:, None, :]  # p_ij / p_ij'
assert np.allclose(ratio, np.exp(scaled[:, :, None] - scaled[:, None, :]))
print(
    heatmap(
        scaled,
        row_labels=rows,
        col_labels=cols,
        vmin=None,
        cmap="cividis",
        caption="Step 2, the scaled scores $Q K^\\top / \\sqrt{E}$: any real numbers.",
        alt="A 3 by 5 grid of signed scores, queries q0 to q2 as rows, keys k0 to k4 "
        "as columns, each cell printed with its value.",
    )
)
print(
    heatmap(
        probs,
        row_labels=rows,
        col_labels=cols,
        vmax=1.0,
        caption="Step 3, the weights after the softmax: each row is positive and sums "
        "to 1, and the largest score of a row takes the largest weight.",
        alt="A 3 by 5 grid of weights between 0 and 1, queries as rows and keys as "
        "columns, each cell printed with its weight.",
    )
)
