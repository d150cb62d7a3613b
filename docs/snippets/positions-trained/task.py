from attention_ref_site.training import positions as experiment

batch = experiment.make_batch(np.random.default_rng(1), 1)
tokens, targets = batch.tokens[0], batch.targets[0]
print("position t:", " ".join(f"{t:3}" for t in range(len(tokens))))
print("token:     ", " ".join(f"{x:3}" for x in tokens))
print("answer:    ", " " * 7, " ".join(f"{y:3}" for y in targets))
assert (targets == tokens[:-2]).all()  # the token at t - 2, for t = 2 .. 15
assert len(set(tokens.tolist())) == experiment.SEQ_LEN  # all different
