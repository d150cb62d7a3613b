# One query looks at T = 1001 inputs, which serve as both keys and values:
# 999 random "fillers", a "needle" that points the same way as the query, and
# the query's own token (last). The needle is placed n positions before the
# query, for every n from 1 to 1000.
E, T = 16, 1001
query = rng.standard_normal((1, E))
needle = 3 * query
own = rng.standard_normal((1, E))
fillers = rng.standard_normal((T - 2, E))
c = 1 / np.sqrt(E)  # the default scale
distances = np.arange(1, T)
attn_influence = np.empty(len(distances))
for n in distances:
    xs_a = np.vstack([np.insert(fillers, T - 1 - n, needle, axis=0), own])  # (T, E)
    out, w = ar.scaled_dot_product_attention(query, xs_a, xs_a, return_weights=True)
    m, w_m = T - 1 - n, w[0, T - 1 - n]  # the needle's position and weight
    # d out / d x_m, through the value (w_m I) and the key (the weight's change):
    jac_a = w_m * np.eye(E) + c * w_m * np.outer(xs_a[m] - out[0], query[0])
    attn_influence[n - 1] = np.linalg.norm(jac_a, 2)

# The Jacobian for the last n by central differences of the whole attention:
fd_a, eps = np.empty((E, E)), 1e-6
for b in range(E):
    plus, minus = xs_a.copy(), xs_a.copy()
    plus[m, b] += eps
    minus[m, b] -= eps
    out_p = ar.scaled_dot_product_attention(query, plus, plus)
    out_m = ar.scaled_dot_product_attention(query, minus, minus)
    fd_a[:, b] = (out_p - out_m)[0] / (2 * eps)
assert np.allclose(fd_a, jac_a, rtol=0, atol=1e-7)  # to the differences' error

for n in (1, 10, 100, 1000):
    print(f"distance {n:>4}: |d out/d x| = {attn_influence[n - 1]:.6f}")
# the same at every distance, to rounding:
assert np.allclose(attn_influence, attn_influence[0], rtol=1e-12, atol=0)
