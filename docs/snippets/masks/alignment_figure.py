import matplotlib.pyplot as plt

from attention_ref_site.figures import FOREGROUND

fill = plt.get_cmap("cividis")(0.85)  # as mask_figure: visible on light and dark pages
cases = [(3, 5), (5, 3)]  # (L, S): fewer queries than keys, then more


def draw_mask(ax, mask, title):
    """Filled cell: True (may attend); outlined cell: False, as mask_figure draws them."""
    for (i, j), allowed in np.ndenumerate(mask):
        ax.add_patch(
            plt.Rectangle(
                (j - 0.45, i - 0.45),
                0.9,
                0.9,
                linewidth=0.8,
                alpha=1.0 if allowed else 0.5,
                facecolor=fill if allowed else "none",
                edgecolor=fill if allowed else FOREGROUND,
            )
        )
    ax.set_xlim(-0.5, mask.shape[1] - 0.5)
    ax.set_ylim(mask.shape[0] - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_anchor("N")  # top-aligned, whatever the number of rows
    ax.set_xticks(range(mask.shape[1]))
    ax.set_yticks(range(mask.shape[0]))
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    ax.set_xlabel(title, fontsize=9)


fig, axes = new_figure(
    ncols=4,
    figsize=(7.4, 2.9),
    gridspec_kw={"width_ratios": [S for _, S in cases for _ in range(2)], "wspace": 0.4},
)
panels = {}
for n, (L, S) in enumerate(cases):
    panels[L, S] = ar.causal_mask(L, S), np.tril(np.ones((L, S), bool), k=S - L)
    draw_mask(axes[2 * n], panels[L, S][0], f"top-left\nL = {L}, S = {S}")
    draw_mask(axes[2 * n + 1], panels[L, S][1], f"bottom-right\nL = {L}, S = {S}")
axes[0].set_ylabel("query")
(a_tl, a_br), (b_tl, b_br) = panels[cases[0]], panels[cases[1]]
print(
    figure_html(
        fig,
        caption="The two alignments of a causal mask when $L \\ne S$ (filled: may attend), "
        "for $L < S$ (left pair) and $L > S$ (right pair). Top-left (`ar.causal_mask`, "
        "PyTorch's `is_causal`): the diagonal starts at the top-left corner. Bottom-right "
        "(FlashAttention's `causal`, decoding with a key/value cache): it ends at the "
        "bottom-right corner.",
        alt=f"Four grids side by side. First two, {a_tl.shape[0]} queries by {a_tl.shape[1]} "
        f"keys: top-left, the queries see {a_tl.sum(axis=1).tolist()} keys; bottom-right, "
        f"{a_br.sum(axis=1).tolist()}. Last two, {b_tl.shape[0]} queries by {b_tl.shape[1]} "
        f"keys: top-left, the queries see {b_tl.sum(axis=1).tolist()} keys; bottom-right, "
        f"{b_br.sum(axis=1).tolist()}: the first queries see nothing.",
    )
)
