passage = "the tower was designed in 1884 and it opened in 1889 in paris"
passage = passage.split()
n = len(passage)
vocab = sorted(set(passage))
word = np.eye(len(vocab))[[vocab.index(w) for w in passage]]  # (13, V)
is_date = np.array([w.isdigit() for w in passage])
is_place = np.array([w == "paris" for w in passage])
kind = np.stack([is_date, is_place, ~(is_date | is_place)], axis=1)
kind = kind.astype(float)  # (13, 3): a date, a place, another word

# The encoder step, itself attention: equal scores (zero queries and keys)
# and a banded mask make each word the average of the words within 2.
position = np.arange(n)
near = np.abs(position[:, None] - position[None, :]) <= 2  # (13, 13)
zeros = np.zeros((n, 1))
context = ar.scaled_dot_product_attention(zeros, zeros, word, attn_mask=near)
tokens = np.hstack([kind, context])  # (13, 3 + V): what it is, what is near
opened = vocab.index("opened")
print("tokens", tokens.shape)
near_opened = [passage[i] for i in np.flatnonzero(context[:, opened])]
print("near 'opened':", near_opened)
assert np.isclose(context[passage.index("1889"), opened], 1 / 5)
assert context[passage.index("1884"), opened] == 0
