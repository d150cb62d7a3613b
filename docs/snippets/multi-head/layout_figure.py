m = ar.MultiHeadAttention(8, 4, rng=3)  # D = 8, H = 4, head_dim = 2
D8, H4, hd2 = m.embed_dim, m.num_heads, m.head_dim
owner = np.arange(D8) // hd2  # column c of w_q, and row c of w_o, belong to head c // hd

# Check the ownership by experiment: change one head's columns of w_q, see who moves.
x8 = rng.standard_normal((5, D8))
_, before = m(x8, need_weights=True, average_attn_weights=False)  # (H, L, S)
for h in range(H4):
    saved = m.w_q.copy()
    m.w_q[:, owner == h] *= 2.0
    _, after = m(x8, need_weights=True, average_attn_weights=False)
    m.w_q = saved
    assert [g for g in range(H4) if not np.allclose(after[g], before[g])] == [h]

fig, axes = new_figure(ncols=2, figsize=(7.0, 3.4))
panels = [
    (np.broadcast_to(owner, (D8, D8)), "w_q (D, D): head h owns columns", "input feature",
     "query feature"),
    (np.broadcast_to(owner[:, None], (D8, D8)), "w_o (D, D): head h owns rows",
     "concatenated head outputs", "output feature"),
]
for ax, (grid, title, ylabel, xlabel) in zip(axes, panels, strict=True):
    ax.imshow(grid, cmap="viridis", vmin=0, vmax=H4 - 1)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.set_xticks(range(D8))
    ax.set_yticks(range(D8))
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
for h in range(H4):
    centre = h * hd2 + (hd2 - 1) / 2
    axes[0].text(
        centre,
        D8 / 2 - 0.5,
        f"head {h}",
        rotation=90,
        ha="center",
        va="center",
        color="black" if h >= H4 / 2 else "white",
    )
    axes[1].text(
        D8 / 2 - 0.5,
        centre,
        f"head {h}",
        ha="center",
        va="center",
        color="black" if h >= H4 / 2 else "white",
    )
print(
    figure_html(
        fig,
        caption=f"Where each head's parameters live, for $D = {D8}$, $H = {H4}$ "
        f"(`head_dim` = {hd2}): head $h$ owns columns `h*hd:(h+1)*hd` of `w_q` (and of `w_k`, "
        "`w_v`) and the same rows of `w_o`. Checked above by doubling one head's columns of "
        "`w_q`: only that head's weights change.",
        alt=f"Two {D8} by {D8} grids. In the left one, w_q, vertical bands of {hd2} columns are "
        f"coloured by head, heads 0 to {H4 - 1} from left to right. In the right one, w_o, "
        f"horizontal bands of {hd2} rows are coloured by head, from top to bottom.",
    )
)
