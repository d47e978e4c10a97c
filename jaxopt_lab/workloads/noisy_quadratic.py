"""``noisy_quadratic``: DeepOBS's ``quadratic_deep``, a 100-dimensional noisy quadratic whose
Hessian has a deep-learning-like spectrum (Schneider et al. 2019, DeepOBS).

    ℓ(θ; x) = ½ (θ − x)ᵀ Q (θ − x),   x ~ N(0, 0.6² I),   θ₀ = (1, …, 1)
    Q = Rᵀ diag(λ) R,   λ: 90 draws of U(0, 1) then 10 of U(30, 60),   R ∈ SO(100) Haar

generated as DeepOBS does, in the same order from one ``RandomState(42)``: the eigenvalues,
then the rotation by Diaconis & Shahshahani's subgroup algorithm (``rotation``). The data:
1,000 training points (``RandomState(42)``), 1,000 test points (``RandomState(43)``) and, as
DeepOBS's PyTorch version, 1,000 validation points (``RandomState(44)``), all float32. Batch
128 with the last partial batch dropped (DeepOBS's ``drop_last``), 100 epochs.

There is no accuracy: the metrics are the mean loss (the engine writes null accuracies). The
expected loss at a point θ is ½ θᵀQθ + ½·0.36·tr Q, so no optimizer gets below
0.18·tr Q ≈ 89 on fresh data; DeepOBS's baselines reach a test loss of 87.1–87.5 on its
1,000 test points (``REFERENCE`` and configs/studies/workloads.yaml).

Departures: none in the problem. As in DeepOBS, θ₀ does not depend on the seed: seeds change
only the order of the batches. DeepOBS's TensorFlow Adam places ε as TensorFlow does (inside
the bias correction), the lab's Adam as the paper; at ε = 1e-8 the difference is below the
noise of the batches.
"""

from __future__ import annotations

import functools
import hashlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxopt_lab.data.splits import Dataset, Split
from jaxopt_lab.model import training_flops
from jaxopt_lab.workloads.base import Reference, Workload, identity, no_accuracy

DIM, POINTS, NOISE = 100, 1_000, 0.6
SEEDS = {"train": 42, "test": 43, "val": 44}

# DeepOBS's baselines (deepobs/baselines/quadratic_deep, batch 128, 100 epochs): the final test
# loss of one seed at each optimizer's tuned learning rate.
# (The workloads study gives its momentum and Adam rows theirs.)
REFERENCE = Reference("test_loss", 87.5284, "SGD lr 0.0158", "DeepOBS baselines", 0.01)


def rotation(dim: int, rng: np.random.RandomState) -> np.ndarray:
    """A Haar-random rotation of SO(dim), built up one dimension at a time (Diaconis &
    Shahshahani 1987): from a 2-D rotation by angle 2π·u, each step embeds R as
    diag(1, R) and reflects it through the hyperplane normal to (e₁ − v)/‖e₁ − v‖, v uniform on
    the sphere; the result is negated. Draws from ``rng`` in DeepOBS's order."""
    t = 2 * np.pi * rng.uniform()
    r = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    for d in range(2, dim):
        v = rng.normal(size=(d + 1, 1))
        v /= np.sqrt(v.T @ v)
        e = np.zeros((d + 1, 1))
        e[0] = 1.0
        x = (e - v) / np.sqrt((e - v).T @ (e - v))
        embedded = np.eye(d + 1)
        embedded[1:, 1:] = r
        r = embedded - 2 * np.outer(x, x.T @ embedded)
    return -r


@functools.cache
def hessian() -> np.ndarray:
    """Q = Rᵀ diag(λ) R, float64, as DeepOBS draws it (computed once, on first use: importing
    the workloads must not start JAX, which ``jax.distributed`` needs to do first)."""
    rng = np.random.RandomState(42)
    eigenvalues = np.concatenate([rng.uniform(0.0, 1.0, 90), rng.uniform(30.0, 60.0, 10)])
    r = rotation(DIM, rng)
    return r.T @ np.diag(eigenvalues) @ r


def loss(residual: jax.Array, _labels: jax.Array) -> jax.Array:
    """½ (θ − x)ᵀ Q (θ − x) per sample, from the residuals θ − x ``[B, 100]``."""
    q = hessian().astype(np.float32)
    return 0.5 * jnp.sum((residual @ q) * residual, axis=-1)


class Quadratic(nn.Module):
    """The parameter θ ∈ ℝ¹⁰⁰ (initially all ones); outputs the residuals θ − x."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        theta = self.param("theta", nn.initializers.ones, (DIM,))
        return theta - x


def optimum(data: Dataset) -> dict[str, float]:
    """The minimum of the mean training loss: θ* = the mean of the training points (float64),
    and the test loss at θ*, the best a model fitted to the training set does on the test set."""
    q = hessian()

    def mean_loss(theta: np.ndarray, x: np.ndarray) -> float:
        residual = theta - x.astype(np.float64)
        return float(np.mean(0.5 * np.sum((residual @ q) * residual, axis=1)))

    theta = data.train.images.astype(np.float64).mean(axis=0)
    return {
        "train_loss": mean_loss(theta, data.train.images),
        "test_loss": mean_loss(theta, data.test.images),
    }


def load(_data) -> Dataset:
    """The three point sets; labels are zeros (the problem has none)."""

    def points(split: str) -> Split:
        x = np.random.RandomState(SEEDS[split]).normal(0.0, NOISE, (POINTS, DIM))
        return Split(x.astype(np.float32), np.zeros(POINTS, np.int32))

    splits = {name: points(name) for name in ("train", "val", "test")}
    sha256 = {
        name: hashlib.sha256(split.images.tobytes()).hexdigest() for name, split in splits.items()
    }
    return Dataset(
        **splits, split_seed=0, source="generated (DeepOBS quadratic)", sha256=sha256, verified=True
    )


WORKLOAD = Workload(
    name="noisy_quadratic",
    title="DeepOBS's quadratic_deep: a 100-D noisy quadratic",
    load=load,
    model=lambda _: Quadratic(),
    train_size=POINTS,
    batch_size=128,
    epochs=100,
    last_batch="drop",
    flops_per_sample=lambda _: training_flops([DIM * DIM]),
    inputs=identity,
    loss=loss,
    metrics=no_accuracy(loss),
    has_accuracy=False,
    optimum=optimum,
    reference=REFERENCE,
    data_settings=(),
)
