# For each d_k: T queries, each against its own S keys, all entries standard
# normal; the weights with the default scale 1/sqrt(d_k) and with scale=1.
T, S = 200, 16


def jacobian_norm(p):  # p: (T, S); the spectral norm of diag(p) - p p^T
    jac = p[:, :, None] * np.eye(S) - p[:, :, None] * p[:, None, :]
    return np.linalg.norm(jac, ord=2, axis=(1, 2))


def entropy(p):  # in nats: 0 for a one-hot row, log(S) for a uniform one
    return -(p * np.log(np.maximum(p, np.finfo(float).tiny))).sum(axis=-1)


stats = {"scaled": [], "unscaled": []}  # per d_k: max weight, entropy, |J|
for d_k in DIMS:
    q = rng.standard_normal((T, 1, d_k))  # T problems of L = 1 query ...
    k = rng.standard_normal((T, S, d_k))  # ... and S keys each
    for name, scale in (("scaled", None), ("unscaled", 1.0)):
        _, w = ar.scaled_dot_product_attention(
            q, k, k, scale=scale, return_weights=True
        )
        p = w[:, 0]  # (T, S): one row of weights per problem
        max_weight, mean_entropy = p.max(axis=-1).mean(), entropy(p).mean()
        median_norm = np.median(jacobian_norm(p))
        stats[name].append((max_weight, mean_entropy, median_norm))
scaled, unscaled = np.array(stats["scaled"]), np.array(stats["unscaled"])

titles = ("mean max weight", "mean entropy", "median |J|")
print(" " * 5 + "".join(f" {t:>17}" for t in titles))
print(f"{'d_k':>5}" + " {:>8} {:>8}".format("scaled", "unscaled") * 3)
for d_k, s, u in zip(DIMS, scaled, unscaled, strict=True):
    pairs = zip(s, u, strict=True)  # (scaled, unscaled) per statistic
    cells = "".join(f" {a:>#8.3g} {b:>#8.3g}" for a, b in pairs)
    print(f"{d_k:>5}{cells}")

# Scaled: every statistic stays within 20% (even 10%) of its value at d_k = 4.
assert (np.abs(scaled / scaled[0] - 1) < 0.2).all()
assert (np.abs(scaled / scaled[0] - 1) < 0.1).all()
# Unscaled: the largest weight climbs towards 1, the entropy towards 0 ...
assert (np.diff(unscaled[:, 0]) > 0).all() and unscaled[-1, 0] > 0.9
assert (np.diff(unscaled[:, 1]) < 0).all() and unscaled[-1, 1] < 0.1
# ... and the Jacobian falls more than 100-fold below the scaled one.
assert unscaled[-1, 2] < scaled[-1, 2] / 100
