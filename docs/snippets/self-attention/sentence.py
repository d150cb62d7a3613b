words = "the cat sat on the mat because it was tired".split()
features = ["noun", "animate", "pronoun", "verb", "adjective", "function"]
lexicon = {  # the features of each word
    "cat": ["noun", "animate"],
    "mat": ["noun"],
    "it": ["pronoun"],
    "sat": ["verb"],
    "tired": ["adjective"],
    "the": ["function"],
    "on": ["function"],
    "because": ["function"],
    "was": ["function"],
}
x = np.array([[float(f in lexicon[w]) for f in features] for w in words])
row = {f: i for i, f in enumerate(features)}

# The query/key space has E = 3 directions: "noun", "animate", "pronoun".
w_k = np.zeros((len(features), 3))
w_k[row["noun"], 0] = 2.0  # a noun's key says "I am a noun"
w_k[row["animate"], 1] = 2.0  # ... and, if it is animate, "I am animate"
w_k[row["pronoun"], 2] = 2.0  # a pronoun's key says "I am a pronoun"
w_q = np.zeros((len(features), 3))
w_q[row["pronoun"], [0, 1]] = 2.0  # a pronoun's query asks for an animate noun
w_q[row["adjective"], 2] = 3.0  # an adjective's query asks for a pronoun
w_v = np.eye(len(features))  # values: the words' own features

print("x", x.shape, " w_q", w_q.shape, " w_k", w_k.shape, " w_v", w_v.shape)
assert x.shape == (len(words), len(features)) and x.sum(axis=1).min() >= 1
