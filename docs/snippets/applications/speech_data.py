fs, frame = 4000, 100  # samples per second; samples per frame (25 ms)
tones = {"a": 400.0, "o": 1000.0, "i": 1600.0}  # a pure tone per "phoneme"
spoken = [("o", 6), ("i", 4), ("a", 8)]  # what is said: (token, its frames)


def tone(freq, samples):
    return np.sin(2 * np.pi * freq * np.arange(samples) / fs)


signal = np.concatenate([tone(tones[t], n * frame) for t, n in spoken])
signal += 0.1 * rng.standard_normal(signal.size)  # a little seeded noise
frames = signal.reshape(-1, frame)  # (S, 100): 18 frames, no overlap
hann = np.hanning(frame)


def spectrum(x):
    """Magnitude of the windowed DFT (bins 40 Hz apart), scaled to length 1."""
    magnitude = np.abs(np.fft.rfft(x * hann, axis=-1))
    return magnitude / np.linalg.norm(magnitude, axis=-1, keepdims=True)


features = spectrum(frames)  # (S, 51): the "encoder" output, one row a frame
segments = np.repeat(np.arange(3), [n for _, n in spoken])  # frame -> token
print("signal", signal.shape, "-> frames", frames.shape,
      "-> features", features.shape)
print("token of each frame:", segments.tolist())
assert features.shape == (18, 51) and np.argmax(features[0]) == 1000 / 40
