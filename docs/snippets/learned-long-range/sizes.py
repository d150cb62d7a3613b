import textwrap

attention_params = recall.init_attention(np.random.default_rng(0))
rnn_params = recall.init_rnn(np.random.default_rng(0))
for name, params in [("attention", attention_params), ("RNN", rnn_params)]:
    shapes = ", ".join(f"{k} {v.shape}" for k, v in params.items())
    print(f"{name}: {sum(v.size for v in params.values()):,} parameters")
    print(textwrap.indent(textwrap.fill(shapes, 76), "  "))
assert sum(v.size for v in rnn_params.values()) > 3 * sum(
    v.size for v in attention_params.values()
)  # the RNN gets more than 3 times as many
