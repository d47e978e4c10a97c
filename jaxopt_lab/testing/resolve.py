"""What ``check_optimizer`` accepts as an optimizer or a reference, and how names become objects.

A *name* is resolved by ``resolve``:

- ``"adam"``: an optimizer of jaxopt_lab's registry (``jaxopt_lab.OPTIMIZERS``);
- ``"optax.lion"``, ``"optax.contrib.muon"``: an attribute of optax or one of its submodules
  (``"optax.muon"``, not in optax itself, is looked up in ``optax.contrib``);
- ``"package.module:attribute"``: an attribute of any importable module (your own factory, or a
  NumPy rule such as ``tests.reference:reference_adam``).

Anything that is not a string is taken as given. A *NumPy rule* is told from an optax factory by
its signature alone: a callable whose first three parameters are named ``grad``, ``theta`` and
``steps`` is a rule ``rule(grad, theta, steps, learning_rate, **hyperparameters) -> [θ₀, θ₁, …]``
(the form of ``tests/reference.py``); any other callable is a factory that returns an
``optax.GradientTransformation`` when called with the hyperparameters.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import optax

from jaxopt_lab.optimizers.registry import OPTIMIZERS

RULE_PARAMETERS = ("grad", "theta", "steps")


def resolve(spec: Any) -> Any:
    """The object ``spec`` names (see the module docstring); non-strings are returned as given.

    Raises:
      ValueError: for a name that names nothing, listing the forms a name can take.
    """
    if not isinstance(spec, str):
        return spec
    if spec in OPTIMIZERS:
        return OPTIMIZERS[spec]
    if ":" in spec:
        module, _, attribute = spec.partition(":")
        return _attribute(spec, module, attribute)
    if spec.startswith("optax."):
        module, _, attribute = spec.rpartition(".")
        if module == "optax" and not hasattr(optax, attribute):
            contrib = importlib.import_module("optax.contrib")  # "optax.muon" finds it there
            if not hasattr(contrib, attribute):
                raise ValueError(
                    f"cannot resolve {spec!r}: neither optax nor optax.contrib has {attribute!r}."
                )
            module = "optax.contrib"
        return _attribute(spec, module, attribute)
    raise ValueError(
        f"unknown optimizer {spec!r}: give a registry name ({', '.join(OPTIMIZERS)}), an optax "
        "name such as 'optax.lion' or 'optax.contrib.muon', or 'package.module:attribute'."
    )


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


def _attribute(spec: str, module: str, attribute: str) -> Any:
    """``module.attribute`` (a dotted attribute path), or ``ValueError`` naming ``spec``."""
    try:
        found: Any = importlib.import_module(module)
    except ImportError as error:
        raise ValueError(f"cannot resolve {spec!r}: {error}.") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ValueError(f"cannot resolve {spec!r}: {module} has no {attribute!r}.")
        found = getattr(found, part)
    return found
