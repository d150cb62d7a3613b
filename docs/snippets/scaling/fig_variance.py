dims = np.array(DIMS)
fig, ax = new_figure(figsize=(4.8, 3.2))
ax.plot(dims, dims, "--", linewidth=1, label="$d_k$ (the derivation)")
ax.plot(dims, var_dot, "o", label="var(q·k), unscaled")
ax.plot(dims, var_dot / dims, "s", label="var(q·k / √$d_k$), scaled")
ax.set(xscale="log", yscale="log", xlabel="$d_k$", ylabel="variance")
ax.set_xticks(dims, [str(d) for d in dims])
ax.minorticks_off()
ax.legend(frameon=False)
assert np.allclose(np.polyfit(np.log(dims), np.log(var_dot), 1)[0], 1, atol=0.05)
print(
    figure_html(
        fig,
        caption="The variance of $q \\cdot k$ grows in proportion to $d_k$ (slope 1 "
        "on log-log axes); divided by $\\sqrt{d_k}$, it stays at 1.",
        alt="Log-log plot of variance against d_k from 4 to 1024. The unscaled "
        "points lie on a straight rising line through 4 and 1024; the scaled "
        "points lie on a flat line at 1.",
    )
)
