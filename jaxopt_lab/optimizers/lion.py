"""Lion: the sign of an interpolation between the momentum and the gradient.

    c = sign(β₁ m + (1 − β₁) g)
    θ ← θ − η (c + λ θ)
    m ← β₂ m + (1 − β₂) g

Reference: Chen et al. (2023), "Symbolic discovery of optimization algorithms", NeurIPS
(Algorithm 2).

Conventions. The same rule as ``optax.lion`` and ``lion_pytorch.Lion``; sign(0) = 0 in all
three. ``optax.lion``'s weight decay defaults to 1e-3, here to 0 as in the paper's code and in
``lion_pytorch``. ``lion_pytorch`` decays first, θ ← θ(1 − ηλ), then steps by −η c, which is the
same θ. Every entry of the update has magnitude η (or 0), so Lion wants a learning rate 3–10×
smaller than AdamW's (and λ 3–10× larger for the same effective decay). The momentum m is
updated *after* the direction is taken, with its own rate β₂; there is no bias correction.
``tests/optimizers/test_references.py`` compares this with both references in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    check_unit_interval,
    scale_by_learning_rate,
    tree_map_like,
    zeros_like,
)
from jaxopt_lab.optimizers.adamw import add_decayed_weights


class ScaleByLionState(NamedTuple):
    """The momentum m (``mu``)."""

    mu: optax.Updates


def scale_by_lion(b1: float = 0.9, b2: float = 0.99) -> optax.GradientTransformation:
    """The Lion direction sign(β₁ m + (1 − β₁) g), then m ← β₂ m + (1 − β₂) g."""
    check_unit_interval("b1", b1)
    check_unit_interval("b2", b2)

    def init_fn(params):
        return ScaleByLionState(mu=zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        direction = tree_map_like(lambda m, g: jnp.sign(b1 * m + (1 - b1) * g), state.mu, updates)
        mu = tree_map_like(lambda m, g: b2 * m + (1 - b2) * g, state.mu, updates)
        return direction, ScaleByLionState(mu)

    return optax.GradientTransformation(init_fn, update_fn)


def lion(
    learning_rate: ScalarOrSchedule = 1e-4,
    b1: float = 0.9,
    b2: float = 0.99,
    weight_decay: float = 0.0,
) -> optax.GradientTransformation:
    """Lion: θ ← θ − η (sign(β₁ m + (1 − β₁) g) + λ θ); m ← β₂ m + (1 − β₂) g.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule (default 1e-4).
      b1: β₁ in [0, 1), the weight of the momentum in the direction (default 0.9).
      b2: β₂ in [0, 1), the decay of the momentum (default 0.99).
      weight_decay: λ ≥ 0, the decoupled decay, multiplied by η (default 0).
    """
    return optax.chain(
        scale_by_lion(b1, b2),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )
