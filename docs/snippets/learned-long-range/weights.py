probe = recall.test_batch(np.random.default_rng(3), 32)  # 32 sequences per n
odd_letters = []
for seed, run in zip(seeds, runs["attention"], strict=True):
    _, cache = recall.forward_attention(run.params, probe)
    weights = cache["probs"][:, 0, :]  # (B, T): the weights of the "?" query
    capital = recall.SEQ_LEN - 1 - probe.distance  # (32,): where the capital is
    on_capital = weights[np.arange(len(weights)), capital]
    by_letter = [on_capital[probe.answer == a].mean()
                 for a in range(recall.CLASSES)]
    print(f"seed {seed}, mean weight on the capital, by letter:")
    pairs = zip("ABCDEFGH", by_letter, strict=True)
    print("  " + "  ".join(f"{c} {w:.2f}" for c, w in pairs))
    odd = int(np.argmin(by_letter))  # the one letter the "?" does not look for
    assert np.sort(by_letter)[1] > 0.95 and by_letter[odd] < 0.9
    odd_letters.append(odd)
    if seed == 0:
        others = probe.answer != odd
        by_n = np.array([on_capital[others & (probe.distance == d)].mean()
                         for d in n])
assert len(set(odd_letters)) == len(seeds)  # a different letter for each seed
print("seed 0, the other seven letters, mean weight at each n = 1 .. 23:",
      f"{by_n.min():.2f} or more")
assert by_n.min() > 0.9  # at every distance
