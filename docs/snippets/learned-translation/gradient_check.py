# A tiny copy of the model (width 4, three sentences) with random parameters,
# and central
# differences for every entry of w_q: (loss(w + h) - loss(w - h)) / 2h.
check_rng = np.random.default_rng(2)
tiny_data = tr.make_data(check_rng, 3)
tiny = {k: check_rng.normal(scale=0.7, size=p.shape)
        for k, p in tr.init(check_rng, 4).items()}
_, grads = tr.loss_and_grads(tiny, tiny_data)
h, numeric = 1e-5, np.zeros_like(tiny["w_q"])
for i in np.ndindex(numeric.shape):
    saved = tiny["w_q"][i]
    tiny["w_q"][i] = saved + h
    plus = tr.forward(tiny, tiny_data)[0]
    tiny["w_q"][i] = saved - h
    minus = tr.forward(tiny, tiny_data)[0]
    tiny["w_q"][i] = saved
    numeric[i] = (plus - minus) / (2 * h)
error = np.abs(grads["w_q"] - numeric).max() / np.abs(numeric).max()
print(f"w_q: largest difference {error:.1e}, relative to the largest entry")
assert error < 1e-6
