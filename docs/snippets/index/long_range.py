# One query looks at T = 1001 keys: 999 random "filler" keys, a "needle" key that points
# the same way as the query, and the query's own key (last). The needle is placed n
# positions before the query, for every n from 1 to 1000; all else stays the same.
E, T = 16, 1001
query = rng.standard_normal((1, E))
needle = 3 * query
own = rng.standard_normal((1, E))
fillers = rng.standard_normal((T - 2, E))
distances = np.arange(1, T)
needle_weight = np.empty(len(distances))
for n in distances:
    keys = np.vstack([np.insert(fillers, T - 1 - n, needle, axis=0), own])  # (S = T, E)
    _, w = ar.scaled_dot_product_attention(query, keys, keys, return_weights=True)
    needle_weight[n - 1] = w[0, T - 1 - n]  # the weight on the key n positions back
for n in (1, 10, 100, 1000):
    print(f"distance {n:>4}: weight on the needle {needle_weight[n - 1]:.6f}")
# the same weight at every distance, to rounding:
assert np.allclose(needle_weight, needle_weight[0], rtol=1e-12, atol=0)
