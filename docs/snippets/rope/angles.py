E, base = 128, 10000.0  # a Llama head
L_train, s = 4096, 4  # trained on 4096 positions, to run on 4 * 4096 = 16384

def angles(positions, base=base):
    """Each pair's angle at increasing positions (steps of at most 1), read off
    rotary_embedding itself: rotate (1, 0), take atan2, count the turns."""
    pos = np.concatenate([[0.0], positions])  # from position 0, angle 0
    probe = np.zeros((len(pos), E))
    probe[:, : E // 2] = 1.0  # (1, 0) in every half-split pair (i, i + E/2)
    out = ar.rotary_embedding(probe, pos, base=base)
    wrapped = np.arctan2(out[:, E // 2 :], out[:, : E // 2])
    return np.unwrap(wrapped, axis=0)[1:]  # (L, E/2)

theta = base ** (-np.arange(0, E, 2) / E)
wavelength = 2 * np.pi / theta  # positions per full turn of each pair
assert np.allclose(angles([1, 2, 3])[2], 3 * theta)
print(f"wavelengths: {wavelength[0]:.2f} (pair 0) to "
      f"{wavelength[-1]:,.0f} (pair {E // 2 - 1})")
slow = (wavelength > L_train).sum()
print(f"pairs that never complete a turn in {L_train} positions: {slow}")
