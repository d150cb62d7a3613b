answer = passage.index("1889")
fig, ax = new_figure(figsize=(6.4, 2.8))
bars = ax.bar(position, weights, color=np.where(position == answer, "C0", "C1"))
ax.bar_label(bars, fmt="%.2f", fontsize=7)
ax.set_xticks(position, passage, rotation=45, ha="right")
ax.set_ylabel("weight")
ax.set_title("When did the tower open?", fontsize=10)
assert weights.argmax() == answer
others = np.delete(weights, [answer, passage.index("1884")])
print(
    figure_html(
        fig,
        caption="The question's weights over the passage. The peak is the answer, "
        "1889: a date (what 'when' asks for) with 'opened' nearby. The other "
        "date, 1884, gets much less.",
        alt=f"A bar chart over the 13 passage words. The bar of 1889 is by far the "
        f"tallest, {weights[answer]:.2f}; 1884 is next with "
        f"{weights[passage.index('1884')]:.2f}; every other word gets "
        f"{others.max():.2f} or less.",
    )
)
