# Peak memory (traced by tracemalloc) against L = S, one head, E = Ev = 32, float64.
import tracemalloc


def peak_mib(f):
    tracemalloc.start()
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


# One call of each first, untraced: their one-time set-up (the thread pool's BLAS
# controller, caches) would otherwise land in the first measurement, with a size that
# varies with Python's hash seed, and this figure would differ from one build to the next.
tiny = rng.standard_normal((8, 32))
ar.scaled_dot_product_attention(tiny, tiny, tiny, return_weights=True)
ar.flash_attention(tiny, tiny, tiny, block_size=64)

lengths = np.array([256, 512, 1024, 2048])
plain, flash = [], []
for n in lengths:
    q, k, v = (rng.standard_normal((n, 32)) for _ in range(3))
    plain.append(
        peak_mib(
            lambda q=q, k=k, v=v: ar.scaled_dot_product_attention(q, k, v, return_weights=True)
        )
    )
    flash.append(peak_mib(lambda q=q, k=k, v=v: ar.flash_attention(q, k, v, block_size=64)))
plain, flash = np.array(plain), np.array(flash)
assert plain[-1] / plain[0] > 0.75 * 8**2  # L x S: 8 times longer, about 64 times the memory
assert flash[-1] / flash[0] < 1.5 * 8  # L x block: about 8 times
assert flash[-1] < plain[-1] / 8

fig, ax = new_figure(figsize=(4.8, 3.2))
ax.plot(lengths, plain, "o-", label="all the scores (return_weights=True)")
ax.plot(lengths, flash, "s-", label="flash_attention, block_size=64")
ax.plot(lengths, lengths**2 * 8 / 2**20, "--", linewidth=1, label="one L-by-S float64 array")
ax.set(xscale="log", yscale="log", xlabel="L = S", ylabel="peak memory (MiB)")
ax.set_xticks(lengths, [str(n) for n in lengths])
ax.minorticks_off()
ax.legend(frameon=False, fontsize="small")
print(
    figure_html(
        fig,
        caption="Peak memory of one head against the sequence length, measured while this "
        "page was built. With every score in memory it grows as $L \\times S$ (slope 2 on "
        "log-log axes); flash attention keeps one block of 64 keys per query and grows as $L$.",
        alt="Log-log plot of peak memory against L = S from 256 to 2048. The line for all "
        "the scores rises steeply, on top of the dashed line of one L by S array; the line "
        "for flash attention rises with slope one and ends about ten times lower.",
    )
)
