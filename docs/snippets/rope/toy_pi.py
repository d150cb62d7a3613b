# PI with s = 2: the angles of distance 4 are those distance 2 had in training
test = experiment.test_set(0, 32)
cache = experiment.forward(models[0], test, "rope", rope_scale=2.0)[1]
predicted = cache["logits"][:, 4:].argmax(axis=-1)  # (B, 28): positions 4 .. 31
four_back = (predicted == test.tokens[:, :-4]).mean()
print(f"PI at length 32: the prediction is the token 4 back {four_back:.0%} "
      "of the time")
assert four_back > 0.8
