none = runs["none"][0].params
x = experiment.make_batch(np.random.default_rng(7), 1, seq_len=n)
t = 11  # shuffle the tokens before position 11, keep the rest
shuffle = np.random.default_rng(8).permutation(t)
order = np.concatenate([shuffle, np.arange(t, n)])
shuffled = experiment.Batch(x.tokens[:, order], x.targets)
logits = experiment.forward(none, x, "none")[1]["logits"][0, t]
logits_s = experiment.forward(none, shuffled, "none")[1]["logits"][0, t]
print("answer at t = 11:", x.tokens[0, 9], "shuffled:", shuffled.tokens[0, 9])
print("prediction:      ", logits.argmax(), "shuffled:", logits_s.argmax())
assert np.allclose(logits, logits_s)  # the same output for another answer
