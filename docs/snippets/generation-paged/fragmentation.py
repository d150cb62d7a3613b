# 200 requests: prompt and output lengths drawn at random (log-uniform),
# at most 2048 in all.
log_lengths = rng.uniform(np.log(16), np.log(2048), 200)
lengths = np.round(np.exp(log_lengths)).astype(int)
assert 16 <= lengths.min() and lengths.max() <= 2048
used = lengths.sum()  # tokens actually stored
print(f"{len(lengths)} requests, {used:,} tokens, "
      f"mean {lengths.mean():.0f}, max {lengths.max()}")
print(f"{'allocation':>34} {'slots reserved':>15} {'used for tokens':>16}")
reserved = {"contiguous, the maximum 2048 each": 2048 * len(lengths)}
for bs in (8, 16, 32):
    # whole blocks
    reserved[f"blocks of {bs}"] = int((-(-lengths // bs) * bs).sum())
for name, slots in reserved.items():
    print(f"{name:>34} {slots:>15,} {used / slots:>15.1%}")
# under one block per request
assert reserved["blocks of 16"] - used < 16 * len(lengths)
assert used / reserved["contiguous, the maximum 2048 each"] < 0.5
