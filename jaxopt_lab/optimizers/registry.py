"""The optimizers by name, for configs and command lines."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import optax

from jaxopt_lab.optimizers.adadelta import adadelta
from jaxopt_lab.optimizers.adagrad import adagrad
from jaxopt_lab.optimizers.adam import adam
from jaxopt_lab.optimizers.adamw import adamw
from jaxopt_lab.optimizers.momentum import momentum
from jaxopt_lab.optimizers.nadam import nadam
from jaxopt_lab.optimizers.nesterov import nesterov
from jaxopt_lab.optimizers.rmsprop import rmsprop
from jaxopt_lab.optimizers.sgd import sgd

OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformation]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "adam": adam,
    "rmsprop": rmsprop,
    "adadelta": adadelta,
    "nadam": nadam,
    "adamw": adamw,
}

# Gradient clipping before the optimizer, by method: threshold ↦ transformation.
CLIPPING: dict[str, Callable[[float], optax.GradientTransformation]] = {
    "global_norm": optax.clip_by_global_norm,  # g · min(1, c / ‖g‖₂) over the whole tree
    "value": optax.clip,  # each entry clipped to [−c, c]
}


def hyperparameter_names(name: str) -> tuple[str, ...]:
    """The keyword arguments the optimizer ``name`` accepts, in signature order."""
    return tuple(inspect.signature(_lookup(name)).parameters)


def hyperparameter_defaults(name: str) -> dict[str, Any]:
    """The hyperparameters of ``name`` that have defaults, with them, in signature order."""
    return {
        key: parameter.default
        for key, parameter in inspect.signature(_lookup(name)).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


def check_hyperparameter_names(name: str, names: Iterable[str]) -> None:
    """``ValueError`` listing what ``name`` accepts if any of ``names`` is not among them."""
    known = hyperparameter_names(name)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f"optimizer {name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"it accepts {', '.join(known)}."
        )


def get_optimizer(name: str, **hyperparameters: Any) -> optax.GradientTransformation:
    """Build the optimizer ``name`` (a key of ``OPTIMIZERS``) with the given hyperparameters.

    Raises:
      ValueError: for an unknown name or hyperparameter (the message lists the known ones), or
        an invalid hyperparameter value.
    """
    check_hyperparameter_names(name, sorted(hyperparameters))
    required = [
        key
        for key in hyperparameter_names(name)
        if key not in hyperparameters and key not in hyperparameter_defaults(name)
    ]
    if required:
        raise ValueError(f"optimizer {name!r} needs {', '.join(required)}; pass it by keyword.")
    return OPTIMIZERS[name](**hyperparameters)


def _lookup(name: str) -> Callable[..., optax.GradientTransformation]:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; known optimizers: {', '.join(OPTIMIZERS)}."
        ) from None
