# One query, six keys, blocks of two: the running state after each block.
s = np.array([1.0, 3.0, 0.5, 4.0, -1.0, 2.0])  # the query's six scores
# one value per key (Ev = 1)
v = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]])
# max so far, sum of exp(s - m), of exp(s - m) v
m, ell, acc = -np.inf, 0.0, np.zeros(1)
steps = []  # the state after each block, for the stepped figure below
print(" block | block max |    m |    ell | acc / ell")
for j0 in range(0, 6, 2):
    block = s[j0 : j0 + 2]
    m_new = max(m, block.max())
    # rescales what was summed relative to the old maximum
    alpha = np.exp(m - m_new)
    p = np.exp(block - m_new)
    ell = alpha * ell + p.sum()
    acc = alpha * acc + p @ v[j0 : j0 + 2]
    steps.append((j0, block.max(), m, m_new, alpha, ell, acc[0] / ell))
    m = m_new
    print(f" {j0}..{j0 + 1}  | {block.max():9.1f} | {m:4.1f} | {ell:6.4f} "
          f"| {acc[0] / ell:9.4f}")

# the softmax, all at once
weights = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
assert np.isclose(acc[0] / ell, weights @ v[:, 0])  # the same output
# and the same log-sum-exp
assert np.isclose(m + np.log(ell), np.log(np.exp(s).sum()))
