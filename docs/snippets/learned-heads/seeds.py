runs = {seed: hm.division_of_labour(seed) for seed in hm.SEEDS}  # seed 0: the model above
print("seed  previous head  own lookup  other lookup  both right  "
      "silenced: prev / match")
for seed, r in runs.items():
    print(f"{seed:4}  {r['prev_head']:13}  {r['own_weight']:10.2f}  "
          f"{r['other_weight']:12.2f}  {r['both_accuracy']:10.1%}  "
          f"{r['previous_silenced']:12.1%} / {r['match_silenced']:.1%}")
split = [s for s, r in runs.items() if r["own_weight"] > 0.9 > 0.1 > r["other_weight"]
         and r["both_accuracy"] >= 0.95
         and max(r["previous_silenced"], r["match_silenced"]) < 0.3]
print(f"the heads divide the work for {len(split)} of {len(runs)} seeds")
assert len(split) == len(hm.SEEDS) == 5
assert {r["prev_head"] for r in runs.values()} == {0, 1}  # either head can take either job
