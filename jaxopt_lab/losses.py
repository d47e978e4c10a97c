"""Per-sample losses and evaluation metrics of the workloads (``jaxopt_lab.workloads``).

A loss maps (outputs ``[B, ...]``, labels ``[B]``) to one value per sample ``[B]``, which the
training step averages over the batch's real samples (``engine.step.batch_loss``); metrics map
the outputs and labels of a whole split to (mean loss, accuracy).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

Loss = Callable[[jax.Array, jax.Array], jax.Array]  # (outputs, labels) -> per-sample loss [B]
Metrics = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array]]  # -> (loss, accuracy)


def cross_entropy(z: jax.Array, y: jax.Array) -> jax.Array:
    """CE(zᵢ, yᵢ) per sample: logsumexp(z) − ⟨onehot(y), z⟩.

    The same value as ``optax.softmax_cross_entropy_with_integer_labels``, but its gradient
    softmax(z) − onehot(y) is elementwise, where picking z_y by index differentiates into a
    scatter, slower on CPU.
    """
    picked = jnp.sum(jax.nn.one_hot(y, z.shape[-1], dtype=z.dtype) * z, axis=-1)
    return jax.nn.logsumexp(z, axis=-1) - picked


def classification_metrics(logits: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean cross-entropy and accuracy of ``logits`` against the labels ``y``."""
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))
    accuracy = jnp.mean((jnp.argmax(logits, axis=-1) == y).astype(jnp.float32))
    return loss, accuracy
