from attention_ref_site.training import positions as experiment

n, E_toy = experiment.SEQ_LEN, experiment.HEAD_DIM  # trained at 16, heads of 8
print("length | as trained | PI, s = T/16 | NTK-aware base  (seeds 0 / 1)")
result = {}
for T in (16, 32, 64):
    s_toy = T / n
    ways = {"plain": {}, "PI": {"rope_scale": s_toy},
            "NTK": {"rope_base": 10000.0 * s_toy ** (E_toy / (E_toy - 2))}}
    for way, change in ways.items():
        result[T, way] = [
            experiment.accuracy(experiment.train_model("rope", seed=seed).params,
                                "rope", experiment.test_set(seed, T), **change)
            for seed in (0, 1)
        ]
    print(f"{T:6} | " + " | ".join(
        " / ".join(f"{a:.0%}" for a in result[T, way]) for way in ways))
assert min(result[64, "NTK"]) > max(result[64, "plain"]) + 0.2  # NTK helps
assert min(result[64, "NTK"]) > 0.8  # mostly right at 4n
assert max(result[32, "PI"] + result[64, "PI"]) < 0.1  # PI alone breaks it
# with PI at s = 2, the angles of distance 4 are those distance 2 had in training
test = experiment.test_set(0, 32)
model = experiment.train_model("rope", seed=0).params
logits = experiment.forward(model, test, "rope", rope_scale=2.0)[1]["logits"]
four_back = (logits[:, 4:].argmax(axis=-1) == test.tokens[:, :-4]).mean()
print(f"PI at length 32: the prediction is the token 4 back {four_back:.0%} of the time")
assert four_back > 0.8
