ntk_base = base * s ** (E / (E - 2))  # a larger base, the positions kept
ntk = angles([1.0], base=ntk_base)[0]  # theta_i': the angles at position 1
ratio = theta / ntk
print(f"base {ntk_base:,.0f}; theta_i / theta_i' from {ratio[0]:.3f} "
      f"(pair 0) to {ratio[-1]:.3f} (pair {E // 2 - 1})")
assert np.isclose(ratio[0], 1.0) and np.isclose(ratio[-1], s)
assert np.all(np.diff(ratio) > 0)  # in between, a geometric ramp
