models = [tr.train_model(seed=s) for s in (0, 1, 2)]  # seed 0 is model A
weights = [tr.predict(m.params, test) for m in models]  # (words, weights) each
largest = [w.argmax(axis=-1) for _, w in weights]  # (B, L) per seed
for s, (words, _) in enumerate(weights):
    print(
        f"seed {s}: {(words == test.target).mean():.1%} of the words right, "
        "largest weight on the true word "
        f"{(largest[s] == test.alignment).mean():.1%}"
    )
same_rows = (largest[0] == largest[1]) & (largest[1] == largest[2])
print(f"the three seeds' largest weights agree on {same_rows.mean():.1%} "
      "of the rows")
assert all((words == test.target).all() for words, _ in weights)
assert 0.75 < same_rows.mean() < 0.85  # they disagree on about a fifth
