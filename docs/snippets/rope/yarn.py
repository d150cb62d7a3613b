alpha, beta = 1, 32  # YaRN's ramp, in turns (the paper's values for Llama)
turns = L_train / wavelength  # r_i: turns of pair i in the training context
gamma = np.clip((turns - alpha) / (beta - alpha), 0, 1)  # 1: keep, 0: PI
yarn_theta = (1 - gamma) * theta / s + gamma * theta
# each pair is RoPE with R = 2 (theta_0 = 1) at positions scaled by theta_i'
q = rng.normal(size=(3, E))
pos = np.array([5.0, 700.0, 15000.0])
half = E // 2
rotated = np.empty_like(q)
for i in range(half):
    pair = q[:, [i, i + half]]
    rotated[:, [i, i + half]] = ar.rotary_embedding(pair, pos * yarn_theta[i])
a = pos[:, None] * yarn_theta  # (3, E/2): the same rotation, written out
c, sn = np.cos(a), np.sin(a)
q1, q2 = q[:, :half], q[:, half:]
direct = np.concatenate([q1 * c - q2 * sn, q2 * c + q1 * sn], axis=1)
assert np.allclose(rotated, direct)
print(f"pairs kept: {(gamma == 1).sum()}, interpolated: {(gamma == 0).sum()}, "
      f"on the ramp: {((gamma > 0) & (gamma < 1)).sum()}")
