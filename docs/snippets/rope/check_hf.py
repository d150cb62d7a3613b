from attention_ref.conformance import rope_check


def rotate_half_rope(x, positions=None, *, base=10000.0, **ignored):
    """rotate_half RoPE: one layout, every feature rotated."""
    L, E = x.shape[-2:]
    pos = np.arange(L) if positions is None else np.asarray(positions)
    inv_freq = 1.0 / base ** (np.arange(0, E, 2) / E)
    emb = np.concatenate([np.outer(pos, inv_freq)] * 2, axis=-1)  # (L, E)
    x1, x2 = x[..., : E // 2], x[..., E // 2 :]
    rotated = np.concatenate([-x2, x1], axis=-1)
    return x * np.cos(emb) + rotated * np.sin(emb)

report = rope_check(rotate_half_rope)
print(report.format(failures_only=True, width=80))
expected = {"rope-half-split-pairs", "rope-rotary-dim-ignored"}
assert set(report.matches) == expected and not report.ok
