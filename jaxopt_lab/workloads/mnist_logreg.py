"""``mnist_logreg``: multinomial logistic regression on MNIST, DeepOBS's ``mnist_logreg``.

    z = W x + b,  x = p/255 flattened (784),  W, b = 0 initially,  ℓ = cross-entropy

DeepOBS's defaults: batch 128, 50 epochs. The problem is convex, so an optimizer's result can
be set against the optimum: ``optimum`` minimises the full-batch training loss with L-BFGS in
float64 (SciPy), and the workloads study reports each optimizer's gap to it. Unregularised, the
problem is badly conditioned: L-BFGS still lowers the loss after 1,000 iterations (0.2249 after
100, 0.2034 after 300, 0.1922 after 1,000 on the 50,000 training images), so the value it
returns is an upper bound on the optimum and a gap measured against it is a lower bound.

Departures: DeepOBS trains on the 60,000 training images less its own validation part; here the
notebook's 50,000 / 10,000 / 10,000 split. The unregularised problem's minimiser is not unique
(adding one vector to every class's weights, or any weight of a pixel that is 0 in every
training image, leaves the loss unchanged) but its value is, and that value is the reference.
"""

from __future__ import annotations

import time
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from jaxopt_lab.data.splits import Dataset, flatten
from jaxopt_lab.model import training_flops
from jaxopt_lab.workloads.base import Reference, Workload, load_mnist_splits, scale_to_unit


class LogisticRegression(nn.Module):
    """Logits ``W x + b`` of rows ``[B, 784]``, zero-initialised as DeepOBS."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        zeros = nn.initializers.zeros
        return nn.Dense(10, kernel_init=zeros, bias_init=zeros)(x)


def optimum(
    data: Dataset, *, tolerance: float = 1e-9, max_iterations: int = 2000
) -> dict[str, Any]:
    """The minimum of the mean cross-entropy over ``data.train`` (all of it), by L-BFGS in
    float64 from zero: ``{"train_loss", "gradient_norm", "iterations", "seconds"}``.

    SciPy's L-BFGS-B stops when the projected gradient's largest entry is below ``tolerance``
    or after ``max_iterations``: the value it reaches is an upper bound on the minimum (the
    module docstring), reported with its gradient norm and iterations.
    """
    from scipy.optimize import minimize  # the [studies] extra

    x = np.asarray(scale_to_unit(flatten(data.train.images)), np.float64)
    y = np.asarray(data.train.labels)
    n, d = x.shape
    onehot = np.eye(10)[y]

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: d * 10].reshape(d, 10), theta[d * 10 :]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = float(np.mean(log_sum[:, 0] - (z * onehot).sum(axis=1)))
        residual = (np.exp(z - log_sum) - onehot) / n
        return loss, np.concatenate([(x.T @ residual).ravel(), residual.sum(axis=0)])

    start = time.perf_counter()
    result = minimize(
        loss_and_gradient,
        np.zeros(d * 10 + 10),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations, "gtol": tolerance, "ftol": 0.0, "maxcor": 20},
    )
    return {
        "train_loss": float(result.fun),
        "gradient_norm": float(np.linalg.norm(result.jac)),
        "iterations": int(result.nit),
        "seconds": time.perf_counter() - start,
    }


WORKLOAD = Workload(
    name="mnist_logreg",
    title="multinomial logistic regression on MNIST (DeepOBS mnist_logreg)",
    load=load_mnist_splits,
    model=lambda _: LogisticRegression(),
    train_size=50_000,
    batch_size=128,
    epochs=50,
    flops_per_sample=lambda _: training_flops([784 * 10]),
    inputs=scale_to_unit,
    optimum=optimum,
    reference=Reference(
        metric="optimality_gap",
        value=0.0,
        setting="the full-batch minimum of the training loss (L-BFGS, float64)",
        source="computed by the workloads study (mnist_logreg.optimum)",
    ),
)
