fig, ax = new_figure(figsize=(6.0, 3.2))
ax.plot(distances, attn_influence, label="attention")
ax.plot(distances, rnn_influence, label="tanh RNN")
ax.set(xscale="log", yscale="log", xlabel="distance n")
ax.set_ylabel("norm of d(output)/d(input n back)")
low = int(np.floor(np.log10(rnn_influence.min()) / 50)) * 50  # ticks every 50 decades
ax.set_yticks([10.0**e for e in range(low, 1, 50)])
ax.legend(loc="lower left")
fig.tight_layout()
assert np.ptp(attn_influence) < 1e-12 * attn_influence[0]
assert rnn_influence[-1] < 1e-6 * attn_influence[0] < rnn_influence[0]
print(
    figure_html(
        fig,
        caption="The same measure for both models: how much the output responds to the "
        "input n positions back (the spectral norm of the Jacobian). Attention's is the "
        "same at every distance from 1 to 1000; the tanh RNN's falls by orders of "
        "magnitude with n.",
        alt="A log-log plot against distance n from 1 to 1000. The attention line is flat "
        f"at {attn_influence[0]:.2f}; the RNN line starts near {rnn_influence[0]:.1f} and "
        f"falls ever faster, to about {rnn_influence[-1]:.0e} at n = 1000.",
    )
)
