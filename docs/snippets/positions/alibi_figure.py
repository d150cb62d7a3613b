L = 64
i, j = np.arange(L)[:, None], np.arange(L)[None, :]
bias = np.where(j <= i, slopes[:, None, None] * (j - i), -np.inf)  # (8, L, L)
zero = np.zeros((8, L, 4))  # queries and keys that carry no content: position alone decides
_, weights = ar.scaled_dot_product_attention(
    zero, zero, zero[..., :1], attn_mask=bias, return_weights=True
)
last = weights[:, -1, ::-1]  # (8, L): the last query's weight on the key d = 0, 1, 2 ... back
# each step back multiplies the weight by exp(-m_h)
assert np.allclose(last[:, 1:] / last[:, :-1], np.exp(-slopes)[:, None])
fig, ax = new_figure(figsize=(6.0, 3.0))
for h in (0, 1, 2, 3, 7):
    ax.plot(np.arange(L), last[h], label=f"head {h}: m = 1/{1 / slopes[h]:g}")
ax.set(xlabel="distance back from the query, i - j", ylabel="attention weight", yscale="log")
ax.legend(frameon=False, fontsize=8)
print(
    figure_html(
        fig,
        caption="ALiBi alone, with no content in the queries and keys: the attention weights "
        "of the last of 64 queries against the distance back, for five of the eight heads. "
        "Each is a straight line on a log scale, $e^{-m_h d}$ up to normalisation: head 0 "
        "looks at the last few tokens, head 7 almost evenly at all 64.",
        alt="Five lines on a logarithmic vertical axis, falling linearly with distance. The "
        "steepest (head 0) drops by many orders of magnitude over 64 positions; the flattest "
        "(head 7) stays nearly level.",
    )
)
