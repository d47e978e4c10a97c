"""The optimizer under check, and what the properties share: stepping it, comparing trees.

A ``Case`` holds what ``check_optimizer`` was given, resolved: a factory with its
hyperparameters (or a ready transformation), and the reference as a trajectory function. The
helpers below say *where* two trees differ (the leaf's path, the entry, both values), so that
each property's message can point at it.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
import optax

from jaxopt_lab.testing.problems import SMOOTH_START, gradients

# θ₀, steps, learning rate ↦ [θ₀, θ₁, …, θ_steps] on the reference problem (float64 vectors).
# The learning rate: None for the hyperparameters' own, else a number or a schedule of the
# 0-based step (a Python int for a NumPy rule, the step count array for a factory).
Trajectory = Callable[[np.ndarray, int, Any], list[np.ndarray]]

CONTROL_FLOW_FIX = (
    "use jnp.where / keep hyperparameters out of Python control flow: under jit, vmap and "
    "optax.inject_hyperparams a hyperparameter, like every array in the update, is a traced "
    "array, so `if lr > 0.1:`, bool(), float() or int() on it fail; compute with jnp.where or "
    "lax.cond instead, and validate hyperparameters only when they are concrete (skip "
    "jax.core.Tracer values); an argument that must stay a Python number (a size, a count of "
    "iterations) belongs in optax.inject_hyperparams(..., static_args=...)"
)

IGNORED_FIX = (
    "scale the update by the learning_rate the factory is given (return −η·direction, η the "
    "factory's argument): a rate fixed inside the factory (optax.sgd(0.01) whatever it is "
    "given) or captured from outside ignores it, and sweeps and schedules of η change nothing"
)


@dataclasses.dataclass(frozen=True)
class Case:
    """An optimizer to check: ``factory(**hyperparameters)``, or a ready ``transformation``."""

    label: str
    factory: Callable[..., optax.GradientTransformation] | None
    transformation: optax.GradientTransformation | None
    hyperparameters: Mapping[str, Any]
    reference: Trajectory | None = None
    reference_label: str = ""
    reference_takes_learning_rate: bool = False  # False for a ready transformation
    steps: int = 50
    rtol: float = 1e-7
    atol: float = 1e-12

    def optimizer(self, **overrides: Any) -> optax.GradientTransformation:
        """The transformation, built with the hyperparameters updated by ``overrides``."""
        if self.factory is None:
            return self.transformation
        return self.factory(**{**self.hyperparameters, **overrides})

    @property
    def learning_rate(self) -> Any:
        """η as given, else the factory's default; None for a ready transformation."""
        if self.factory is None:
            return None
        if "learning_rate" in self.hyperparameters:
            return self.hyperparameters["learning_rate"]
        return factory_default(self.factory, "learning_rate")

    @property
    def takes_learning_rate(self) -> bool:
        return self.factory is not None and "learning_rate" in factory_parameters(self.factory)

    def at_learning_rate(self, learning_rate: Any) -> optax.GradientTransformation:
        """The optimizer with η alone injected (a number, an array or a schedule), every other
        hyperparameter closed over as given: how the engine sweeps and schedules η."""
        others = {k: v for k, v in self.hyperparameters.items() if k != "learning_rate"}

        def at_rate(learning_rate):
            return self.factory(learning_rate=learning_rate, **others)

        return optax.inject_hyperparams(at_rate)(learning_rate=learning_rate)

    def reference_is_linear_in_learning_rate(self) -> bool:
        """True when the reference's first step at 2η is twice its first step at η (float64).

        False without a reference, for a learning rate that is not a non-zero number, or for a
        reference whose η cannot be changed (a ready transformation).
        """
        eta = self.learning_rate
        if self.reference is None or not self.reference_takes_learning_rate:
            return False
        if not is_number(eta) or float(eta) == 0.0:
            return False
        start = np.asarray(SMOOTH_START, np.float64)
        with jax.enable_x64(True):
            once, twice = (
                np.asarray(self.reference(start, 1, rate)[1], np.float64) - start
                for rate in (float(eta), 2.0 * float(eta))
            )
        return bool(np.any(once != 0)) and bool(np.allclose(twice, 2 * once, rtol=1e-9, atol=0))


def factory_parameters(factory: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}


def factory_default(factory: Callable[..., Any], name: str) -> Any:
    """The default of ``factory``'s argument ``name``, or None without one."""
    parameter = factory_parameters(factory).get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def run(
    optimizer: optax.GradientTransformation,
    params: Any,
    steps: int,
    jit: bool = False,
    grads: Callable[[Any, int], Any] | None = None,
) -> tuple[list[Any], Any]:
    """Apply ``steps`` updates; returns the updates of each step and the final state.

    Gradients are ``grads(params, step)``; by default those of ``problems.gradients`` at the
    starting parameters, so that every run sees the same sequence. Eager unless ``jit``: on
    small arrays that is faster than compiling, and the properties about ``jit`` ask for it.
    """
    grads = grads or (lambda _, step: gradients(params, step))
    init = jax.jit(optimizer.init) if jit else optimizer.init
    update = jax.jit(optimizer.update) if jit else optimizer.update
    state, current, all_updates = init(params), params, []
    for step in range(steps):
        updates, state = update(grads(current, step), state, current)
        current = optax.apply_updates(current, updates)
        all_updates.append(updates)
    return all_updates, state


def numeric(tree: Any) -> Any:
    """The tree with PRNG keys replaced by their key data, so every leaf compares as numbers."""

    def unwrap(leaf: Any) -> Any:
        if hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return jax.random.key_data(leaf)
        return leaf

    return jax.tree.map(unwrap, tree)


def first_difference(
    actual: Any, expected: Any, rtol: float, atol: float, what: str = "updates"
) -> str | None:
    """Where ``actual`` first departs from ``expected``, e.g. ``updates[0][1, 2]: 0.5 vs 0.25``.

    None when they agree within ``|a − e| ≤ atol + rtol |e|`` (NaNs agree with NaNs).
    """
    structure = structure_difference(actual, expected, what)
    if structure:
        return structure
    paths = jax.tree.leaves_with_path(numeric(expected))
    for (path, e), a in zip(paths, jax.tree.leaves(numeric(actual)), strict=True):
        a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
        if a.shape != e.shape:
            return f"{what}{jax.tree_util.keystr(path)} has shape {a.shape}, expected {e.shape}"
        close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)
        if not close.all():
            index = np.unravel_index(np.argmin(close), a.shape)
            entry = f"[{', '.join(map(str, index))}]" if index else ""
            return (
                f"{what}{jax.tree_util.keystr(path)}{entry}: {a[index]:.10g} vs "
                f"{e[index]:.10g} (|difference| {abs(a[index] - e[index]):.2g})"
            )
    return None


def structure_difference(actual: Any, expected: Any, what: str) -> str | None:
    """A sentence when the two trees have different structures, else None."""
    if jax.tree.structure(actual) == jax.tree.structure(expected):
        return None
    return (
        f"{what} have the structure {jax.tree.structure(actual)}, expected "
        f"{jax.tree.structure(expected)}"
    )


def type_difference(
    before: Any, after: Any, what: str = "state", weak_types: bool = True
) -> str | None:
    """The first leaf whose shape or dtype (or weak type) differs between two trees, or None."""
    structure = structure_difference(after, before, what)
    if structure:
        return structure
    paths = jax.tree.leaves_with_path(before)
    for (path, b), a in zip(paths, jax.tree.leaves(after), strict=True):
        b_type, a_type = describe(b, weak_types), describe(a, weak_types)
        if b_type != a_type:
            return f"{what}{jax.tree_util.keystr(path)} was {b_type} and became {a_type}"
    return None


def describe(leaf: Any, weak_types: bool = True) -> str:
    """``float32[2,3]`` as in a jaxpr, with `` (weak)`` for a weakly typed leaf if asked."""
    aval = jax.typeof(leaf)
    weak = weak_types and getattr(aval, "weak_type", False)
    return f"{aval.str_short()}{' (weak)' if weak else ''}"


UNFINISHED_FIX = (
    "The optimizer is not written yet: fill in the code that raises NotImplementedError (in a "
    "workshop notebook, the blank of the exercise above), then run this check again."
)


def explain(error: Exception) -> tuple[str, str | None]:
    """``error`` on one line, and the fix when the cause is known (a traced hyperparameter, an
    unwritten optimizer)."""
    first_line = next((line for line in str(error).splitlines() if line.strip()), "")
    if len(first_line) > 240:
        first_line = first_line[:237] + "..."
    text = f"raised {type(error).__name__}: {first_line}".rstrip(": ")
    tracer_errors = (
        jax.errors.ConcretizationTypeError,
        jax.errors.TracerBoolConversionError,
        jax.errors.TracerIntegerConversionError,
        jax.errors.TracerArrayConversionError,
    )
    if isinstance(error, tracer_errors):
        return text, CONTROL_FLOW_FIX
    if isinstance(error, NotImplementedError):
        return text, UNFINISHED_FIX
    return text, None


def is_number(value: Any) -> bool:
    """A real number or array, as ``optax.inject_hyperparams`` injects (bools stay static)."""
    if isinstance(value, bool) or callable(value):
        return False
    return isinstance(value, numbers.Real | np.ndarray | jax.Array)
