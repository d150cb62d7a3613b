from attention_ref_site.training import positions as experiment

trained = experiment.train_model("learned")  # trained on sequences of 16 tokens
table = trained.params["pos"]  # (64, 32): 64 rows allocated
init_rng = np.random.default_rng([experiment.SEED, 1])  # its initial weights
initial = experiment.init(init_rng, "learned")["pos"]
n = experiment.SEQ_LEN
changed = np.flatnonzero(~np.all(table == initial, axis=1))
print(f"rows changed by training: {changed.min()} .. {changed.max()}")
assert changed.tolist() == list(range(n))  # rows 16 .. 63: as initialised
