example = hm.make_batch(np.random.default_rng(1), 1)  # only an example
tokens = hm.text(example)
print("first half: ", " ".join(tokens[: hm.K]))
print("second half:", " ".join(tokens[hm.K :]))
for i, token in enumerate(tokens[hm.K :]):
    previous, match = example.previous[0, i], example.match[0, i]
    print(f"  at {token}: previous digit {previous}, "
          f"digit of {token[0]} in the first half {match}")
    assert int(tokens[hm.K + i - 1][1]) == previous
    assert f"{token[0]}{match}" in tokens[: hm.K]
