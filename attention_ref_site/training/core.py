r"""The pieces every model here shares: cross-entropy, Adam, the training loop, embeddings.

A model's parameters are a dict of named arrays (`Params`); its gradients are a dict with the
same names and shapes. A model provides `loss_and_grads(params, batch) -> (loss, grads)`;
`train` runs Adam on it and records a history for the learning curves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

Params = dict[str, np.ndarray]

#: Rows per forward pass when evaluating on many examples. A larger matrix product makes
#: OpenBLAS start its threads, and on a busy 2-core machine that was 20 times slower
#: (measured for a (256, 64) @ (64, 64) product); the training batches are this small anyway.
EVAL_BATCH = 64
LossAndGrads = Callable[[Params, Any], tuple[float, Params]]


def normal(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """`scale` times standard normal entries: the initial value of a weight matrix."""
    return scale * rng.standard_normal(shape)


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Mean cross-entropy of integer `targets` under `softmax(logits)`, and its gradient.

    $\mathcal{L} = -\frac{1}{N} \sum_n \log p_{n, y_n}$ with $p_n = \operatorname{softmax}(z_n)$;
    its gradient is $\partial \mathcal{L} / \partial z_n = (p_n - \mathrm{onehot}(y_n)) / N$.

    Parameters
    ----------
    logits : ndarray of shape (..., V)
        Unnormalised scores, one row per prediction.
    targets : ndarray of int, shape (...)
        The right class of each prediction.

    Returns
    -------
    loss : float
    d_logits : ndarray of shape (..., V)
    """
    V = logits.shape[-1]
    z = logits.reshape(-1, V)  # (N, V): one row per prediction
    y = targets.reshape(-1)  # (N,)
    rows = np.arange(len(y))
    z = z - z.max(axis=-1, keepdims=True)  # stable: the largest logit becomes 0
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    loss = -log_probs[rows, y].mean()
    d_z = np.exp(log_probs)  # softmax(logits) ...
    d_z[rows, y] -= 1.0  # ... minus the one-hot targets
    return float(loss), (d_z / len(y)).reshape(logits.shape)


def embedding_grad(d_rows: np.ndarray, tokens: np.ndarray, vocab: int) -> np.ndarray:
    """The gradient of an embedding table `(V, D)` looked up as `table[tokens]`.

    A lookup copies row `tokens[...]` of the table, so each row's gradient is the sum of the
    gradients of its copies (`np.add.at` adds repeated indices instead of overwriting them).
    """
    d_table = np.zeros((vocab, d_rows.shape[-1]))
    np.add.at(d_table, tokens.reshape(-1), d_rows.reshape(-1, d_rows.shape[-1]))
    return d_table


def linear_grads(x: np.ndarray, d_y: np.ndarray) -> np.ndarray:
    """The gradient of `w` in `y = x @ w`, summed over all leading (batch, position) axes."""
    return x.reshape(-1, x.shape[-1]).T @ d_y.reshape(-1, d_y.shape[-1])


class Adam:
    r"""Adam (Kingma and Ba, 2015), one state per parameter, updating the parameters in place.

    $m \leftarrow \beta_1 m + (1 - \beta_1) g$, $v \leftarrow \beta_2 v + (1 - \beta_2) g^2$,
    $\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)$ with the bias
    corrections $\hat m = m / (1 - \beta_1^t)$, $\hat v = v / (1 - \beta_2^t)$.
    """

    def __init__(
        self,
        params: Params,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, params: Params, grads: Params) -> None:
        self.t += 1
        correct1 = 1 - self.beta1**self.t
        correct2 = 1 - self.beta2**self.t
        for name, g in grads.items():
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            params[name] -= self.lr * (m / correct1) / (np.sqrt(v / correct2) + self.eps)


def train(
    params: Params,
    loss_and_grads: LossAndGrads,
    batches: Iterator[Any],
    *,
    steps: int,
    lr: float,
    clip: float | None = None,
    evaluate: Callable[[Params], dict[str, Any]] | None = None,
    every: int = 25,
) -> dict[str, list[Any]]:
    """Run `steps` Adam steps on `params` (in place) and return the history.

    Parameters
    ----------
    params : dict of ndarray
        The model's parameters; updated in place.
    loss_and_grads : callable
        `loss_and_grads(params, batch) -> (loss, grads)`.
    batches : iterator
        Yields one batch per step (the same batch every time for full-batch training).
    steps : int
        The number of Adam steps: the whole budget.
    lr : float
        Adam's learning rate.
    clip : float, optional
        Scale the gradients down when their global norm (all parameters together) exceeds
        `clip` (Pascanu et al., 2013); the usual guard against a recurrent network's
        exploding gradients.
    evaluate : callable, optional
        `evaluate(params) -> {metric: value}`, run before the first step, every `every` steps
        and after the last.

    Returns
    -------
    dict of list
        `"loss"`: the training loss of every step (before its update); `"eval_step"` and one
        list per metric of `evaluate`, when given.
    """
    adam = Adam(params, lr)
    history: dict[str, list[Any]] = {"loss": [], "eval_step": []}

    def record(step: int) -> None:
        if evaluate is None:
            return
        history["eval_step"].append(step)
        for name, value in evaluate(params).items():
            history.setdefault(name, []).append(value)

    for step in range(steps):
        if step % every == 0:
            record(step)
        loss, grads = loss_and_grads(params, next(batches))
        history["loss"].append(loss)
        if clip is not None:
            norm = np.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
            if norm > clip:
                grads = {name: g * (clip / norm) for name, g in grads.items()}
        adam.step(params, grads)
    record(steps)
    return history
