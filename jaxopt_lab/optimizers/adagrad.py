"""AdaGrad, as the slides write it: ε outside the square root.

    G ← G + g²
    θ ← θ − η g / (√G + ε)

Reference: Duchi, Hazan & Singer (2011), "Adaptive subgradient methods for online learning and
stochastic optimization", JMLR 12.

Conventions. ``torch.optim.Adagrad(lr=η, eps=ε, initial_accumulator_value=G₀)`` is this rule
(ε outside the root, default ε = 1e-10 there). ``optax.adagrad`` puts ε *inside* the root,
g / √(G + ε), with G₀ = 0.1 by default, so it is a different trajectory and is not compared.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    check_non_negative,
    full_like,
    scale_by_learning_rate,
    tree_map_like,
)


class ScaleByAdagradState(NamedTuple):
    """The running sum of squared gradients G."""

    sum_of_squares: optax.Updates


def scale_by_adagrad(
    eps: float = 1e-8, initial_accumulator_value: float = 0.0
) -> optax.GradientTransformation:
    """The AdaGrad direction g / (√G + ε), with G ← G + g², G₀ = ``initial_accumulator_value``."""
    check_non_negative("eps", eps)
    check_non_negative("initial_accumulator_value", initial_accumulator_value)

    def init_fn(params):
        return ScaleByAdagradState(full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None):
        del params
        sum_of_squares = tree_map_like(lambda s, g: s + g * g, state.sum_of_squares, updates)
        direction = tree_map_like(lambda g, s: g / (jnp.sqrt(s) + eps), updates, sum_of_squares)
        return direction, ScaleByAdagradState(sum_of_squares)

    return optax.GradientTransformation(init_fn, update_fn)


def adagrad(
    learning_rate: ScalarOrSchedule, eps: float = 1e-8, initial_accumulator_value: float = 0.0
) -> optax.GradientTransformation:
    """AdaGrad: G ← G + g²; θ ← θ − η g / (√G + ε).

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule of the step count.
      eps: ε ≥ 0, added to √G (default 1e-8, the slides' value).
      initial_accumulator_value: G₀ ≥ 0 (default 0).
    """
    return optax.chain(
        scale_by_adagrad(eps, initial_accumulator_value),
        scale_by_learning_rate(learning_rate),
    )
