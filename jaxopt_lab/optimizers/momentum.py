"""Momentum, as the slides write it: the learning rate sits inside the velocity.

    v ← γ v + η g
    θ ← θ − v

Reference: Polyak (1964), "Some methods of speeding up the convergence of iteration methods";
Sutskever et al. (2013), "On the importance of initialization and momentum in deep learning".

Conventions. ``optax.sgd(η, momentum=γ)`` and ``torch.optim.SGD(lr=η, momentum=γ)`` keep η
*outside* the velocity (u ← γ u + g; θ ← θ − η u). With a constant η the two are the same
trajectory (v = η u). Under a schedule they differ: here each step's gradient keeps the η of
its own step, so lowering η damps new gradients while the velocity already gathered decays at
rate γ; in the optax/torch form lowering η rescales the whole velocity at once.

Composition. Because η is inside the velocity, the direction cannot be separated from the step
size without changing the rule under a schedule. ``scale_by_momentum(γ)`` is the η-free
direction (u ← γ u + g, the optax/torch form); ``chain(scale_by_momentum(γ),
optax.scale_by_learning_rate(η))`` equals ``momentum(η, γ)`` for a constant η. To clip or
otherwise pre-process gradients for the slides' rule, put the transformation before the whole
optimizer: ``optax.chain(optax.clip_by_global_norm(1.0), momentum(schedule))``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
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


class MomentumState(NamedTuple):
    """``count`` steps taken (for schedules) and the velocity ``v``, which already holds η."""

    count: jax.Array
    velocity: optax.Updates


def momentum(
    learning_rate: ScalarOrSchedule, momentum: float = 0.9
) -> optax.GradientTransformation:
    """Heavy-ball momentum with η inside the velocity: v ← γ v + η g; θ ← θ − v.

    Args:
      learning_rate: η, a finite number ≥ 0 or an optax schedule of the step count.
      momentum: γ in [0, 1), the weight of the past velocity (default 0.9).
    """
    check_learning_rate(learning_rate)
    check_unit_interval("momentum", momentum)

    def init_fn(params):
        return MomentumState(count=jnp.zeros([], jnp.int32), velocity=zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        eta = learning_rate_at(learning_rate, state.count)
        velocity = tree_map_like(lambda v, g: momentum * v + eta * g, state.velocity, updates)
        new_updates = jax.tree.map(jnp.negative, velocity)
        return new_updates, MomentumState(optax.safe_increment(state.count), velocity)

    return optax.GradientTransformation(init_fn, update_fn)


class ScaleByMomentumState(NamedTuple):
    """The η-free velocity u."""

    velocity: optax.Updates


def scale_by_momentum(momentum: float = 0.9) -> optax.GradientTransformation:
    """The η-free momentum direction u ← γ u + g (optax's ``trace``, torch's buffer).

    Follow it with ``optax.scale_by_learning_rate(η)``; see the module docstring for how this
    differs from ``momentum`` under a schedule.
    """
    check_unit_interval("momentum", momentum)

    def init_fn(params):
        return ScaleByMomentumState(velocity=zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        velocity = tree_map_like(lambda u, g: momentum * u + g, state.velocity, updates)
        return velocity, ScaleByMomentumState(velocity)

    return optax.GradientTransformation(init_fn, update_fn)
