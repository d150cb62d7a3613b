fig, (left, right) = new_figure(ncols=2, figsize=(8.0, 3.0))
left.plot(distances, needle_weight)
left.set(xscale="log", ylim=(0, 1.05), xlabel="distance n", title="attention")
left.set_ylabel("weight on the matching key")
right.plot(distances, rnn_influence)
right.set(xscale="log", yscale="log", xlabel="distance n", title="tanh RNN")
right.set_yticks([10.0**-e for e in range(0, 301, 50) if 10.0**-e >= rnn_influence.min()])
right.set_ylabel("norm of dh/dx, n steps back")
fig.tight_layout()
assert np.ptp(needle_weight) < 1e-12 and rnn_influence[-1] < rnn_influence[0]
print(
    figure_html(
        fig,
        caption="Left: the weight attention gives the matching key is the same at every distance "
        "from 1 to 1000. Right: how much the final state of a tanh RNN responds to the input n "
        "steps back (the Jacobian's norm) falls by orders of magnitude with n.",
        alt="Two line plots against distance n from 1 to 1000 on a log axis. Left: a flat "
        "horizontal line near the top. Right: on a log scale, a line that starts near 1, "
        f"falls ever faster and ends near {rnn_influence[-1]:.0e} at n = 1000.",
    )
)
