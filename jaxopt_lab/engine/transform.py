"""The optimizer of a config: its factory, learning-rate schedule and clipping.

    tx(η) = chain(clip, inject_hyperparams(η ↦ factory(learning_rate=η, **hparams))(η·s(t)))

``factory`` is what the config's optimizer reference names (``registry.resolve``: a built-in,
an optax factory or your own). η is an argument so that a sweep's learning rates can be
vmapped: ``inject_hyperparams`` keeps the (traced) η in the optimizer state, and every other
hyperparameter, given or default, stays a Python constant closed over, so the compiled update
is the one of calling the factory directly and a factory may use them in Python control flow.

The schedule s is built here, where the run's number of optimizer steps is known: a schedule
written in fractions of the run (``jaxopt_lab.schedules``, e.g. ``cosine``) needs it, an optax
schedule in absolute steps ignores it. No schedule (or ``constant``) leaves η itself, the same
compiled program as an optimizer without a schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

from jaxopt_lab import schedules
from jaxopt_lab.config import OptimizerConfig
from jaxopt_lab.optimizers import registry
from jaxopt_lab.optimizers.registry import CLIPPING


def make_transform(
    config: OptimizerConfig, total_steps: int
) -> Callable[[jax.Array | float], optax.GradientTransformation]:
    """A function η ↦ the optimizer of ``config`` with learning rate η (η may be traced), for a
    run of ``total_steps`` optimizer steps (steps per epoch × epochs)."""
    factory = registry.resolve(config.name)
    hparams = dict(config.hparams)

    def at_rate(learning_rate: jax.Array | float) -> optax.GradientTransformation:
        return factory(learning_rate=learning_rate, **hparams)

    schedule = _schedule(config, total_steps)
    clipping = config.clipping
    clip = None if clipping is None else CLIPPING[clipping.method](clipping.threshold)

    def build(learning_rate: jax.Array | float) -> optax.GradientTransformation:
        rate = learning_rate if schedule is None else _scaled(schedule, learning_rate)
        tx = optax.inject_hyperparams(at_rate)(learning_rate=rate)
        return tx if clip is None else optax.chain(clip, tx)

    return build


def resolved_hparams(config: OptimizerConfig, learning_rate: float) -> dict[str, Any]:
    """Every hyperparameter of the run, defaults included, learning_rate first; a default that
    is not plain data (an optax factory's ``mask=None`` is, a dtype is not) as its ``repr``."""
    defaults = registry.hyperparameter_defaults(config.name)
    defaults.pop("learning_rate", None)
    return {"learning_rate": learning_rate, **_plain(defaults), **config.hparams}


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, list | tuple) and all(plain(v) == v for v in value):
            return list(value)
        return repr(value)

    return {key: plain(value) for key, value in values.items()}


def _scaled(schedule: optax.Schedule, learning_rate: jax.Array | float) -> optax.Schedule:
    return lambda count: learning_rate * schedule(count)


def _schedule(config: OptimizerConfig, total_steps: int) -> optax.Schedule | None:
    if config.schedule is None:
        return None
    return schedules.build(config.schedule.name, config.schedule.kwargs, total_steps)
