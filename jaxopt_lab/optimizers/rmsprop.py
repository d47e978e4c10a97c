"""RMSProp, with ε outside the square root.

    v ← ρ v + (1 − ρ) g²
    θ ← θ − η g / (√v + ε)

Reference: Tieleman & Hinton (2012), Coursera "Neural Networks for Machine Learning", lecture 6.5.

Conventions. ``torch.optim.RMSprop(lr=η, alpha=ρ, eps=ε)`` is this rule (its default ρ is 0.99).
``optax.rmsprop`` puts ε inside the root, g / √(v + ε), a different trajectory, so it is not
compared. No bias correction, no momentum, not centred.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    check_non_negative,
    check_unit_interval,
    scale_by_learning_rate,
    tree_map_like,
    zeros_like,
)


class ScaleByRmspropState(NamedTuple):
    """The running mean of squared gradients v."""

    nu: optax.Updates


def scale_by_rmsprop(decay: float = 0.9, eps: float = 1e-8) -> optax.GradientTransformation:
    """The RMSProp direction g / (√v + ε), with v ← ρ v + (1 − ρ) g² and v₀ = 0."""
    check_unit_interval("decay", decay)
    check_non_negative("eps", eps)

    def init_fn(params):
        return ScaleByRmspropState(zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        nu = tree_map_like(lambda v, g: decay * v + (1 - decay) * (g * g), state.nu, updates)
        direction = tree_map_like(lambda g, v: g / (jnp.sqrt(v) + eps), updates, nu)
        return direction, ScaleByRmspropState(nu)

    return optax.GradientTransformation(init_fn, update_fn)


def rmsprop(
    learning_rate: ScalarOrSchedule, decay: float = 0.9, eps: float = 1e-8
) -> optax.GradientTransformation:
    """RMSProp: v ← ρ v + (1 − ρ) g²; θ ← θ − η g / (√v + ε).

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule of the step count.
      decay: ρ in [0, 1) (default 0.9).
      eps: ε ≥ 0, added to √v (default 1e-8).
    """
    return optax.chain(scale_by_rmsprop(decay, eps), scale_by_learning_rate(learning_rate))
