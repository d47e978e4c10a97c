"""The optimizer of a config: registry optimizer, learning-rate schedule and clipping.

    tx(η) = chain(clip, inject_hyperparams(OPTIMIZERS[name])(learning_rate=η·s(t), **hparams))

η is an argument so that a sweep's learning rates can be vmapped: ``inject_hyperparams`` keeps
the (traced) η in the optimizer state, and the other hyperparameters stay Python constants
(``static_args``), so the compiled update is the same as calling the optimizer directly.

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
from jaxopt_lab.optimizers.registry import CLIPPING, OPTIMIZERS, hyperparameter_defaults


def make_transform(
    config: OptimizerConfig, total_steps: int
) -> Callable[[jax.Array | float], optax.GradientTransformation]:
    """A function η ↦ the optimizer of ``config`` with learning rate η (η may be traced), for a
    run of ``total_steps`` optimizer steps (steps per epoch × epochs)."""
    factory = OPTIMIZERS[config.name]
    hparams = dict(config.hparams)
    schedule = _schedule(config, total_steps)
    clipping = config.clipping
    clip = None if clipping is None else CLIPPING[clipping.method](clipping.threshold)

    def build(learning_rate: jax.Array | float) -> optax.GradientTransformation:
        rate = learning_rate if schedule is None else _scaled(schedule, learning_rate)
        tx = optax.inject_hyperparams(factory, static_args=tuple(hparams))(
            learning_rate=rate, **hparams
        )
        return tx if clip is None else optax.chain(clip, tx)

    return build


def resolved_hparams(config: OptimizerConfig, learning_rate: float) -> dict[str, Any]:
    """Every hyperparameter of the run, defaults included, learning_rate first."""
    defaults = hyperparameter_defaults(config.name)
    defaults.pop("learning_rate", None)
    return {"learning_rate": learning_rate, **defaults, **config.hparams}


def _scaled(schedule: optax.Schedule, learning_rate: jax.Array | float) -> optax.Schedule:
    return lambda count: learning_rate * schedule(count)


def _schedule(config: OptimizerConfig, total_steps: int) -> optax.Schedule | None:
    if config.schedule is None:
        return None
    return schedules.build(config.schedule.name, config.schedule.kwargs, total_steps)
