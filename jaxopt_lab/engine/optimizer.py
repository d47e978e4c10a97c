"""The optimizer of a config: registry optimizer, learning-rate schedule and clipping.

    tx(η) = chain(clip, inject_hyperparams(OPTIMIZERS[name])(learning_rate=η·s(t), **hparams))

η is an argument so that a sweep's learning rates can be vmapped: ``inject_hyperparams`` keeps
the (traced) η in the optimizer state, and the other hyperparameters stay Python constants
(``static_args``), so the compiled update is the same as calling the optimizer directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import optax

from jaxopt_lab.config import OptimizerConfig
from jaxopt_lab.optimizers import OPTIMIZERS


def make_transform(
    config: OptimizerConfig,
) -> Callable[[jax.Array | float], optax.GradientTransformation]:
    """A function η ↦ the optimizer of ``config`` with learning rate η (η may be traced)."""
    factory = OPTIMIZERS[config.name]
    hparams = dict(config.hparams)
    schedule = _schedule(config)
    clip = _clipping(config)

    def build(learning_rate: jax.Array | float) -> optax.GradientTransformation:
        rate = learning_rate if schedule is None else _scaled(schedule, learning_rate)
        tx = optax.inject_hyperparams(factory, static_args=tuple(hparams))(
            learning_rate=rate, **hparams
        )
        return tx if clip is None else optax.chain(clip, tx)

    return build


def resolved_hparams(config: OptimizerConfig, learning_rate: float) -> dict[str, Any]:
    """Every hyperparameter of the run, defaults included, learning_rate first."""
    signature = inspect.signature(OPTIMIZERS[config.name]).parameters
    values: dict[str, Any] = {"learning_rate": learning_rate}
    for name, parameter in signature.items():
        if name != "learning_rate" and parameter.default is not inspect.Parameter.empty:
            values[name] = parameter.default
    values.update(config.hparams)
    return values


def _scaled(schedule: optax.Schedule, learning_rate: jax.Array | float) -> optax.Schedule:
    return lambda count: learning_rate * schedule(count)


def _schedule(config: OptimizerConfig) -> optax.Schedule | None:
    if config.schedule is None:
        return None
    return getattr(optax, config.schedule.name)(**config.schedule.kwargs)


def _clipping(config: OptimizerConfig) -> optax.GradientTransformation | None:
    if config.clipping is None:
        return None
    if config.clipping.method == "global_norm":
        return optax.clip_by_global_norm(config.clipping.threshold)
    return optax.clip(config.clipping.threshold)
