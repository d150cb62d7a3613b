def accuracy_by_position(scheme, T):
    """(T - 2,): accuracy at t = 2 .. T - 1, over both seeds' test sets."""
    right = []
    for seed, run in zip(seeds, runs[scheme], strict=True):
        test = experiment.test_set(seed, T)
        logits = experiment.forward(run.params, test, scheme)[1]["logits"]
        right.append(logits[:, 2:].argmax(axis=-1) == test.targets)
    return np.concatenate(right).mean(axis=0)

T = 4 * n
t = np.arange(2, T)
at = {s: accuracy_by_position(s, T) for s in experiment.SCHEMES}
after = {s: at[s][t >= n].mean() for s in ("learned", "sinusoidal")}
print(f"from t = {n} on: learned {after['learned']:.1%} right, "
      f"sinusoidal {after['sinusoidal']:.1%}")
for s in ("learned", "sinusoidal"):  # right up to the training length ...
    assert at[s][t < n].min() > 0.95 and at[s][t > n].max() < 0.6
assert after["learned"] < 0.05 < after["sinusoidal"] < 0.3  # ... not after
rope_ok = t[at["rope"] > 0.9].max()  # the last position RoPE gets 90% right
print(f"RoPE: the last t with 90% right: {rope_ok}; from t = {3 * n} on, "
      f"at most {at['rope'][t >= 3 * n].max():.0%}")
assert at["rope"][t < 2 * n].min() > 0.95 and at["rope"][t >= 3 * n].max() < 0.1
assert 2 * n <= rope_ok < 3 * n
