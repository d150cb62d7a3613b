q, k = rng.normal(size=(2, 1, 64))  # one query and one key, head size E = 64

def score(m, n):  # q at position m, k at position n
    q_m, k_n = ar.rotary_embedding(q, [m]), ar.rotary_embedding(k, [n])
    return (q_m @ k_n.T).item()

for m, n in [(3, 0), (10, 7), (1003, 1000), (0, 3)]:
    print(f"q at {m:4}, k at {n:4}, m - n = {m - n:2}: {score(m, n):+.6f}")
assert np.isclose(score(3, 0), score(10, 7))
assert np.isclose(score(3, 0), score(1003, 1000))
assert not np.isclose(score(3, 0), score(0, 3))  # -3 is another distance
assert np.isclose(score(5, 5), (q @ k.T).item())  # m = n: the plain q . k
