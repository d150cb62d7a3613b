target = ["t0", "t1", "t2", "t3"]  # L = 4 decoder positions (queries)
source = ["s0", "s1", "s2", "s3", "s4", "s5"]  # S = 6 encoder positions
L, S = len(target), len(source)
alignment = np.array(
    [  # which source positions each target position reads
        [1, 0, 0, 0, 0, 0],  # t0 <- s0            one to one
        [0, 1, 1, 0, 0, 0],  # t1 <- s1 and s2     two source positions into one
        [0, 0, 0, 0, 1, 0],  # t2 <- s4            reordered: the links of
        [0, 0, 0, 1, 0, 0],  # t3 <- s3            t2 and t3 cross
    ]
)  # s5 is read by nobody
c = 4.0
key = c * np.eye(S)  # (S, E), E = S: source position j says "I am position j"
query = c * alignment.astype(float)  # (L, E): t_i asks for its positions
value = rng.standard_normal((S, 3))  # (S, Ev): what each source position holds

out, weights = ar.scaled_dot_product_attention(
    query, key, value, return_weights=True
)
print("query", query.shape, " key", key.shape, " value", value.shape)
print("out", out.shape, " weights", weights.shape)
assert out.shape == (L, 3) and weights.shape == (L, S)
