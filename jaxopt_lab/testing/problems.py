"""The parameters, gradients and objectives the conformance properties run optimizers on.

Every property but ``pytrees`` works on a single array, so that a failure points at one cause:
an optimizer that only handles one array fails ``pytrees`` and nothing else.

- ``PARABOLA`` and ``ROSENBROCK`` are the targets of optax's own optimizer tests
  (``optax/_src/alias_test.py``): f(θ) = ½‖θ − c‖² from (−1, 10, 1) to c = (1, −1, 1), and
  f(x, y) = (1 − x)² + 100 (y − x²)² from (0, 0) to (1, 1).
- ``smooth_grad`` is the reference problem: L(θ) = Σ log cosh(Aθ − b) + 0.05 Σ θ⁴ on six
  coordinates, smooth, convex and not quadratic, so that rules which agree on a quadratic (or
  only in their first step) still separate. Its gradient is NumPy float64, given alike to the
  optimizer and to a NumPy reference rule.
- ``TREES`` are the pytrees the ``pytrees`` property runs on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Problem:
    """A target to minimise from a fixed start; reached when ‖θ − θ*‖∞ ≤ 3e-2 (1 + |θ*|)."""

    name: str
    objective: Callable[[jax.Array], jax.Array]
    start: tuple[float, ...]
    optimum: tuple[float, ...]
    steps: int = 10_000
    tolerance: float = 3e-2  # optax's rtol = atol for the same targets


def _parabola(theta: jax.Array) -> jax.Array:
    return 0.5 * jnp.sum((theta - jnp.asarray(PARABOLA.optimum, theta.dtype)) ** 2)


def _rosenbrock(theta: jax.Array) -> jax.Array:
    return (1.0 - theta[0]) ** 2 + 100.0 * (theta[1] - theta[0] ** 2) ** 2


PARABOLA = Problem("parabola", _parabola, start=(-1.0, 10.0, 1.0), optimum=(1.0, -1.0, 1.0))
ROSENBROCK = Problem("rosenbrock", _rosenbrock, start=(0.0, 0.0), optimum=(1.0, 1.0))

_rng = np.random.default_rng(0)
SMOOTH_A = _rng.normal(size=(5, 6))
SMOOTH_B = _rng.normal(size=5)
SMOOTH_START = _rng.normal(size=6)


def smooth_grad(theta: np.ndarray) -> np.ndarray:
    """∇L(θ) = Aᵀ tanh(Aθ − b) + 0.2 θ³ of the reference problem, in float64."""
    theta = np.asarray(theta, np.float64)
    return SMOOTH_A.T @ np.tanh(SMOOTH_A @ theta - SMOOTH_B) + 0.2 * theta**3


def params(dtype: Any = jnp.float32) -> jax.Array:
    """The single array most properties step: shape (2, 3), no two entries alike."""
    return jnp.linspace(-1.0, 1.5, 6, dtype=jnp.float32).reshape(2, 3).astype(dtype)


def gradients(tree: Any, step: int) -> Any:
    """Deterministic gradients shaped like ``tree`` that change from step to step."""
    return jax.tree.map(lambda p: jnp.sin(p * (step + 1) + 0.3).astype(p.dtype), tree)


def _nested() -> dict[str, Any]:
    f32 = jnp.float32
    return {
        "a": {"b": jnp.ones((2, 3), f32), "c": (jnp.arange(3, dtype=f32), jnp.asarray(0.5, f32))},
        "list": [jnp.full((4,), -0.25, f32)],
        "empty_dict": {},
        "empty_tuple": (),
        "empty_list": [],
    }


def _flax_like() -> dict[str, Any]:
    """Shaped like the variables of ``flax.linen`` ``Dense(4) → Dense(2)``, float32."""
    f32 = jnp.float32
    return {
        "params": {
            "Dense_0": {"kernel": jnp.full((3, 4), 0.1, f32), "bias": jnp.zeros(4, f32)},
            "Dense_1": {"kernel": jnp.full((4, 2), -0.2, f32), "bias": jnp.zeros(2, f32)},
        }
    }


TREES: dict[str, Callable[[], Any]] = {
    "nested dicts, tuples and lists with empty containers": _nested,
    "a Flax-like {'params': {'Dense_0': {'kernel', 'bias'}, …}}": _flax_like,
}
