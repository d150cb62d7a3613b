single_lookups = hm.lookup_weights(single, two.test)  # (1,) per lookup
acc = results[1]
print(
    f"one head: weight {single_lookups['previous'][0]:.2f} on the previous "
    f"position, {single_lookups['match'][0]:.2f} on the matching one"
)
print(
    f"          accuracy {acc['previous_accuracy']:.0%} for the previous "
    f"digit, {acc['match_accuracy']:.0%} for the matching one"
)
assert single_lookups["previous"][0] > single_lookups["match"][0] > 0.2
assert acc["previous_accuracy"] > acc["match_accuracy"]
