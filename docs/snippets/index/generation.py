# A toy language model, random but fixed: 10 token embeddings (D = 4), one causal
# attention layer (the projections of `mha` above) with a residual connection, and a
# readout that scores the 10 tokens; the next token is the best-scoring one.
toy = np.random.default_rng(3)
vocab, readout = toy.standard_normal((10, 4)), toy.standard_normal((4, 10))


def logits(tokens):  # one causal pass: scores for the next token at every position
    x = vocab[tokens]  # (L, D)
    q, k, v = x @ mha.w_q, x @ mha.w_k, x @ mha.w_v
    return (x + ar.scaled_dot_product_attention(q, k, v, is_causal=True)) @ readout


tokens = [3]  # the prompt
for _ in range(6):  # generation: each step needs the token the last one chose
    tokens.append(int(logits(tokens)[-1].argmax()))
print("generated, one pass per token:", tokens)

# Token 3 depends on token 2: another token at position 2 changes what comes next.
others = [t for t in range(10) if logits([*tokens[:2], t])[-1].argmax() != tokens[3]]
print("tokens at position 2 that change token 3:", others)
assert others  # so step 3 cannot start before step 2 has finished

# Training (and prefill) see the whole sequence: one causal pass gives
# every prediction at once.
all_at_once = logits(tokens).argmax(axis=-1)  # (L,)
print("predictions of one pass:        ", all_at_once[:-1].tolist())
assert all_at_once[:-1].tolist() == tokens[1:]
