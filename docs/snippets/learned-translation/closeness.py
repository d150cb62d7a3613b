# (B, L)
on_true = np.take_along_axis(probs, test.alignment[..., None], axis=-1)[..., 0]
agrees = probs.argmax(axis=-1) == test.alignment  # (B, L)
print("mean weight on the true French word:", on_true.mean().round(3))
print("largest weight on the true word:    ",
      f"{agrees.mean():.1%} of the rows")
print("by English position:")
for i, role in enumerate(["det", "adj", "noun", "verb", "det", "adj", "noun"]):
    print(f"  {i} ({role:4}): weight {on_true[:, i].mean():.2f}, "
          f"largest {agrees[:, i].mean():.0%}")
content = [1, 2, 3, 5, 6]  # the adjectives, the nouns and the verb
assert agrees[:, content].all()  # every one of them, in every held-out sentence
# in order and crossed, both seen
assert set(test.alignment[:, 1].tolist()) == {1, 2}
assert on_true[:, content].mean() > 0.8 and agrees.mean() > 0.8
