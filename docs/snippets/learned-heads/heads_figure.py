# predictions and weights (B, H, L, L)
found = hm.evaluate(two.params, two.test, 2)
lookups = hm.lookup_weights(found["probs"], two.test)  # (H,) per lookup
prev_head = int(lookups["previous"].argmax())
match_head = 1 - prev_head
print("mean weight of each head, over the second-half queries:")
for name, weight in lookups.items():
    print(f"  on the {name:8} position: "
          f"head 0 {weight[0]:.2f}, head 1 {weight[1]:.2f}")
previous, match = lookups["previous"], lookups["match"]
assert previous[prev_head] > 0.9 and match[match_head] > 0.9
assert previous[match_head] < 0.1 and match[prev_head] < 0.1
