lengths = experiment.TEST_LENGTHS  # (16, 32, 64): n, 2n, 4n
mean = {s: [np.mean([run.accuracy[T] for run in runs[s]]) for T in lengths] for s in runs}
names = ["n", "2n", "4n"]
print("| positions | " + " | ".join(f"{k} = {T}" for k, T in zip(names, lengths, strict=True)) + " |")
print("|---|" + "---:|" * len(lengths))
for scheme in experiment.SCHEMES:
    print(f"| {scheme} | " + " | ".join(f"{a:.1%}" for a in mean[scheme]) + " |")
blind = [experiment.order_blind_bound(T) for T in lengths]
print("| *order-blind bound* | " + " | ".join(f"{b:.1%}" for b in blind) + " |")
spread = max(
    abs(run.accuracy[T] - mean[s][i]) for s in runs for run in runs[s] for i, T in enumerate(lengths)
)
assert spread < 0.05  # the two seeds agree to within 5 points everywhere
assert abs(mean["learned"][1] - (n - 2) / (2 * n - 2)) < 0.02  # the share of t < n at 2n
assert mean["rope"][1] > 0.99 and mean["rope"][2] < 0.7
for s in ("learned", "sinusoidal", "rope"):  # they lose a third or more at 4n ...
    assert mean[s][2] < 0.7 * mean[s][0]
assert mean["alibi"][2] > 0.75 * mean["alibi"][0]  # ... ALiBi keeps three quarters or more
