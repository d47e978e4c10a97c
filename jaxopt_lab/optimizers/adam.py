"""Adam, with ε outside the square root of the bias-corrected second moment.

    m ← β₁ m + (1 − β₁) g
    v ← β₂ v + (1 − β₂) g²
    m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)        (t = 1, 2, … the step)
    θ ← θ − η m̂ / (√v̂ + ε)

Reference: Kingma & Ba (2015), "Adam: A method for stochastic optimization", ICLR.

Conventions. The same formula as ``optax.adam`` (with ``eps_root=0``) and ``torch.optim.Adam``.
The bias corrections are computed once per step as scalars.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    bias_correction,
    check_non_negative,
    check_unit_interval,
    scale_by_learning_rate,
    tree_map_like,
    zeros_like,
)


class ScaleByAdamState(NamedTuple):
    """Step count t and the moment estimates m (``mu``) and v (``nu``)."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


def check_adam_hyperparameters(b1: float, b2: float, eps: float) -> None:
    """β₁, β₂ in [0, 1) and ε ≥ 0, shared by the Adam family."""
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)
    check_non_negative("eps", eps)


def init_adam_state(params) -> ScaleByAdamState:
    """t = 0 and zero moments shaped like ``params``."""
    return ScaleByAdamState(jnp.zeros([], jnp.int32), zeros_like(params), zeros_like(params))


def update_moments(updates, state: ScaleByAdamState, b1: float, b2: float) -> ScaleByAdamState:
    """One step of the moment estimates: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², t ← t + 1."""
    mu = tree_map_like(lambda m, g: b1 * m + (1 - b1) * g, state.mu, updates)
    nu = tree_map_like(lambda v, g: b2 * v + (1 - b2) * (g * g), state.nu, updates)
    return ScaleByAdamState(optax.safe_increment(state.count), mu, nu)


def scale_by_adam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
    """The Adam direction m̂ / (√v̂ + ε)."""
    check_adam_hyperparameters(b1, b2, eps)

    def update_fn(updates, state, params=None):
        del params
        state = update_moments(updates, state, b1, b2)
        c1 = bias_correction(b1, state.count)
        c2 = bias_correction(b2, state.count)
        direction = tree_map_like(
            lambda m, v: (m / c1) / (jnp.sqrt(v / c2) + eps), state.mu, state.nu
        )
        return direction, state

    return optax.GradientTransformation(init_adam_state, update_fn)


def adam(
    learning_rate: ScalarOrSchedule = 1e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
) -> optax.GradientTransformation:
    """Adam: θ ← θ − η m̂ / (√v̂ + ε).

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1e-3).
      b1: β₁ in [0, 1), decay of the first moment (default 0.9).
      b2: β₂ in [0, 1), decay of the second moment (default 0.999).
      eps: ε ≥ 0, added to √v̂ (default 1e-8).
    """
    return optax.chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))
