dims = np.array(DIMS)
fig, (left, right) = new_figure(ncols=2, figsize=(8.0, 3.0))
for name, table, marker in (("scaled", scaled, "o-"), ("unscaled", unscaled, "s-")):
    left.plot(dims, table[:, 0], marker, label=name)
    right.plot(dims, table[:, 2], marker, label=name)
left.set(xscale="log", ylim=(0, 1.05), xlabel="$d_k$", ylabel="mean largest weight")
right.set(xscale="log", yscale="log", xlabel="$d_k$", ylabel="median norm of the Jacobian")
for ax in (left, right):
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.minorticks_off()
left.legend(frameon=False)
fig.tight_layout()
assert unscaled[-1, 0] > 0.9 and unscaled[-1, 2] < scaled[-1, 2] / 100
print(
    figure_html(
        fig,
        caption="Without the scale, softmax saturates as $d_k$ grows: the largest weight "
        "approaches 1 (left) and the Jacobian, through which every gradient to the scores "
        "passes, shrinks by orders of magnitude (right). With the scale, both stay put. "
        f"{T} queries against {S} keys for each $d_k$.",
        alt="Two line plots against d_k from 4 to 1024 on a log axis, scaled and unscaled. "
        f"Left: the scaled mean largest weight is flat near {scaled[:, 0].mean():.2f} while "
        f"the unscaled one rises to {unscaled[-1, 0]:.2f}. Right, on a log scale: the scaled "
        f"Jacobian norm is flat near {scaled[:, 2].mean():.2f} while the unscaled one falls "
        f"to {unscaled[-1, 2]:.1e}.",
    )
)
