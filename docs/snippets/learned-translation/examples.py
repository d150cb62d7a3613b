# Four random sentence pairs (their own seed: they are only examples). The
# alignment
# lists, for each English position, the French position it translates.
example_rng = np.random.default_rng(1)
for _ in range(4):
    french, alignment = tr.sentence(example_rng)
    english = tr.translate(french, alignment)
    print(" ".join(french), "\n  ->", " ".join(english),
          "  alignment", alignment)
    assert [tr.LEXICON[french[j]] for j in alignment] == english
    assert alignment[1:3] in ([1, 2], [2, 1])
    assert alignment[5:] in ([5, 6], [6, 5])
adjectives = len(tr.ADJECTIVES_BEFORE) + len(tr.ADJECTIVES_AFTER)
# det + noun + adjective
phrases = len(tr.DETERMINERS) * len(tr.NOUNS) * adjectives
n_sentences = phrases * len(tr.VERBS) * phrases
print("words per language:", len(tr.SOURCE_WORDS),
      "  distinct sentences:", n_sentences)
assert len(tr.SOURCE_WORDS) == len(tr.TARGET_WORDS) == 20
assert n_sentences == 36_864
