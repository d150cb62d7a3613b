runs = {seed: hm.division_of_labour(seed) for seed in hm.SEEDS}  # 0: above
print("seed  head for  weight on its  weight on the  both    silenced head:")
print("      previous  own lookup     other lookup   right   its answer right")
for seed, r in runs.items():
    silenced = max(r["previous_silenced"], r["match_silenced"])
    print(f"{seed:4}  {r['prev_head']:8}  {r['own_weight']:13.2f}  "
          f"{r['other_weight']:13.2f}  {r['both_accuracy']:6.1%}  "
          f"{silenced:7.1%} at most")
split = [s for s, r in runs.items()
         if r["own_weight"] > 0.9 > 0.1 > r["other_weight"]
         and r["both_accuracy"] >= 0.95
         and max(r["previous_silenced"], r["match_silenced"]) < 0.3]
print(f"the heads divide the work for {len(split)} of {len(runs)} seeds")
assert len(split) == len(hm.SEEDS) == 5
# either head can take either job
assert {r["prev_head"] for r in runs.values()} == {0, 1}
own = [r["own_weight"] for r in runs.values()]
assert max(own) - min(own) < 0.05  # the same split, to a few hundredths
