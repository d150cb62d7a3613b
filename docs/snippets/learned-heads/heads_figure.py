found = hm.evaluate(two.params, two.test, 2)  # predictions and weights (B, H, L, L)
lookups = hm.lookup_weights(found["probs"], two.test)  # (H,) per lookup
prev_head = int(lookups["previous"].argmax())
match_head = 1 - prev_head
print("mean weight of each head, over the second-half queries:")
for name, weight in lookups.items():
    print(f"  on the {name:8} position: head 0 {weight[0]:.2f}, head 1 {weight[1]:.2f}")
assert lookups["previous"][prev_head] > 0.9 and lookups["match"][match_head] > 0.9
assert lookups["previous"][match_head] < 0.1 and lookups["match"][prev_head] < 0.1
