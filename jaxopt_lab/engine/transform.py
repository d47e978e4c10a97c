"""The optimizer of a config: its factory, learning-rate schedule, clipping and caution.

    tx(η) = chain(clip, inject_hyperparams(η ↦ factory(learning_rate=η, **hparams))(η·s(t)))

with ``factory(...)`` wrapped in ``jol.cautious`` (its step masked where it disagrees in sign
with the gradient the optimizer sees, after clipping) when ``optimizer.cautious`` is true.

``factory`` is what the config's optimizer reference names (``registry.resolve``: a built-in,
an optax factory or your own). η is an argument so that a sweep's learning rates can be
vmapped: ``inject_hyperparams`` keeps the (traced) η in the optimizer state, and every other
hyperparameter, given or default, stays a Python constant closed over, so the compiled update
is the one of calling the factory directly and a factory may use them in Python control flow.

The schedule s is built here, where the run's number of optimizer steps is known: a schedule
written in fractions of the run (``jaxopt_lab.schedules``, e.g. ``cosine``) needs it, an optax
schedule in absolute steps ignores it. No schedule (or ``constant``) leaves η itself, the same
compiled program as an optimizer without a schedule.

An optimizer that is not a built-in is the user's code: when its factory, init or update raises
while the engine builds or traces it, or its update returns a state the compiled loop cannot
carry (``step_problem``), the error is an ``OptimizerError`` naming the reference, the config
key ``optimizer.name``, what went wrong, and the conformance check that finds it
(``jaxopt-lab check``). A built-in's failure is the project's bug and is not rewrapped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxopt_lab import schedules
from jaxopt_lab.config import OptimizerConfig, first_line, optimizer_failure
from jaxopt_lab.optimizers import registry
from jaxopt_lab.optimizers.cautious import cautious
from jaxopt_lab.optimizers.registry import CLIPPING


def make_transform(
    config: OptimizerConfig, total_steps: int
) -> Callable[[jax.Array | float], optax.GradientTransformation]:
    """A function η ↦ the optimizer of ``config`` with learning rate η (η may be traced), for a
    run of ``total_steps`` optimizer steps (steps per epoch × epochs)."""
    factory = registry.resolve(config.name)
    hparams = dict(config.hparams)
    users = not _built_in(config)

    def plain(learning_rate: jax.Array | float) -> optax.GradientTransformation:
        if users:
            return _guarded(config, lambda: factory(learning_rate=learning_rate, **hparams))
        return factory(learning_rate=learning_rate, **hparams)

    def at_rate(learning_rate: jax.Array | float) -> optax.GradientTransformation:
        tx = plain(learning_rate)
        return cautious(tx) if config.cautious else tx

    schedule = _schedule(config, total_steps)
    clipping = config.clipping
    clip = None if clipping is None else CLIPPING[clipping.method](clipping.threshold)

    def build(learning_rate: jax.Array | float) -> optax.GradientTransformation:
        rate = learning_rate if schedule is None else _scaled(schedule, learning_rate)
        tx = optax.inject_hyperparams(at_rate)(learning_rate=rate)
        return tx if clip is None else optax.chain(clip, tx)

    return build


class OptimizerError(ValueError):
    """The user's optimizer failed inside the engine; the message names its reference, what it
    did, and the check that finds it."""


def step_problem(config: OptimizerConfig, params: Any) -> OptimizerError | None:
    """Why ``config``'s optimizer cannot run as a compiled loop on parameters shaped like
    ``params`` (a tree of ``jax.ShapeDtypeStruct``, one run's): its update returns a state of
    another structure, shape or dtype than its init made, or updates not shaped like the
    parameters. None when neither is the case, it cannot tell, or the optimizer is a built-in.

    Traced abstractly (``jax.eval_shape``), nothing is computed; the engine asks only after
    compiling an epoch failed, to tell the user's mistake from its own.
    """
    if _built_in(config):
        return None
    from jaxopt_lab.testing.case import structure_difference, type_difference  # its wording

    factory = registry.resolve(config.name)
    found: list[str] = []

    def probe(params: Any, learning_rate: jax.Array) -> None:
        tx = factory(learning_rate=learning_rate, **config.hparams)
        state = tx.init(params)
        updates, new_state = tx.update(params, state, params)
        before, after = jax.tree.structure(state), jax.tree.structure(new_state)
        if before != after:
            found.append(
                f"its update returned a state of another structure than init: {after} "
                f"instead of {before}"
            )
            return
        changed = type_difference(state, new_state, "state", weak_types=False)
        if changed:
            found.append(f"its update returned a state of another shape/dtype than init: {changed}")
            return
        shaped = structure_difference(updates, params, "updates") or next(
            (
                f"updates{jax.tree_util.keystr(path)} has shape {u.shape}, the parameter {p.shape}"
                for (path, u), p in zip(
                    jax.tree.leaves_with_path(updates), jax.tree.leaves(params), strict=True
                )
                if u.shape != p.shape
            ),
            None,
        )
        if shaped:
            found.append(f"its update returned updates not shaped like the parameters: {shaped}")

    try:
        jax.eval_shape(probe, params, jax.ShapeDtypeStruct((), jnp.float32))
    except Exception:  # it fails otherwise: not a problem this check can name
        return None
    if not found:
        return None
    return _failure(
        config,
        f"{found[0]}. Each step must return the state as init made it (structure, shapes "
        "and dtypes) and updates shaped like the parameters",
    )


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


def _built_in(config: OptimizerConfig) -> bool:
    return config.name in registry.OPTIMIZERS


def _guarded(config: OptimizerConfig, make: Callable[[], Any]) -> optax.GradientTransformation:
    """``make()``, the user's transformation, whose factory, init and update raise an
    ``OptimizerError`` instead of their own exception (kept as its ``__cause__``)."""
    try:
        tx = make()
    except Exception as error:
        raise _failure(config, f"its factory raised {first_line(error)}") from error
    if not isinstance(tx, optax.GradientTransformation):
        raise _failure(
            config,
            f"its factory returned {type(tx).__name__}, not an optax.GradientTransformation",
        )
    return tx._replace(
        init=_calling(config, "init", tx.init), update=_calling(config, "update", tx.update)
    )


def _calling(
    config: OptimizerConfig, name: str, function: Callable[..., Any]
) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except OptimizerError:
            raise
        except Exception as error:
            raise _failure(config, f"its {name} raised {first_line(error)}") from error

    return call


def _failure(config: OptimizerConfig, what: str) -> OptimizerError:
    return OptimizerError(optimizer_failure(config, f"in training: {what}"))
