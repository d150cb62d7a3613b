first = np.array([w[0] for w in words])  # each held-out sentence's first French word
assert (probs[first == "un", 0].argmax(axis=-1) == 0).all()  # "a" looks at "un"
assert (probs[first == "le", 0, 0] < 0.01).all()  # "the" looks away from "le"
b = next(i for i, w in enumerate(words) if w[0] == w[4] == "le")
assert (predicted[b] == test.target[b]).all()  # translated right ...
assert probs[b, 0, 0] < 0.01 and probs[b, 0].argmax() == 5  # ... but "the" <- word 5
show_alignment(
    b,
    caption=f"Held-out sentence {b}, translated right. The nouns, adjectives and verb are "
    "aligned, but both rows of 'the' put their weight on the fifth French word and almost none "
    "on 'le'.",
    alt=f"Two 7 by 7 grids for '{' '.join(words[b])}'. The right grid, the true alignment, lights "
    "column 0 in row 0 and column 4 in row 4. In the left grid, the learned weights, rows 0 and "
    "4 are bright in column 5 instead; the other rows match the right grid.",
)
