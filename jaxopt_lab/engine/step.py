"""The pure training and evaluation steps, on arrays only.

For a batch (x, y) with sample weights w ∈ {0, 1} (0 marks padding of the last partial batch):

    ℓ(θ) = Σᵢ wᵢ CE(f_θ(xᵢ), yᵢ) / Σᵢ wᵢ        CE(z, y) = −log softmax(z)_y

the mean cross-entropy over the batch's real samples, as PyTorch's ``CrossEntropyLoss`` on a
batch of that size. One step is θ, s ← θ + u, s' with (u, s') = tx.update(∇ℓ(θ), s, θ).

``train_step`` works on one run; the loop vmaps it over runs. The MLP has no dropout, so the
step needs no random key; the data order is the only randomness (``loop.epoch_order``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

Params = Any
OptState = Any
Apply = Callable[[Params, jax.Array], jax.Array]


def batch_loss(apply: Apply, params: Params, x: jax.Array, y: jax.Array, w: jax.Array) -> jax.Array:
    """ℓ(θ): the weighted mean cross-entropy of the logits z = ``apply(params, x)``.

    CE = logsumexp(z) − ⟨onehot(y), z⟩: the same value as
    ``optax.softmax_cross_entropy_with_integer_labels``, but its gradient softmax(z) − onehot(y)
    is elementwise, where picking z_y by index differentiates into a scatter, slower on CPU.
    """
    z = apply(params, x)
    picked = jnp.sum(jax.nn.one_hot(y, z.shape[-1], dtype=z.dtype) * z, axis=-1)
    ce = jax.nn.logsumexp(z, axis=-1) - picked
    return jnp.sum(w * ce) / jnp.sum(w)


def train_step(
    apply: Apply,
    tx: optax.GradientTransformation,
    params: Params,
    opt_state: OptState,
    x: jax.Array,
    y: jax.Array,
    w: jax.Array,
) -> tuple[Params, OptState, jax.Array]:
    """One optimizer step on one batch; returns (θ', s', ℓ(θ)·Σw), the batch's loss sum."""
    loss, grads = jax.value_and_grad(batch_loss, argnums=1)(apply, params, x, y, w)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss * jnp.sum(w)


def evaluate(
    apply: Apply, params: Params, x: jax.Array, y: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy and accuracy of ``params`` on the whole set (x, y) at once."""
    logits = apply(params, x)
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
    accuracy = jnp.mean((jnp.argmax(logits, axis=-1) == y).astype(jnp.float32))
    return loss, accuracy
