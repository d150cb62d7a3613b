import functools

answers_without = functools.partial(hm.silenced_accuracy, two.params, two.test)
for head in (prev_head, match_head):
    # head `head`'s output set to 0 before the readouts
    acc = answers_without(head)
    print(f"without head {head}: previous {acc['previous']:.1%}, "
          f"match {acc['match']:.1%}")
no_prev, no_match = answers_without(prev_head), answers_without(match_head)
assert no_prev["previous"] < 0.3 < 0.95 < no_prev["match"]
assert no_match["match"] < 0.3 < 0.95 < no_match["previous"]
