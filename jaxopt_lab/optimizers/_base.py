"""Pieces every optimizer module shares: hyperparameter and parameter checks, dtype-keeping maps.

Hyperparameter checks run when an optimizer is *built*, on concrete numbers only. Inside
``optax.inject_hyperparams`` or ``jax.vmap`` a hyperparameter arrives as a traced array whose
value is unknown at build time; those are left alone, as are schedules (callables).

Parameters are checked when the optimizer's state is *created* (``init``): every leaf must have
a real floating dtype (float16, bfloat16, float32, float64). Integer parameters cannot take a
step of η·g (the update is truncated, or overflows: RMSProp once moved an int32 parameter to
−29,999,999); complex parameters are not supported either, unlike optax, whose updates follow
the conjugate convention for complex gradients. The check reads dtypes only, so it costs
nothing under ``jit`` or ``vmap``.
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
        hint = ""
        if jnp.issubdtype(array.dtype, jnp.complexfloating):
            # optax.inject_hyperparams stores hyperparameters in the params' dtype by default.
            hint = (
                " A complex hyperparameter usually means optax.inject_hyperparams took its dtype"
                " from complex parameters, which these optimizers do not support: keep their"
                " real and imaginary parts as two float leaves (e.g. float32) instead."
            )
        raise ValueError(
            f"{name}={value!r} is invalid: expected a real scalar hyperparameter (a float).{hint}"
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


def check_open_unit_interval(name: str, value: Any) -> None:
    """A weight that is divided by somewhere (schedule-free's β₁) lies in (0, 1).

    An integer array is left alone: ``optax.inject_hyperparams`` casts float hyperparameters to
    integer parameters' dtype (0.9 becomes 0), and ``init`` then names the parameters instead.
    """
    if isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.integer):
        return
    number = _concrete(name, value)
    if number is not None and not 0.0 < number < 1.0:
        raise ValueError(f"{name}={number!r} is invalid: it must lie in (0, 1).")


def check_integer(name: str, value: Any, minimum: int) -> None:
    """A count (Newton–Schulz steps, warmup steps) is an integer ≥ ``minimum``."""
    number = _concrete(name, value)
    if number is not None and not (
        jnp.issubdtype(np.asarray(value).dtype, jnp.integer) and number >= minimum
    ):
        raise ValueError(f"{name}={value!r} is invalid: it must be an integer >= {minimum}.")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """A string option is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name}={value!r} is invalid: it must be one of {', '.join(map(repr, choices))}."
        )


def check_finite_tuple(name: str, value: Any, length: int) -> None:
    """A tuple (or list) of ``length`` finite real numbers."""
    if not isinstance(value, tuple | list) or len(value) != length:
        raise ValueError(f"{name}={value!r} is invalid: it must be a tuple of {length} numbers.")
    for item in value:
        number = _concrete(name, item)
        if number is not None and not math.isfinite(number):
            raise ValueError(f"{name}={value!r} is invalid: every entry must be finite.")


def check_float_dtype(name: str, value: Any) -> None:
    """None (meaning the parameters' dtype) or a real floating-point dtype."""
    try:
        floating = value is None or jnp.issubdtype(jnp.dtype(value), jnp.floating)
    except TypeError:
        floating = False
    if not floating:
        raise ValueError(f"{name}={value!r} is invalid: it must be None or a float dtype.")


def check_float_params(params: Any) -> None:
    """``TypeError`` unless every leaf of ``params`` has a real floating dtype (see module doc).

    Called by every ``init``, directly or through ``zeros_like``/``full_like``; the message
    names the first offending leaf by its path, its dtype and the fix. None leaves and empty
    containers hold no array and pass.
    """
    leaves = jax.tree.leaves_with_path(params)
    dtypes = [(jax.tree_util.keystr(path), _dtype(leaf)) for path, leaf in leaves]
    bad = [(path, dtype) for path, dtype in dtypes if not jnp.issubdtype(dtype, jnp.floating)]
    if not bad:
        return
    path, dtype = bad[0]
    others = f" (and {len(bad) - 1} more non-float leaves)" if len(bad) > 1 else ""
    fix = "Cast the parameters to a float dtype first, e.g. float32: "
    fix += "jax.tree.map(lambda p: p.astype(jnp.float32), params)."
    if jnp.issubdtype(dtype, jnp.complexfloating):
        why = "complex parameters are not supported (optax's conjugate convention is not followed)"
        fix = "Keep the real and imaginary parts as two float leaves (e.g. float32) instead."
    elif jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.bool_):
        why = "an integer or boolean parameter cannot take a fractional step θ − η·u"
    else:
        why = "optimizer parameters must be real floating-point arrays"
    raise TypeError(f"params{path} has dtype {dtype}{others}: {why}. {fix}")


def _dtype(leaf: Any) -> np.dtype:
    return leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype


def learning_rate_at(learning_rate: ScalarOrSchedule, count: jax.Array) -> jax.Array:
    """η_t: the schedule evaluated at the 0-based step ``count``, or the constant itself."""
    return learning_rate(count) if callable(learning_rate) else learning_rate


def tree_map_like(fn: Callable[..., jax.Array], like: Any, *trees: Any) -> Any:
    """``jax.tree.map(fn, like, *trees)`` with every result cast to the dtype of ``like``'s leaf.

    Hyperparameters injected as float32 arrays would otherwise promote bfloat16 leaves.
    """
    return jax.tree.map(lambda x, *rest: jnp.asarray(fn(x, *rest)).astype(x.dtype), like, *trees)


def full_like(params: Any, value: float, dtype: Any = None) -> Any:
    """A tree of ``value`` with each leaf's shape and dtype (or ``dtype``), once
    ``check_float_params`` passes."""
    check_float_params(params)
    return jax.tree.map(lambda p: jnp.full_like(p, value, dtype=dtype), params)


def zeros_like(params: Any, dtype: Any = None) -> Any:
    """A tree of zeros with each leaf's shape and dtype (or ``dtype``), once
    ``check_float_params`` passes."""
    return full_like(params, 0.0, dtype)


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

    def init_fn(params):
        check_float_params(params)
        if not callable(learning_rate):
            return optax.EmptyState()
        return optax.ScaleByScheduleState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        if not callable(learning_rate):
            return tree_map_like(lambda u: -learning_rate * u, updates), state
        eta = learning_rate(state.count)
        new_updates = tree_map_like(lambda u: -eta * u, updates)
        return new_updates, optax.ScaleByScheduleState(optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)
