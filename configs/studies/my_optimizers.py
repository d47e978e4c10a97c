"""A user's own optimizer, as the beyond study trains it: ``my_optimizers:adabelief``.

The study names it by reference (``optimizer.name: my_optimizers:adabelief``); the study
file's folder is on the module path, so this file needs no installing. It uses only JAX and
optax's ``GradientTransformation``, as any optimizer of yours would.

AdaBelief (Zhuang et al. 2020, "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
Observed Gradients"): Adam whose second moment tracks the gradient's deviation from its
prediction m instead of the gradient itself, for the 1-based step t:

    m ← β₁ m + (1 − β₁) g
    s ← β₂ s + (1 − β₂) (g − m)² + ε_root
    θ ← θ − η · (m / (1 − β₁ᵗ)) / (√(s / (1 − β₂ᵗ)) + ε)

``optax.adabelief`` implements the same rule; ``python scripts/check_optimizer.py
my_optimizers:adabelief --reference optax.adabelief`` (with this folder on ``PYTHONPATH``)
checks this one against it and against every conformance property.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class AdaBeliefState(NamedTuple):
    count: jax.Array  # the number of steps taken, t − 1 before the step
    m: optax.Updates  # EMA of the gradients
    s: optax.Updates  # EMA of the squared deviation of the gradients from m


def adabelief(
    learning_rate: float = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-16,
    eps_root: float = 1e-16,
) -> optax.GradientTransformation:
    """AdaBelief as an optax ``GradientTransformation`` (see the module docstring)."""

    def init(params):
        # One zeros tree per moment: a state holding one array twice cannot be donated to a
        # jitted step (the kit's `donation` property).
        m = jax.tree.map(jnp.zeros_like, params)
        s = jax.tree.map(jnp.zeros_like, params)
        return AdaBeliefState(count=jnp.zeros([], jnp.int32), m=m, s=s)

    def update(grads, state, params=None):
        del params
        t = state.count + 1
        m = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.m, grads)
        s = jax.tree.map(
            lambda s, g, m: b2 * s + (1 - b2) * jnp.square(g - m) + eps_root, state.s, grads, m
        )

        # β raised to a float t: to an int32 t, eager JAX rounds β₂ᵗ differently from jit, and
        # 1 − β₂ᵗ's cancellation turns that last ulp into a 1e-5 relative difference (the
        # conformance kit's `jit` property caught it in this file's first draft).
        t_float = t.astype(jnp.result_type(float))  # float32, float64 under jax_enable_x64
        c1, c2 = 1 - b1**t_float, 1 - b2**t_float

        def step(m, s, g):
            return (-learning_rate * (m / c1) / (jnp.sqrt(s / c2) + eps)).astype(g.dtype)

        updates = jax.tree.map(step, m, s, grads)
        return updates, AdaBeliefState(count=t, m=m, s=s)

    return optax.GradientTransformation(init, update)
