results = {name: evaluate(mask) for name, mask in masks.items()}
full_probs = results["full causal"][1]
on_first = full_probs[:, :, K:, 0].mean(axis=(0, 2))  # (H,) weight on position 0, second half
uniform = float(np.mean(1 / (np.arange(K, L) + 1)))  # what spreading evenly would give
print("weight on position 0, mean over the second-half queries:")
print(f"  head 0 {on_first[0]:.3f}, head 1 {on_first[1]:.4f} (spread evenly: {uniform:.3f})")
print("accuracy:")
for name, (acc, _) in results.items():
    print(f"{name:>20}: previous digit {acc['previous']:.3f}, matching letter {acc['match']:.3f}")
acc = {name: a for name, (a, _) in results.items()}
assert min(a["previous"] for a in acc.values()) > 0.95  # the local answer survives
assert acc["window 4"]["match"] < acc["window 4 + 2 sinks"]["match"] < acc["full causal"]["match"]
assert on_first[1] < 0.01  # the previous-position head puts (almost) nothing on position 0
# head 0 weighs position 0 like any other first-half position: no more than 1.5 times their mean
assert on_first[0] < 1.5 * full_probs[:, 0, K:, 1:K].mean()
