# FLOPs and bytes read per new token, counted by the toy decoder as it runs, with the cache
# (one position through the model) and without it (every position again).
model = ToyDecoder(width=64, layers=2, heads=4, kv_heads=1, seed=0)
lengths = np.array([64, 128, 256, 512, 1024])
cost = {"cache": [], "recompute": []}
for S in lengths:
    tokens = rng.integers(0, model.vocab, size=(1, S))
    caches = model.new_caches()
    model.forward(tokens[:, :-1], caches)  # prefill: the S - 1 earlier positions
    model.flops = model.bytes_read = 0
    model.forward(tokens[:, -1:], caches)  # decode: position S - 1 only
    cost["cache"].append((model.flops, model.bytes_read))
    model.flops = model.bytes_read = 0
    model.forward(tokens)  # no cache: all S positions again
    cost["recompute"].append((model.flops, model.bytes_read))
cache, recompute = np.array(cost["cache"]), np.array(cost["recompute"])
# with the cache the FLOPs grow by a constant per doubling of S (linear); without, ~4x (quadratic)
assert np.allclose(np.diff(np.diff(cache[:, 0]) / np.diff(lengths)), 0)
growth = recompute[1:, 0] / recompute[:-1, 0]  # per doubling: tends to 4 as S^2 dominates
assert (np.diff(growth) > 0).all() and growth[-1] > 3
assert (recompute[:, 1] == cache[:, 1]).all()  # the same bytes: weights and every key/value

fig, (ax1, ax2) = new_figure(ncols=2, figsize=(7.6, 3.0))
ax1.plot(lengths, recompute[:, 0], "s-", label="without the cache")
ax1.plot(lengths, cache[:, 0], "o-", label="with the cache")
ax1.set(xscale="log", yscale="log", xlabel="S, positions in the context", ylabel="FLOPs per new token")
ax2.plot(lengths, recompute[:, 1] / 2**20, "s-", label="without the cache")
ax2.plot(lengths, cache[:, 1] / 2**20, "o--", label="with the cache")
ax2.set(xscale="log", xlabel="S, positions in the context", ylabel="MiB read per new token")
for ax in (ax1, ax2):
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.minorticks_off()
ax1.legend(frameon=False, fontsize="small")
fig.tight_layout()
print(
    figure_html(
        fig,
        caption="Cost of one new token of a 2-layer toy decoder (width 64, 4 query heads, "
        "1 key/value head, float64), counted from the shapes it multiplied while this page "
        "was built. Left: without the cache every position is computed again, so the FLOPs "
        "grow towards $S^2$ (the products with the weights are $S$ times one token's, "
        "attention $S^2$); with it they grow as $S$. Right: the bytes read (weights, then every "
        "key and value) are the same either way: the cache saves arithmetic, not reading.",
        alt="Two log-log plots against S from 64 to 1024. Left, FLOPs per token: the line "
        "without the cache rises ever more steeply (towards four times per doubling), the line with the "
        "cache rises slowly. Right, MiB read per token: the two lines coincide and rise "
        "gently.",
    )
)
