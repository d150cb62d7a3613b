two = hm.train_model(heads=2)  # seed 0, 300 Adam steps
one = hm.train_model(heads=1)  # the same data, the same steps, width 24 too
results = {h: hm.metrics(m.params, m.test, h) for h, m in [(2, two), (1, one)]}
width = two.params["w_q"].shape[0]  # D
assert width == one.params["w_q"].shape[0] == 24
print("held out, 512 sequences:  previous   match   both")
for h, r in results.items():
    print(
        f"  {h} head{'s' if h > 1 else ' '} of width {width // h:2}:   "
        f"{r['previous_accuracy']:6.1%}  {r['match_accuracy']:6.1%}  "
        f"{r['both_accuracy']:6.1%}"
    )
budget = (hm.STEPS, hm.LEARNING_RATE, hm.BATCH_SIZE, hm.TEST_SIZE)
assert budget == (300, 0.01, 32, 512)  # as stated above
assert results[2]["both_accuracy"] >= 0.95
assert results[1]["both_accuracy"] < 0.5 and results[1]["match_accuracy"] < 0.5
