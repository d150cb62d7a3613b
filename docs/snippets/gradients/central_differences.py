# The loss L = sum(O * dO) has, as its gradient, exactly the vector-Jacobian
# product for dO.
q, k = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
v = rng.standard_normal((5, 2))
mask = np.ones((3, 5), dtype=bool)
mask[0, 3:] = False  # query 0 may not attend keys 3 and 4
d_out = rng.standard_normal((3, 2))


def loss(q, k, v):
    out = ar.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return np.sum(out * d_out)


def central_differences(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


d_q, d_k, d_v = ar.sdpa_backward(d_out, q, k, v, attn_mask=mask)
numeric = (
    central_differences(lambda x: loss(x, k, v), q),
    central_differences(lambda x: loss(q, x, v), k),
    central_differences(lambda x: loss(q, k, x), v),
)
for name, exact, approx in zip(("d_q", "d_k", "d_v"), (d_q, d_k, d_v), numeric,
                               strict=True):
    error = np.abs(exact - approx).max()
    print(f"{name}: largest difference from central differences {error:.1e}")
    assert error < 1e-8  # the step's truncation and rounding errors are ~1e-10
