fig, ax = new_figure(figsize=(7.0, 3.4))
styles = {"none": "-", "learned": "--", "sinusoidal": "-.", "rope": "-", "alibi": "-"}
widths = {"none": 1.0, "learned": 1.6, "sinusoidal": 1.4, "rope": 2.4, "alibi": 1.4}
for s in experiment.SCHEMES:
    ax.plot(t, at[s], styles[s], label=s, linewidth=widths[s])
ax.plot(t, 1 / t, ":", color="C5", label="order-blind\nbound 1/t", linewidth=1.6)
ax.axvline(n - 0.5, color=figures.FOREGROUND, linewidth=0.8, alpha=0.6)
ax.text(n, 1.02, " trained up to here", fontsize=8, va="bottom")
ax.set(xlabel="position t in a sequence of 64", ylabel="held-out accuracy", ylim=(0, 1.1))
ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
assert at["learned"][t > n].mean() < 0.1
lo, hi = at["alibi"].min(), at["alibi"].max()
assert 0.1 < lo and hi < 0.35  # ALiBi: low, and as low at 64 as at 16
print(
    figure_html(
        fig,
        caption=f"Accuracy at each position of sequences four times the training length "
        f"(mean of seeds {seeds[0]} and {seeds[1]}). Learned and sinusoidal positions are "
        f"right up to position {n - 1} and lose the task right after it. RoPE carries on to "
        f"about position {rope_ok} and then fails. ALiBi stays between {lo:.0%} and "
        f"{hi:.0%} at every position; no positions follows the order-blind bound $1/t$.",
        alt="Five lines against position 2 to 63. Learned and sinusoidal are at 1 until "
        f"position {n - 1} and fall after it: learned to near 0, sinusoidal mostly below "
        f"{at['sinusoidal'][t > n].mean() + 0.1:.1f} with a few bumps. RoPE stays at 1 "
        f"until about {rope_ok}, then drops. ALiBi is a low, ragged line between "
        f"{lo:.2f} and {hi:.2f}. The no-positions line falls like 1/t, on top of the "
        "dotted bound.",
    )
)
