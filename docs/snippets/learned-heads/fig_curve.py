fig, ax = new_figure(figsize=(5.6, 3.0))
for h, m, style in [(2, two, "o-"), (1, one, "s-")]:
    ax.plot(
        m.history["eval_step"],
        m.history["both_accuracy"],
        style,
        markersize=4,
        label=f"{h} head{'s' if h > 1 else ''}",
    )
ax.set(xlabel="Adam step", ylabel="held-out accuracy (both answers)", ylim=(0, 1.03))
ax.legend(frameon=False, loc="center right")
curve_two = np.array(two.history["both_accuracy"])
step_95 = two.history["eval_step"][np.argmax(curve_two >= 0.95)]
assert curve_two[-1] >= 0.95 and max(one.history["both_accuracy"]) < 0.5
print(
    figure_html(
        fig,
        caption=f"Learning curves on the held-out sequences. Two heads get both answers right "
        f"95% of the time from step {step_95}; one head of the same width stays below 50%.",
        alt=f"Two curves of accuracy against Adam step, 0 to 300. The two-head curve climbs "
        f"to 1.0 by step {step_95} and stays there. The one-head curve rises to about "
        f"{one.history['both_accuracy'][-1]:.2f} and stays flat.",
    )
)
