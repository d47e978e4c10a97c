"""``check_optimizer``: run every conformance property on one optimizer and report each.

What is given is resolved once (``resolve``), built once eagerly so that a bad name or
hyperparameter is an error here rather than a failure of every property, and then each property
runs on its own: an exception inside one becomes that property's FAIL, with the error on one
line and a fix, and the others still run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import optax

from jaxopt_lab.optimizers.registry import get_optimizer
from jaxopt_lab.testing import problems
from jaxopt_lab.testing.case import Case, Trajectory, explain, factory_default, factory_parameters
from jaxopt_lab.testing.numerics import trajectory
from jaxopt_lab.testing.properties import PROPERTIES, PROPERTY_NAMES
from jaxopt_lab.testing.report import PropertyResult, Report, failed
from jaxopt_lab.testing.resolve import is_numpy_rule, label, resolve

DEFAULT_LEARNING_RATE = 1e-2


def check_optimizer(
    optimizer: Any,
    hyperparameters: Mapping[str, Any] | None = None,
    reference: Any = None,
    *,
    steps: int = 50,
    rtol: float = 1e-7,
    atol: float = 1e-12,
    only: Iterable[str] | None = None,
    skip: Mapping[str, str] | None = None,
) -> Report:
    """Check ``optimizer`` against every conformance property; see ``jaxopt_lab.testing``.

    Args:
      optimizer: a factory (``optax.adam``, ``jol.adam``, your own), a name (``"adam"``,
        ``"optax.lion"``, ``"package.module:factory"``), or a ready ``GradientTransformation``
        (then the properties that need hyperparameters are skipped, saying why).
      hyperparameters: keyword arguments of the factory. None means the factory's defaults
        with ``learning_rate`` set to its default, or to 1e-2 where it has none.
      reference: what the optimizer must follow step by step: a name, a factory or a
        transformation (built with the same hyperparameters), or a NumPy rule
        ``rule(grad, theta, steps, learning_rate, **hyperparameters) -> [θ₀, θ₁, …]``.
      steps, rtol, atol: the length of the reference comparison and its tolerance (float64).
      only: the names of the properties to run (default all, ``PROPERTY_NAMES``).
      skip: property name ↦ the reason to report it as SKIP instead of running it (e.g.
        ``{"rosenbrock": "a sign-based step needs a schedule there"}``).

    Raises:
      ValueError: for a name that names nothing, an unknown property name, a hyperparameter
        the factory does not take or refuses, or a NumPy rule given as the optimizer.
    """
    skip = dict(skip or {})
    selected = list(PROPERTY_NAMES if only is None else only)
    unknown = sorted(set(selected) - set(PROPERTY_NAMES) | set(skip) - set(PROPERTY_NAMES))
    if unknown:
        raise ValueError(
            f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
            f"the properties are {', '.join(PROPERTY_NAMES)}."
        )
    case = make_case(optimizer, hyperparameters, reference, steps=steps, rtol=rtol, atol=atol)
    results = []
    for prop in PROPERTIES:
        if prop.name not in selected:
            continue
        if prop.name in skip:
            results.append(PropertyResult(prop.name, "SKIP", skip[prop.name]))
            continue
        try:
            outcome = prop.check(case)
        except Exception as error:
            text, fix = explain(error)
            outcome = failed(text, fix or prop.fix)
        results.append(PropertyResult(prop.name, *outcome))
    return Report(_header(case), tuple(results))


def make_case(
    optimizer: Any,
    hyperparameters: Mapping[str, Any] | None,
    reference: Any,
    **settings: Any,
) -> Case:
    """The ``Case`` the properties run on, with the optimizer built once to surface errors."""
    resolved = resolve(optimizer)
    name = label(optimizer)
    if is_numpy_rule(resolved):
        raise ValueError(
            f"{name} is a NumPy rule (its parameters start with grad, theta, steps): it can "
            "only be the reference; pass the optimizer's factory first and the rule as "
            "reference=."
        )
    if isinstance(resolved, optax.GradientTransformation):
        factory, transformation = None, resolved
        hyperparameters = dict(hyperparameters or {})
    elif callable(resolved):
        factory, transformation = resolved, None
        hyperparameters = _hyperparameters(factory, hyperparameters)
        # Built once, eagerly: a bad name or hyperparameter is one error here, naming the fix.
        get_optimizer(optimizer, **hyperparameters)
    else:
        raise ValueError(
            f"cannot check {name}: expected a factory, a name or an optax.GradientTransformation."
        )
    return Case(
        label=name,
        factory=factory,
        transformation=transformation,
        hyperparameters=hyperparameters,
        reference=_trajectory(reference, hyperparameters),
        reference_label=label(reference),
        reference_takes_learning_rate=reference is not None
        and not isinstance(resolve(reference), optax.GradientTransformation),
        **settings,
    )


def _hyperparameters(factory: Any, hyperparameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """As given; for None, ``learning_rate`` at the factory's default, else 1e-2 (if it has one)."""
    if hyperparameters is not None:
        return dict(hyperparameters)
    if "learning_rate" not in factory_parameters(factory):
        return {}
    default = factory_default(factory, "learning_rate")
    return {"learning_rate": DEFAULT_LEARNING_RATE if default is None else default}


def _trajectory(reference: Any, hyperparameters: Mapping[str, Any]) -> Trajectory | None:
    """The reference as ``(θ₀, steps, learning_rate=None) -> [θ₀, …]`` on the smooth problem.

    None without a reference. A learning rate replaces the hyperparameters' own: a NumPy rule
    gets it as given (a schedule as a function of the 0-based step), a factory through
    ``Case.at_learning_rate``'s form, η alone injected.
    """
    if reference is None:
        return None
    resolved = resolve(reference)
    if is_numpy_rule(resolved):

        def rule_path(start, steps, learning_rate=None):
            given = dict(hyperparameters)
            if learning_rate is not None:
                given["learning_rate"] = learning_rate
            return resolved(problems.smooth_grad, start, steps, **given)

        return rule_path
    if isinstance(resolved, optax.GradientTransformation):

        def ready_path(start, steps, learning_rate=None):
            if learning_rate is not None:
                raise ValueError("a ready transformation's learning rate cannot be changed")
            return trajectory(resolved, start, steps)

        return ready_path
    if callable(resolved):

        def factory_path(start, steps, learning_rate=None):
            if learning_rate is None:
                return trajectory(resolved(**hyperparameters), start, steps)
            at = Case("reference", resolved, None, hyperparameters)
            return trajectory(at.at_learning_rate(learning_rate), start, steps)

        return factory_path
    raise ValueError(
        f"cannot use {label(reference)} as a reference: expected a name, a factory, an "
        "optax.GradientTransformation or a NumPy rule rule(grad, theta, steps, ...)."
    )


def _header(case: Case) -> str:
    arguments = ", ".join(f"{k}={v!r}" for k, v in case.hyperparameters.items())
    text = f"{case.label}({arguments})" if case.factory is not None else case.label
    if case.reference is not None:
        text += f" against {case.reference_label}"
    return text
