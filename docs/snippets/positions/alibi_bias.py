slopes = ar.alibi_slopes(8)
print("slopes:", slopes.tolist())
L = 6
i, j = np.arange(L)[:, None], np.arange(L)[None, :]
bias = slopes[:, None, None] * (j - i)  # (H, L, L): head h adds m_h (j - i)
bias = np.where(j <= i, bias, -np.inf)  # causal: no key after the query
print("head 0, query 5:", bias[0, 5].tolist())
# linear in the distance: each step back costs the head's slope, for any query
assert np.allclose(np.diff(bias[:, 5, :6], axis=-1), slopes[:, None])
assert np.allclose(np.diff(bias[:, 3, :4], axis=-1), slopes[:, None])
