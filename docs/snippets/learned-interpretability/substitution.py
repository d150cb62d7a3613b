le, un = tr.SOURCE_WORDS.index("le"), tr.SOURCE_WORDS.index("un")
# the held-out sentences that begin with "le"
starts_le = test.source[:, 0] == le
w_le = probs[starts_le, 0, 0]  # the weight English word 0 ("the") puts on "le"
print(
    f"{starts_le.sum()} sentences begin with 'le'; the weight of 'the' on 'le' "
    f"is at most {w_le.max():.4f}"
)
print(
    "the French word with the largest weight:",
    sorted(set(probs[starts_le, 0].argmax(axis=-1).tolist())),
)
swapped = test.source[starts_le].copy()
swapped[:, 0] = un  # le -> un, nothing else changes
after = translate(swapped)
print(
    "English word 0 before:",
    sorted({tr.TARGET_WORDS[i] for i in predicted[starts_le, 0]}),
    " after:",
    sorted({tr.TARGET_WORDS[i] for i in after[:, 0]}),
)
assert w_le.max() < 0.01 and (probs[starts_le, 0].argmax(axis=-1) == 5).all()
# "the" -> "a", every time
assert (after[:, 0] == tr.TARGET_WORDS.index("a")).all()
# and nothing else changes
assert (after[:, 1:] == predicted[starts_le, 1:]).all()
