"""The pure training and evaluation steps, on arrays only.

For a batch (x, y) with sample weights w ∈ {0, 1} (0 marks padding of the last partial batch):

    ℓ(θ) = Σᵢ wᵢ L(f_θ(xᵢ), yᵢ) / Σᵢ wᵢ         L = CE(z, y) = −log softmax(z)_y by default

the mean per-sample loss over the batch's real samples, as PyTorch's ``CrossEntropyLoss`` on a
batch of that size. One step is θ, s ← θ + u, s' with (u, s') = tx.update(∇ℓ(θ), s, θ). A
workload (``jaxopt_lab.workloads``) may bring its own per-sample loss L and evaluation metrics.

``train_step`` works on one run; the loop vmaps it over runs. No workload of the lab has
dropout or batch statistics, so the step needs no random key and no mutable model state; the
data order is the only randomness (``loop.epoch_order``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.losses import Loss, Metrics, classification_metrics, cross_entropy

Params = Any
OptState = Any
Apply = Callable[[Params, jax.Array], jax.Array]


def batch_loss(
    apply: Apply,
    params: Params,
    x: jax.Array,
    y: jax.Array,
    w: jax.Array,
    loss: Loss = cross_entropy,
) -> jax.Array:
    """ℓ(θ): the weighted mean of the per-sample ``loss`` of the outputs ``apply(params, x)``."""
    return jnp.sum(w * loss(apply(params, x), y)) / jnp.sum(w)


def train_step(
    apply: Apply,
    tx: optax.GradientTransformation,
    params: Params,
    opt_state: OptState,
    x: jax.Array,
    y: jax.Array,
    w: jax.Array,
    loss: Loss = cross_entropy,
) -> tuple[Params, OptState, jax.Array]:
    """One optimizer step on one batch; returns (θ', s', ℓ(θ)·Σw), the batch's loss sum."""
    value, grads = jax.value_and_grad(batch_loss, argnums=1)(apply, params, x, y, w, loss)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value * jnp.sum(w)


def evaluate(
    apply: Apply,
    params: Params,
    x: jax.Array,
    y: jax.Array,
    metrics: Metrics = classification_metrics,
) -> tuple[jax.Array, jax.Array]:
    """Loss and accuracy of ``params`` on the whole set (x, y) at once (``metrics`` of the
    outputs; by default mean cross-entropy and accuracy)."""
    return metrics(apply(params, x), y)
