"""The optimizers by name, for configs and command lines."""

from __future__ import annotations

import inspect
from collections.abc import Callable
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


def hyperparameter_names(name: str) -> tuple[str, ...]:
    """The keyword arguments the optimizer ``name`` accepts, in signature order."""
    return tuple(inspect.signature(_lookup(name)).parameters)


def get_optimizer(name: str, **hyperparameters: Any) -> optax.GradientTransformation:
    """Build the optimizer ``name`` (a key of ``OPTIMIZERS``) with the given hyperparameters.

    Raises:
      ValueError: for an unknown name or hyperparameter (the message lists the known ones), or
        an invalid hyperparameter value.
    """
    known = hyperparameter_names(name)
    unknown = sorted(set(hyperparameters) - set(known))
    if unknown:
        raise ValueError(
            f"optimizer {name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
            f"it accepts {', '.join(known)}."
        )
    return OPTIMIZERS[name](**hyperparameters)


def _lookup(name: str) -> Callable[..., optax.GradientTransformation]:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; known optimizers: {', '.join(OPTIMIZERS)}."
        ) from None
