"""Nesterov accelerated gradient, the slides' look-ahead rule, computed in the look-ahead point.

The slides:

    v ← γ v + η ∇L(θ − γ v)
    θ ← θ − v

needs the gradient at θ − γ v, a point the training loop never visits. Change variable to the
look-ahead point φ = θ − γ v, which is what the optimizer stores as the parameters. Since
v_{t+1} − γ v_t = η ∇L(φ_t),

    φ_{t+1} = θ_{t+1} − γ v_{t+1} = φ_t + γ v_t − (1 + γ) v_{t+1}
            = φ_t − (γ v_{t+1} + η ∇L(φ_t)).

So with g the gradient at the current parameters φ:

    v ← γ v + η g
    φ ← φ − (γ v + η g)

and, both starting from v₀ = 0 (so φ₀ = θ₀), the slides' θ at any step is φ + γ v.
``test_nesterov_follows_the_literal_look_ahead_rule`` in ``tests/optimizers/test_rules.py`` runs
the literal look-ahead rule and checks this.

Reference: Nesterov (1983); Sutskever et al. (2013), "On the importance of initialization and
momentum in deep learning", which gives this form.

Conventions. ``optax.sgd(η, momentum=γ, nesterov=True)`` and ``torch.optim.SGD(..., nesterov=True)``
keep η outside the velocity (u ← γ u + g; φ ← φ − η (g + γ u)); with a constant η that is the
same trajectory (v = η u). Under a schedule they differ, as for ``momentum``.

Composition. As for ``momentum``, η lives in the velocity; ``scale_by_nesterov(γ)`` is the
η-free direction g + γ u (u ← γ u + g), equal to this rule when followed by a constant
``optax.scale_by_learning_rate(η)``. Pre-process gradients by chaining before ``nesterov``.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from jaxopt_lab.optimizers._base import (
    ScalarOrSchedule,
    check_learning_rate,
    check_unit_interval,
    learning_rate_at,
    tree_map_like,
    zeros_like,
)
from jaxopt_lab.optimizers.momentum import MomentumState, ScaleByMomentumState


def nesterov(
    learning_rate: ScalarOrSchedule, momentum: float = 0.9
) -> optax.GradientTransformation:
    """Nesterov momentum in the look-ahead variable: v ← γ v + η g; φ ← φ − (γ v + η g).

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule of the step count.
      momentum: γ in [0, 1) (default 0.9).

    The state is a ``MomentumState`` (step count and the velocity v, which holds η).
    """
    check_learning_rate(learning_rate)
    check_unit_interval("momentum", momentum)

    def init_fn(params):
        return MomentumState(count=jnp.zeros([], jnp.int32), velocity=zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        velocity = tree_map_like(lambda v, g: momentum * v + eta * g, state.velocity, updates)
        new_updates = tree_map_like(lambda v, g: -(momentum * v + eta * g), velocity, updates)
        return new_updates, MomentumState(optax.safe_increment(state.count), velocity)

    return optax.GradientTransformation(init_fn, update_fn)


def scale_by_nesterov(momentum: float = 0.9) -> optax.GradientTransformation:
    """The η-free Nesterov direction g + γ u with u ← γ u + g (optax's and torch's form)."""
    check_unit_interval("momentum", momentum)

    def init_fn(params):
        return ScaleByMomentumState(velocity=zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        velocity = tree_map_like(lambda u, g: momentum * u + g, state.velocity, updates)
        direction = tree_map_like(lambda g, u: g + momentum * u, updates, velocity)
        return direction, ScaleByMomentumState(velocity)

    return optax.GradientTransformation(init_fn, update_fn)
