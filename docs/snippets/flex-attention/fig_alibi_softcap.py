# ALiBi's bias for one head, and the soft cap's curve.
slopes = 2.0 ** (-8.0 * np.arange(1, 5) / 4)  # the paper's slopes for 4 heads
alibi = ar.mods.alibi(slopes)
q_idx, kv_idx = np.arange(8)[:, None], np.arange(8)[None, :]
bias = alibi(np.zeros((8, 8)), 0, 0, q_idx, kv_idx)  # head 0: slope 1/4
bias = np.where(kv_idx <= q_idx, bias, np.nan)  # ALiBi runs causal: hide the future
fig, (ax_b, ax_c) = new_figure(ncols=2, figsize=(7.4, 3.0), gridspec_kw={"wspace": 0.35})
image = ax_b.imshow(bias, cmap="cividis")
fig.colorbar(image, ax=ax_b, fraction=0.046, pad=0.04)
ax_b.set_xlabel("key")
ax_b.set_ylabel("query")
ax_b.set_title("ALiBi bias, head 0 (slope 1/4)", fontsize=9)
x = np.linspace(-120, 120, 481)
for cap in (50.0, 20.0):
    ax_c.plot(x, ar.mods.softcap(cap)(x, 0, 0, 0, 0), label=f"softcap({cap:g})")
ax_c.plot(x, x, linestyle=":", label="no cap")
ax_c.set_ylim(-70, 70)
ax_c.set_xlabel("scaled score")
ax_c.set_title("cap · tanh(score / cap)", fontsize=9)
ax_c.legend(fontsize=8, loc="upper left")
assert np.allclose(np.diff(bias[7, :8]), slopes[0])  # linear in the distance
print(figure_html(
    fig,
    caption="Left: the bias ALiBi adds to head 0's scores, $-\\frac{1}{4}(i - j)$ under the "
    "causal mask (blank: masked). Right: soft-capping maps every score into "
    "$(-\\text{cap}, \\text{cap})$ and leaves small ones almost unchanged.",
    alt="Left, a lower-triangular 8 by 8 image whose colour darkens linearly away from the "
    "diagonal, from 0 on it to -1.75 in the bottom-left corner. Right, two S-shaped curves "
    "flattening at plus and minus 50 and 20, following the dotted identity line near 0.",
))
