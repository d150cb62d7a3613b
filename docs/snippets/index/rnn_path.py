# A plain RNN, h_t = tanh(x_t U + h_{t-1} W), run over T inputs. How much does
# the final state move when the input n steps back moves? The same measure as
# for attention: the norm of the Jacobian dh_T/dx_{T-1-n}, a product with one
# factor diag(1 - h_s^2) W^T per step on the path: n factors.
Dh = 16
w = rng.standard_normal((Dh, Dh)) / np.sqrt(Dh)
u = rng.standard_normal((Dh, Dh)) / np.sqrt(Dh)
xs = rng.standard_normal((T, Dh))


def run(xs):
    hs = [np.zeros(Dh)]  # hs[t] is the state after reading xs[t - 1]
    for x_t in xs:
        hs.append(np.tanh(x_t @ u + hs[-1] @ w))
    return hs


hs = run(xs)
jac = np.eye(Dh)  # dh_T/dh_T
path_steps = np.empty(len(distances), dtype=int)
rnn_influence = np.empty(len(distances))
steps = 0
for n in distances:
    jac = jac @ np.diag(1 - hs[T - n + 1] ** 2) @ w.T  # one more step back
    steps += 1
    path_steps[n - 1] = steps
    rnn_influence[n - 1] = np.linalg.norm(jac @ np.diag(1 - hs[T - n] ** 2) @ u.T, 2)

# Check the Jacobian for n = 3 by central differences of the whole RNN.
n, eps = 3, 1e-6
fd = np.empty((Dh, Dh))
for i in range(Dh):
    plus, minus = xs.copy(), xs.copy()
    plus[T - 1 - n, i] += eps
    minus[T - 1 - n, i] -= eps
    fd[:, i] = (run(plus)[-1] - run(minus)[-1]) / (2 * eps)
assert np.isclose(np.linalg.norm(fd, 2), rnn_influence[n - 1], rtol=1e-6)

for n in (1, 10, 100, 1000):
    print(
        f"distance {n:>4}: path {path_steps[n - 1]:>4} steps, "
        f"|dh_T/dx| = {rnn_influence[n - 1]:.3g}"
    )
assert (path_steps == distances).all()  # n steps for distance n
assert rnn_influence[999] < 1e-6 * rnn_influence[0]  # and the influence fades
