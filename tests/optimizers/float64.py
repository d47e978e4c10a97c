"""The float64 harness of the reference comparisons: a NumPy gradient, the JAX trajectory."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

Tree = dict[str, np.ndarray]


def smooth_grad(params: Mapping[str, np.ndarray], target: Mapping[str, np.ndarray]) -> Tree:
    """∇L(θ) of L = Σ log cosh(θ − c) + 0.05 Σ θ⁴, leaf by leaf, in NumPy float64."""
    return {name: np.tanh(p - target[name]) + 0.2 * p**3 for name, p in params.items()}


def run_jax(
    optimizer: optax.GradientTransformation,
    start: Tree,
    grad: Callable[[Tree], Tree],
    steps: int,
):
    """The trajectory [θ₀, …] of ``optimizer`` in float64 under jit, with gradients computed in
    NumPy at the current parameters; also its final state and parameters."""
    with jax.enable_x64(True):
        params = {name: jnp.asarray(leaf) for name, leaf in start.items()}
        state, update = optimizer.init(params), jax.jit(optimizer.update)
        path = [start]
        for _ in range(steps):
            grads = grad({name: np.asarray(p) for name, p in params.items()})
            updates, state = update(grads, state, params)
            params = optax.apply_updates(params, updates)
            path.append({name: np.asarray(p) for name, p in params.items()})
    return path, state, params
