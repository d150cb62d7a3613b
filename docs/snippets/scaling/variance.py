# For each d_k, N independent pairs (q, k) with standard normal entries.
N = 2000
DIMS = [4, 16, 64, 256, 1024]
var_dot = []
print(f"{'d_k':>5} {'var(q.k)':>9} {'var(q.k)/d_k':>13} {'tolerance':>10}")
for d_k in DIMS:
    q = rng.standard_normal((N, d_k))
    k = rng.standard_normal((N, d_k))
    dots = np.einsum("ne,ne->n", q, k)  # the N dot products q . k
    var_dot.append(dots.var())
    # a variance estimated from N samples of q . k has the relative
    # standard error sqrt((2 + 6 / d_k) / N); allow five of them
    tol = 5 * np.sqrt((2 + 6 / d_k) / N)
    ratio = var_dot[-1] / d_k  # = var(q . k / sqrt(d_k)), scaled
    print(f"{d_k:>5} {var_dot[-1]:>9.1f} {ratio:>13.3f} {'±':>5}{tol:.3f}")
    assert abs(ratio - 1) < tol
var_dot = np.array(var_dot)
