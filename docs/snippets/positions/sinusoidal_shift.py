pe = ar.sinusoidal_positions(256, 32)  # (L, D): positions 0 .. 255, width 32
omega = 10000.0 ** (-np.arange(0, 32, 2) / 32)  # (D/2,): the pairs' frequencies
k = 5
M = np.zeros((32, 32))  # M_5: turn every (sin, cos) pair by 5 omega_i
for i, w in enumerate(omega):
    c, s = np.cos(k * w), np.sin(k * w)
    M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, -s], [s, c]]
p = np.arange(0, 256 - k)
err = np.abs(pe[p] @ M - pe[p + k]).max()
print(f"max over p = 0 .. 250 of |PE[p] M_5 - PE[p + 5]|: {err:.1e}")
assert err < 1e-12  # one matrix, every position
