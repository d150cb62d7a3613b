# Prefill, then one token at a time, drawn from a real KVCache: which keys and values each
# step computes, which it reads from the cache, and which its causal mask hides.
from attention_ref_site import diagrams

T, steps, E = 4, 3, 4  # a prompt of 4 tokens, then 3 decode steps
n = T + steps
q_all, k_all, v_all = rng.standard_normal((3, 1, 1, n, E))
full = ar.scaled_dot_product_attention(q_all, k_all, v_all, is_causal=True)
cache, panels, before = ar.KVCache(), [], np.zeros((1, 1, 0, E))
for start, stop in [(0, T)] + [(T + s, T + s + 1) for s in range(steps)]:
    keys, values = cache.update(k_all[:, :, start:stop], v_all[:, :, start:stop])
    S, new = keys.shape[-2], stop - start
    assert np.array_equal(keys[..., : S - new, :], before)  # read back, not recomputed
    mask = np.tril(np.ones((new, S), bool), k=S - new)  # causal, bottom-right
    out = ar.scaled_dot_product_attention(
        q_all[:, :, start:stop], keys, values, attn_mask=mask
    )
    assert np.allclose(out, full[:, :, start:stop])  # the rows of full causal attention
    codes = np.zeros((new, n), int)  # 0: no such position yet
    codes[:, : S - new] = 1  # 1: keys and values read from the cache
    codes[:, S - new : S] = 2  # 2: computed in this step
    codes[:, :S][~mask] = 3  # 3: masked (a later position of the same chunk)
    title = "prefill" if start == 0 else f"decode step {start - T + 1}"
    panels.append((f"{title}: {new} quer{'ies' if new > 1 else 'y'}", codes))
    before = keys
print(diagrams.cell_grid(
    panels,
    kinds=["not computed", "read from the cache", "computed in this step", "masked"],
    note="rows: this step's queries \u2193   columns: key positions \u2192",
    caption=f"A `KVCache` through a prefill of {T} tokens and {steps} decode steps, "
    "drawn from the arrays above: each step computes the keys and values of its new "
    "positions only, reads every earlier one back from the cache, and its rows equal "
    "those of causal attention over the whole sequence (asserted).",
    alt=f"Four grids with {n} key columns. Prefill: {T} rows; keys 0 to {T - 1} computed "
    "in this step, the upper triangle masked, later columns not computed yet. Each decode "
    "step: one row; the earlier keys read from the cache, the newest key computed in "
    "this step, later columns not computed yet.",
))
