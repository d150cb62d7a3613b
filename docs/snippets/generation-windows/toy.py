results = {name: evaluate(mask) for name, mask in masks.items()}
full_probs = results["full causal"][1]  # (B, H, L, L)
# (H,) weight on position 0
on_first = full_probs[:, :, K:, 0].mean(axis=(0, 2))
uniform = float(np.mean(1 / (np.arange(K, L) + 1)))  # spread evenly instead
print("weight on position 0, mean over the second-half queries:")
print(f"  head 0 {on_first[0]:.3f}, head 1 {on_first[1]:.4f}",
      f"(evenly: {uniform:.3f})")
print("accuracy:")
acc = {name: a for name, (a, _) in results.items()}
for name, a in acc.items():
    print(f"{name:>20}: previous digit {a['previous']:.3f},",
          f"letter {a['match']:.3f}")
# the local answer survives
assert min(a["previous"] for a in acc.values()) > 0.95
window, sinks = acc["window 4"]["match"], acc["window 4 + 2 sinks"]["match"]
assert window < sinks < acc["full causal"]["match"]  # each sink recovers some
assert on_first[1] < 0.01  # head 1 puts (almost) nothing on position 0
# head 0 weighs position 0 like the other first-half positions
# (< 1.5 x their mean)
assert on_first[0] < 1.5 * full_probs[:, 0, K:, 1:K].mean()
