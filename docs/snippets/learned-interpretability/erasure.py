# (B, L, S): French words by weight, largest first
order = np.argsort(-probs, axis=-1)
print("for each English word, erase one French word;",
      "how many English words change?")
changed = []
for rank in range(tr.SOURCE_LEN):
    mask = np.ones(probs.shape, dtype=bool)
    np.put_along_axis(mask, order[..., rank : rank + 1], False, axis=-1)
    changed.append((translate(test.source, mask) != predicted).mean())
    ranked = order[..., rank : rank + 1]  # (B, L, 1)
    weight = np.take_along_axis(probs, ranked, axis=-1).mean()
    print(f"erase the word ranked {rank + 1} (mean weight {weight:.3f}): "
          f"{changed[-1]:5.1%} change")
assert changed[0] > 0.9 and max(changed[1:]) < 0.1
