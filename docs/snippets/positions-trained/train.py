seeds = [0, 1]
runs = {
    s: [experiment.train_model(s, seed=seed) for seed in seeds]
    for s in experiment.SCHEMES
}  # 2 seeds x 5 schemes, 300 Adam steps each
n = experiment.SEQ_LEN
bound = experiment.order_blind_bound(n)
print(f"held-out accuracy at length n = {n}, seeds 0 / 1")
for scheme, trained in runs.items():
    print(f"{scheme:11}", " / ".join(f"{r.accuracy[n]:.3f}" for r in trained))
print(f"{'bound':11} {bound:.3f}: the best any order-blind model can do")
acc = {s: np.array([r.accuracy[n] for r in runs[s]]) for s in runs}
# the sampling noise of an accuracy near the bound, on 128 x 14 answers
sigma = np.sqrt(bound * (1 - bound) / (128 * (n - 2)))
assert all(acc[s].min() > 0.99 for s in ("learned", "sinusoidal", "rope"))
assert (np.abs(acc["none"] - bound) < 3 * sigma).all()
assert (acc["alibi"] > bound + 3 * sigma).all()
assert (acc["alibi"] < bound + 0.1).all()
budget = (experiment.STEPS, experiment.LEARNING_RATE, experiment.BATCH_SIZE)
# as stated
assert budget == (300, 0.01, 16) and experiment.EVAL_SEQUENCES == 128
