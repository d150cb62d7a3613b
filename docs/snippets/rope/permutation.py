# feature 2i goes to slot i, feature 2i + 1 to slot i + E/2
perm = np.concatenate([np.arange(0, E, 2), np.arange(1, E, 2)])
print("perm:", perm.tolist())
q = x @ w_q
inter = ar.rotary_embedding(q, interleaved=True)
assert np.allclose(ar.rotary_embedding(q[:, perm]), inter[:, perm])  # commute
# so permuting the columns of w_q and w_k converts the checkpoint
hf_converted = scores(w_q[:, perm], w_k[:, perm], interleaved=False)
print(f"after permuting the columns: {np.abs(meta - hf_converted).max():.1e}")
assert np.allclose(hf_converted, meta, atol=1e-12)  # Meta's scores exactly
