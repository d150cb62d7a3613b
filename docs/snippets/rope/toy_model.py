from attention_ref_site.training import positions as experiment

n, E_toy = experiment.SEQ_LEN, experiment.HEAD_DIM  # trained at 16; heads of 8
models = [experiment.train_model("rope", seed=seed).params for seed in (0, 1)]

def accuracy(T, **change):  # both seeds, on held-out sequences of length T
    tests = [experiment.test_set(seed, T) for seed in (0, 1)]
    pairs = zip(models, tests, strict=True)
    return [experiment.accuracy(m, "rope", t, **change) for m, t in pairs]

print("length | as trained | PI, s = T/16 | NTK-aware base   (seeds 0 / 1)")
result = {}
for T in (16, 32, 64):
    s_toy = T / n
    ntk_base_toy = 10000.0 * s_toy ** (E_toy / (E_toy - 2))
    result[T] = [accuracy(T), accuracy(T, rope_scale=s_toy),
                 accuracy(T, rope_base=ntk_base_toy)]
    print(f"{T:6} | " + " | ".join(f"{a:.0%} / {b:.0%}" for a, b in result[T]))
plain, pi, ntk = result[64]
assert min(ntk) > max(plain) + 0.2 and min(ntk) > 0.8  # NTK: mostly right at 4n
assert max(result[32][1] + result[64][1]) < 0.1  # PI alone breaks it
