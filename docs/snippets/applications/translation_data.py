source = ["le", "chat", "noir", "mange", "une", "souris", "grise"]
target = ["the", "black", "cat", "eats", "a", "grey", "mouse"]
lexicon = {
    "le": "the",
    "chat": "cat",
    "noir": "black",
    "mange": "eats",
    "une": "a",
    "souris": "mouse",
    "grise": "grey",
}

# One axis per meaning, shared by both languages, plus seeded noise per word:
# "same meaning, similar vector", which a trained encoder and decoder learn.
meanings = sorted(lexicon.values())
E = len(meanings)
src_ids = [meanings.index(lexicon[w]) for w in source]
tgt_ids = [meanings.index(w) for w in target]
src = np.eye(E)[src_ids] + 0.1 * rng.standard_normal((7, E))  # (S, E)
tgt = np.eye(E)[tgt_ids] + 0.1 * rng.standard_normal((7, E))  # (L, E)
print("source:", source, src.shape)
print("target:", target, tgt.shape)
assert src.shape == tgt.shape == (7, 7)
