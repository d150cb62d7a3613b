m = np.arange(s - 1, s * L_train, s)  # every s-th position, up to the last
pi = angles(m / s)  # position interpolation: position m is rotated as m / s
trained_max = angles(np.arange(L_train))[-1]  # each pair's largest angle
print(f"the slowest pair's largest angle: trained {trained_max[-1]:.4f},")
print(f"  with PI at position {m[-1]}: {pi[-1, -1]:.4f}")
assert (pi[-1] < trained_max + theta).all()  # trained range, to one step
step = angles([1 / s])[0]  # ... but neighbours are s times closer
assert np.allclose(step, theta / s)
print(f"the fastest pair: {step[0]:.2f} rad per position, not {theta[0]:.2f}")
