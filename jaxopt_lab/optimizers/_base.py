"""Pieces every optimizer module shares: hyperparameter checks and dtype-keeping tree maps.

Checks run when an optimizer is *built*, on concrete numbers only. Inside
``optax.inject_hyperparams`` or ``jax.vmap`` a hyperparameter arrives as a traced array whose
value is unknown at build time; those are left alone, as are schedules (callables).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

ScalarOrSchedule = float | jax.Array | optax.Schedule


def _concrete(name: str, value: Any) -> float | None:
    """The value as a Python float, or None when it is traced or a schedule.

    Raises ``ValueError`` naming ``name`` for anything but a real scalar (a complex number, a
    string, None, an array).
    """
    if callable(value) or isinstance(value, jax.core.Tracer):
        return None
    array = np.asarray(value) if value is not None else np.asarray(value, dtype=object)
    if array.ndim != 0 or not (
        jnp.issubdtype(array.dtype, jnp.integer) or jnp.issubdtype(array.dtype, jnp.floating)
    ):
        raise ValueError(
            f"{name}={value!r} is invalid: expected a real scalar hyperparameter (a float)."
        )
    return float(array)


def check_learning_rate(learning_rate: ScalarOrSchedule) -> None:
    """A learning rate is a finite number ≥ 0 or a schedule (a callable of the step count)."""
    value = _concrete("learning_rate", learning_rate)
    if value is not None and not (math.isfinite(value) and value >= 0.0):
        raise ValueError(
            f"learning_rate={value!r} is invalid: it must be a finite number >= 0 "
            "(or an optax schedule, a callable of the step count)."
        )


def check_unit_interval(name: str, value: Any) -> None:
    """A decay rate (β₁, β₂, γ, ρ) lies in [0, 1)."""
    number = _concrete(name, value)
    if number is not None and not 0.0 <= number < 1.0:
        hint = ""
        if number == 1.0 and jnp.finfo(np.asarray(value).dtype).bits < 32:
            # optax.inject_hyperparams stores hyperparameters in the params' dtype by default.
            hint = (
                f" It arrived as a {np.asarray(value).dtype} array, which rounds values such as"
                " 0.999 to 1.0: pass hyperparam_dtype=jnp.float32 to optax.inject_hyperparams."
            )
        raise ValueError(f"{name}={number!r} is invalid: it must lie in [0, 1).{hint}")


def check_non_negative(name: str, value: Any) -> None:
    """ε, weight decay and accumulator starts are finite and ≥ 0."""
    number = _concrete(name, value)
    if number is not None and not (math.isfinite(number) and number >= 0.0):
        raise ValueError(f"{name}={number!r} is invalid: it must be a finite number >= 0.")


def learning_rate_at(learning_rate: ScalarOrSchedule, count: jax.Array) -> jax.Array:
    """η_t: the schedule evaluated at the 0-based step ``count``, or the constant itself."""
    return learning_rate(count) if callable(learning_rate) else learning_rate


def tree_map_like(fn: Callable[..., jax.Array], like: Any, *trees: Any) -> Any:
    """``jax.tree.map(fn, like, *trees)`` with every result cast to the dtype of ``like``'s leaf.

    Hyperparameters injected as float32 arrays would otherwise promote bfloat16 leaves.
    """
    return jax.tree.map(lambda x, *rest: jnp.asarray(fn(x, *rest)).astype(x.dtype), like, *trees)


def zeros_like(params: Any) -> Any:
    """A tree of zeros with each leaf's shape and dtype."""
    return jax.tree.map(jnp.zeros_like, params)


def bias_correction(decay: Any, count: jax.Array) -> jax.Array:
    """1 − βᵗ as one scalar per step (in JAX's default float type, float64 under x64)."""
    dtype = jnp.result_type(float)
    return 1.0 - jnp.asarray(decay, dtype) ** count.astype(dtype)


def scale_by_learning_rate(learning_rate: ScalarOrSchedule) -> optax.GradientTransformation:
    """u ↦ −η_t u, keeping each leaf's dtype.

    Same as ``optax.scale_by_learning_rate``, except that a learning rate injected as a float32
    array (``optax.inject_hyperparams``) does not promote bfloat16 updates to float32.
    """
    check_learning_rate(learning_rate)
    if not callable(learning_rate):
        return optax.stateless(
            lambda updates, params=None: tree_map_like(lambda u: -learning_rate * u, updates)
        )

    def init_fn(params):
        del params
        return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        eta = learning_rate(state.count)
        new_updates = tree_map_like(lambda u: -eta * u, updates)
        return new_updates, optax.ScaleByScheduleState(optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)
