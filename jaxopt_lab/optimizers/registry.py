"""Optimizers by reference, for configs, study rows, command lines and ``jol.get_optimizer``.

An *optimizer reference* is a string naming a factory, a function of hyperparameters
(``learning_rate``, …) that returns an ``optax.GradientTransformation``:

- ``"adam"``: a built-in of ``OPTIMIZERS``, or a name given to ``register_optimizer``;
- ``"optax.lion"``, ``"optax.contrib.muon"``: an attribute of optax or of one of its submodules
  (``"optax.muon"``, not in optax itself, is looked up in ``optax.contrib``);
- ``"package.module:attribute"``: an attribute of any importable module (on ``sys.path``:
  ``PYTHONPATH``, or the folder of the config or study file that names it, see
  ``add_module_folder``).

The trust rule for text references (configs, study files, ``--set``, command lines): a
``module:attribute`` reference imports that module, which runs its code, so it is trusted like
the config itself; and it may name only an optimizer factory, never whatever else is importable.
Before anything is imported or called, ``find`` refuses a module of Python's standard library;
after importing, it refuses an attribute defined in the standard library (``from logging import
basicConfig`` in a user's module) and, in the ``module:attribute`` form, a callable whose
signature does not name ``learning_rate`` (or, for the conformance kit's NumPy rules, ``grad,
theta, steps``) as a parameter: a function taking ``**kwargs`` alone, such as
``logging.basicConfig``, would otherwise be called with whatever the config's hyperparameters
say. Python callers are not bound by it: a factory passed as an object, or registered with
``register_optimizer``, is the caller's own code.

Python callers may pass the factory itself; ``reference_of`` turns it into the string that
configs store (``"module:attribute"`` when the module can import it again, otherwise a name
registered at run time), so every run's ``config.yaml`` names its optimizer; ``describe.py``
says what a reference resolved to (the package and its version, or the module's file and its
sha256).
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import optax

from jaxopt_lab.optimizers.adadelta import adadelta
from jaxopt_lab.optimizers.adagrad import adagrad
from jaxopt_lab.optimizers.adam import adam
from jaxopt_lab.optimizers.adamw import adamw
from jaxopt_lab.optimizers.ademamix import ademamix
from jaxopt_lab.optimizers.cautious import cautious_adamw, cautious_lion
from jaxopt_lab.optimizers.kron import kron
from jaxopt_lab.optimizers.lion import lion
from jaxopt_lab.optimizers.mars import mars
from jaxopt_lab.optimizers.momentum import momentum
from jaxopt_lab.optimizers.muon import muon
from jaxopt_lab.optimizers.nadam import nadam
from jaxopt_lab.optimizers.nadamw import nadamw
from jaxopt_lab.optimizers.nesterov import nesterov
from jaxopt_lab.optimizers.rmsprop import rmsprop
from jaxopt_lab.optimizers.schedule_free import schedule_free_adamw, schedule_free_sgd
from jaxopt_lab.optimizers.sgd import sgd
from jaxopt_lab.optimizers.soap import soap

Factory = Callable[..., optax.GradientTransformation]

OPTIMIZERS: dict[str, Factory] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "adam": adam,
    "rmsprop": rmsprop,
    "adadelta": adadelta,
    "nadam": nadam,
    "adamw": adamw,
    "lion": lion,
    "muon": muon,
    "schedule_free_sgd": schedule_free_sgd,
    "schedule_free_adamw": schedule_free_adamw,
    "ademamix": ademamix,
    "nadamw": nadamw,
    "cautious_adamw": cautious_adamw,
    "cautious_lion": cautious_lion,
    "mars": mars,
    "kron": kron,
    "soap": soap,
}

# The built-ins that are cautious already, by the base a config's ``cautious: true`` would wrap.
CAUTIOUS = {"cautious_adamw": "adamw", "cautious_lion": "lion"}

# Gradient clipping before the optimizer, by method: threshold ↦ transformation.
CLIPPING: dict[str, Callable[[float], optax.GradientTransformation]] = {
    "global_norm": optax.clip_by_global_norm,  # g · min(1, c / ‖g‖₂) over the whole tree
    "value": optax.clip,  # each entry clipped to [−c, c]
}

# Factories registered at run time (register_optimizer), by name; never a built-in's name.
_REGISTERED: dict[str, Factory] = {}

FORMS = (
    "a registry name ({names}), an optax factory such as 'optax.lion' or 'optax.contrib.muon', "
    "or 'package.module:factory' (a module on sys.path)"
)


def register_optimizer(name: str, factory: Factory) -> str:
    """Make ``factory`` known as ``name`` in this process (notebooks, scripts); returns ``name``.

    A later registration under the same name replaces the earlier one (re-running a notebook
    cell); a built-in's name, or one with the reference forms' ``.``, ``:`` or ``/``, is refused.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"cannot register an optimizer as {name!r}: use a Python identifier such as "
            "'my_adam' ('.' and ':' belong to the 'optax.x' and 'module:factory' forms)."
        )
    if name in OPTIMIZERS:
        raise ValueError(
            f"cannot register an optimizer as {name!r}: that is a built-in's name; "
            "choose another name."
        )
    _check_callable(name, factory)
    _REGISTERED[name] = factory
    return name


def registered() -> dict[str, Factory]:
    """The built-ins and the factories registered in this process, by name."""
    return {**OPTIMIZERS, **_REGISTERED}


def add_module_folder(folder: str | Path) -> None:
    """Let ``module:factory`` references find modules in ``folder`` (the folder of a config or
    study file), after everything already on ``sys.path``, as Python does for a script's."""
    path = str(Path(folder).resolve())
    if path not in sys.path:
        sys.path.append(path)


def resolve(reference: str | Factory) -> Factory:
    """The factory ``reference`` names (a callable is returned as given).

    Raises:
      ValueError: naming ``reference`` and the fix, for an unknown name, a module that does not
        import (with the import error's first line), a missing attribute, or an attribute that
        is not callable.
    """
    if not isinstance(reference, str):
        _check_callable(_label(reference), reference)
        return reference
    found = find(reference)
    _check_callable(reference, found)
    return found


def find(reference: str) -> Any:
    """The object a reference names, callable or not (the conformance kit also resolves NumPy
    rules this way); ``ValueError`` as ``resolve`` otherwise, and for a reference outside the
    trust rule (module docstring), refused before it is called."""
    if reference in OPTIMIZERS:
        return OPTIMIZERS[reference]
    if reference in _REGISTERED:
        return _REGISTERED[reference]
    if ":" in reference:
        module, _, attribute = reference.partition(":")
        return _attribute(reference, module, attribute)
    if reference.startswith("optax."):
        module, _, attribute = reference.rpartition(".")
        if module == "optax" and not hasattr(optax, attribute):
            contrib = importlib.import_module("optax.contrib")  # "optax.muon" finds it there
            if not hasattr(contrib, attribute):
                raise ValueError(
                    f"unknown optimizer {reference!r}: neither optax nor optax.contrib has "
                    f"{attribute!r}."
                )
            module = "optax.contrib"
        return _attribute(reference, module, attribute)
    raise ValueError(
        f"unknown optimizer {reference!r}; give "
        + FORMS.format(names=", ".join(registered()))
        + "."
    )


def reference_of(optimizer: str | Factory) -> str:
    """The string reference configs store for ``optimizer`` (a reference is returned as is).

    A factory becomes its built-in or registered name, ``optax.<name>`` or
    ``optax.contrib.<name>``, ``module:qualified_name`` when that module imports it back, and
    otherwise (defined in a notebook or ``__main__``, or inside a function) its ``__name__``,
    registered for this process.
    """
    if isinstance(optimizer, str):
        return optimizer
    _check_callable(_label(optimizer), optimizer)
    for name, factory in registered().items():
        if factory is optimizer:
            return name
    name = getattr(optimizer, "__name__", None)
    if name is not None and getattr(optax, name, None) is optimizer:
        return f"optax.{name}"
    contrib = importlib.import_module("optax.contrib")
    if name is not None and getattr(contrib, name, None) is optimizer:
        return f"optax.contrib.{name}"
    module = getattr(optimizer, "__module__", None)
    qualname = getattr(optimizer, "__qualname__", "")
    if module not in (None, "__main__") and "<" not in qualname:
        try:
            if find(f"{module}:{qualname}") is optimizer:
                return f"{module}:{qualname}"
        except ValueError:
            pass
    if name is None or not name.isidentifier() or name in OPTIMIZERS:
        raise ValueError(
            f"cannot name the optimizer {_label(optimizer)}: register it first, "
            "jol.register_optimizer('my_name', factory), and pass 'my_name'."
        )
    return register_optimizer(name, optimizer)


def hyperparameter_names(reference: str | Factory) -> tuple[str, ...]:
    """The keyword arguments the optimizer accepts, in signature order (``**kwargs`` excluded)."""
    return tuple(
        key
        for key, parameter in _parameters(reference).items()
        if parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    )


def hyperparameter_defaults(reference: str | Factory) -> dict[str, Any]:
    """The hyperparameters that have defaults, with them, in signature order."""
    return {
        key: parameter.default
        for key, parameter in _parameters(reference).items()
        if parameter.default is not inspect.Parameter.empty
    }


def check_hyperparameter_names(reference: str | Factory, names: Iterable[str]) -> None:
    """``ValueError`` listing what the optimizer accepts if any of ``names`` is not among them
    (a factory with ``**kwargs`` accepts any name)."""
    if any(p.kind == p.VAR_KEYWORD for p in _parameters(reference).values()):
        return
    known = hyperparameter_names(reference)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"optimizer {_label(reference)!r} has no hyperparameter "
            f"{', '.join(map(repr, unknown))}; it accepts {', '.join(known)}."
        )


def takes_learning_rate(reference: str | Factory) -> bool:
    """Whether the factory accepts ``learning_rate`` (by name, or through ``**kwargs``)."""
    parameters = _parameters(reference)
    return "learning_rate" in parameters or any(
        p.kind == p.VAR_KEYWORD for p in parameters.values()
    )


def get_optimizer(reference: str | Factory, **hyperparameters: Any) -> optax.GradientTransformation:
    """Build the optimizer ``reference`` names (see the module docstring) with the given
    hyperparameters.

    Raises:
      ValueError: for a reference that names no factory, an unknown or missing hyperparameter
        (the message lists the known ones), an invalid hyperparameter value, or a factory that
        does not return an ``optax.GradientTransformation``.
    """
    factory = resolve(reference)
    label = _label(reference)
    check_hyperparameter_names(reference, sorted(hyperparameters))
    defaults = hyperparameter_defaults(reference)
    required = [
        key
        for key, parameter in _parameters(reference).items()
        if key not in hyperparameters
        and key not in defaults
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    if required:
        raise ValueError(f"optimizer {label!r} needs {', '.join(required)}; pass it by keyword.")
    try:
        built = factory(**hyperparameters)
    except TypeError as error:  # a keyword-only or positional-only clash the signature hid
        raise ValueError(f"optimizer {label!r}: {error}") from None
    if not isinstance(built, optax.GradientTransformation):
        raise ValueError(
            f"optimizer {label!r} returned {type(built).__name__}, not an "
            "optax.GradientTransformation: a factory takes the hyperparameters and returns "
            "optax.GradientTransformation(init, update)."
        )
    return built


def _parameters(reference: str | Factory) -> dict[str, inspect.Parameter]:
    factory = resolve(reference)
    try:
        return dict(inspect.signature(factory).parameters)
    except (TypeError, ValueError):  # no signature to read: the factory decides
        return {"kwargs": inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)}


def _check_callable(label: str, found: Any) -> None:
    if isinstance(found, optax.GradientTransformation):
        raise ValueError(
            f"optimizer {label!r} is a built optax.GradientTransformation; give its factory "
            "(e.g. optax.adam, not optax.adam(1e-3)): the engine builds it for each learning rate."
        )
    if not callable(found):
        raise ValueError(
            f"optimizer {label!r} is a {type(found).__name__}, not a factory: point at a "
            "function that takes the hyperparameters (learning_rate, …) and returns an "
            "optax.GradientTransformation."
        )


def _label(reference: Any) -> str:
    if isinstance(reference, str):
        return reference
    module = getattr(reference, "__module__", None)
    qualname = getattr(reference, "__qualname__", None) or type(reference).__name__
    return f"{module}.{qualname}" if module else qualname


def _attribute(reference: str, module: str, attribute: str) -> Any:
    """``module.attribute`` (a dotted attribute path), or ``ValueError`` naming ``reference``."""
    if _standard_library(module):
        raise _untrusted(reference, f"{module} is a module of Python's standard library")
    try:
        found: Any = importlib.import_module(module)
    except Exception as error:  # ImportError, or whatever the module raises while importing
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise ValueError(
            f"cannot import the module of optimizer {reference!r}: {first}. Put its folder on "
            "sys.path (PYTHONPATH, or next to the config or study file that names it)."
        ) from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            public = [
                n for n in dir(found) if not n.startswith("_") and callable(getattr(found, n))
            ]
            raise ValueError(
                f"optimizer {reference!r}: {module} has no {attribute!r}; its public callables: "
                f"{', '.join(public[:20]) or 'none'}."
            )
        found = getattr(found, part)
    defined_in = getattr(found, "__module__", None)
    if callable(found) and isinstance(defined_in, str) and _standard_library(defined_in):
        raise _untrusted(
            reference, f"it is {defined_in}.{attribute}, from Python's standard library"
        )
    if callable(found) and ":" in reference and not _names_its_inputs(found):
        raise _untrusted(
            reference,
            "its signature names no learning_rate parameter, so it is not an optimizer factory "
            "(taking **kwargs is not enough)",
        )
    return found


def _standard_library(module: str) -> bool:
    top = module.partition(".")[0]
    return top in sys.stdlib_module_names or top == "builtins"


def _names_its_inputs(found: Any) -> bool:
    """Whether ``found`` names ``learning_rate``, or the ``grad, theta, steps`` of a NumPy rule,
    as parameters of its own."""
    try:
        parameters = inspect.signature(found).parameters
    except (TypeError, ValueError):
        return False
    named = [n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return "learning_rate" in named or named[:3] == ["grad", "theta", "steps"]


def _untrusted(reference: str, why: str) -> ValueError:
    return ValueError(
        f"optimizer {reference!r} is refused before anything is called: {why}. A reference "
        "in a config or on a command line may name only an optimizer factory: a registry name, "
        "an optax factory, or 'module:factory' for a function of yours whose signature names "
        "learning_rate (docs/optimizers.md, 'Any optimizer by reference'). From Python, pass "
        "the factory itself or register it with jol.register_optimizer."
    )
