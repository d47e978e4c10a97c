"""What ``check_optimizer`` accepts as an optimizer or a reference, and how names become objects.

A name is an optimizer reference of ``jaxopt_lab.optimizers.registry`` (``"adam"``,
``"optax.lion"``, ``"optax.contrib.muon"``, ``"package.module:attribute"``, a name given to
``register_optimizer``); ``"package.module:attribute"`` may also name a NumPy rule such as
``tests.reference:reference_adam``. Anything that is not a string is taken as given.

A *NumPy rule* is told from an optax factory by its signature alone: a callable whose first
three parameters are named ``grad``, ``theta`` and ``steps`` is a rule
``rule(grad, theta, steps, learning_rate, **hyperparameters) -> [θ₀, θ₁, …]`` (the form of
``tests/reference.py``); any other callable is a factory that returns an
``optax.GradientTransformation`` when called with the hyperparameters.
"""

from __future__ import annotations

import inspect
from typing import Any

import optax

from jaxopt_lab.optimizers.registry import find

RULE_PARAMETERS = ("grad", "theta", "steps")


def resolve(spec: Any) -> Any:
    """The object ``spec`` names (see the module docstring); non-strings are returned as given.

    Raises:
      ValueError: for a name that names nothing, listing the forms a name can take.
    """
    return find(spec) if isinstance(spec, str) else spec


def is_numpy_rule(candidate: Any) -> bool:
    """True for a callable whose parameters start with ``(grad, theta, steps, ...)``."""
    if isinstance(candidate, optax.GradientTransformation) or not callable(candidate):
        return False
    try:
        names = tuple(inspect.signature(candidate).parameters)
    except (TypeError, ValueError):  # builtins without a signature are not rules
        return False
    return names[: len(RULE_PARAMETERS)] == RULE_PARAMETERS


def label(spec: Any) -> str:
    """How the report names ``spec``: the name given, a factory's qualified name, or its type."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, optax.GradientTransformation):
        return f"a ready {type(spec).__name__}"
    if callable(spec) and hasattr(spec, "__qualname__"):
        module = getattr(spec, "__module__", None)
        return f"{module}.{spec.__qualname__}" if module else spec.__qualname__
    return repr(spec)
