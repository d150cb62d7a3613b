document = [
    "Attention lets a model weigh every input word.",
    "The office coffee machine broke on Monday.",
    "Each query scores all keys, and a softmax turns the scores into weights.",
    "It rained all afternoon, so lunch was late.",
    "The weights average the values into one output per query.",
    "The lunch queue at the office was long.",
]
topics = {  # a hand-made lexicon: which words belong to which topic
    "attention": {
        "attention",
        "model",
        "weigh",
        "input",
        "query",
        "scores",
        "keys",
        "softmax",
        "weights",
        "values",
        "output",
    },
    "office": {"office", "machine", "broke", "monday", "queue"},
    "weather": {"rained", "afternoon"},
    "food": {"coffee", "lunch"},
}


def sentence_vector(sentence):
    """Counts of each topic's words, scaled to length 1."""
    words = sentence.lower().replace(",", "").rstrip(".").split()
    counts = [sum(w in lexicon for w in words) for lexicon in topics.values()]
    return np.array(counts, float) / np.linalg.norm(counts)


sentences = np.stack([sentence_vector(s) for s in document])  # (6, 4)
show("sentences (columns: " + ", ".join(topics) + ")", sentences)
assert np.allclose(np.linalg.norm(sentences, axis=1), 1.0)
