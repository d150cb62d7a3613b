# How many matrix products must run one after another? Each product below records its
# depth: 1 + the depth of the deepest input it waits for (inputs have depth 0).
# Element-wise steps (softmax, tanh) keep the depth of their input.
def matmul(a, b):
    (x, depth_x), (y, depth_y) = a, b
    return x @ y, 1 + max(depth_x, depth_y)


def attention_depth(x):  # x: (n, D); queries, keys and values: x itself
    scores, depth = matmul((x, 0), (x.T, 0))  # all n x n scores: one product
    probs = ar.softmax(scores / np.sqrt(x.shape[1]))
    _, depth = matmul((probs, depth), (x, 0))  # all n outputs: one more
    return depth


def rnn_depth(x, w, u):  # a plain RNN: h_t = tanh(x_t U + h_{t-1} W)
    xu, depth_xu = matmul((x, 0), (u, 0))  # the inputs' part: every position at once
    h, depth = np.zeros(w.shape[0]), 0
    for t in range(len(x)):
        hw, depth = matmul((h, depth), (w, 0))  # needs h_{t-1}: waits for step t - 1
        h, depth = np.tanh(xu[t] + hw), max(depth, depth_xu)
    return depth


D = 8
w = rng.standard_normal((D, D)) / np.sqrt(D)
u = rng.standard_normal((D, D)) / np.sqrt(D)
print(f"{'n':>6} {'attention':>10} {'RNN':>6}")
for n in (4, 16, 64, 256, 1024):
    x = rng.standard_normal((n, D))
    print(f"{n:>6} {attention_depth(x):>10} {rnn_depth(x, w, u):>6}")
    assert attention_depth(x) == 2  # whatever n is
    assert rnn_depth(x, w, u) == n  # one step per position
