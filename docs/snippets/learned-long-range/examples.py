example_rng = np.random.default_rng(1)  # only for these examples
examples = recall.make_batch(example_rng, 4)
for tokens, answer, n in zip(*examples, strict=True):
    print(f"{recall.text(tokens)}   answer {recall.LETTERS[answer]!r}, n = {n}")
    capital = recall.text(tokens)[-1 - n]
    assert capital.isupper() and capital.lower() == recall.LETTERS[answer]
print("sequence length T =", recall.SEQ_LEN, "   chance:", 1 / recall.CLASSES)
assert recall.SEQ_LEN == 24 and recall.CLASSES == 8
