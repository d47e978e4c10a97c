"""Learning-rate schedules of a run config: η_t = learning_rate · s(t), t the 0-based step.

``optimizer.schedule`` names either an optax schedule, built from ``kwargs`` in absolute steps
(write ``init_value: 1.0`` so that it multiplies the learning rate)::

    schedule: {name: cosine_decay_schedule, kwargs: {init_value: 1.0, decay_steps: 23440}}

or a schedule over the fraction of the run, resolved by the engine once the run's number of
optimizer steps T (steps per epoch × epochs) is known, so it keeps its meaning when
``--set train.epochs=2`` or ``data.train_size=512`` shrinks a run::

- ``constant``:       s(t) = 1 (the same program as no schedule).
- ``step``:           s(t) = factor^(number of boundaries passed), boundaries at the fractions
                      ``at`` of T (default: ×0.1 at 50 % and 75 %, the classic step decay).
- ``cosine``:         s(t) = ½ (1 + cos(π t / T)) (``optax.cosine_decay_schedule``).
- ``warmup_cosine``:  linear 0 → 1 over the first ``warmup`` fraction of T (default 1/15, one
                      epoch of the notebook's 15), then cosine to 0
                      (``optax.warmup_cosine_decay_schedule``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import optax

# Options of each run-relative schedule (fractions of the run, or factors).
RELATIVE: dict[str, tuple[str, ...]] = {
    "constant": (),
    "step": ("at", "factor"),
    "cosine": (),
    "warmup_cosine": ("warmup",),
}
# optax schedules that map a step count to a number; join_schedules/sgdr take schedules.
OPTAX: tuple[str, ...] = (
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "linear_onecycle_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
)
NAMES: tuple[str, ...] = (*RELATIVE, *OPTAX)


def is_relative(name: str) -> bool:
    """Whether schedule ``name`` is written in fractions of the run (needs the step count)."""
    return name in RELATIVE


def check(name: str, kwargs: Mapping[str, Any]) -> None:
    """``ValueError`` for an unknown schedule or option, naming the accepted ones.

    An optax schedule is built and traced (not run: running it would start JAX's backend,
    after which ``jax.distributed`` can no longer be initialised).
    """
    if name not in NAMES:
        raise ValueError(f"{name!r} is not one of {', '.join(NAMES)}")
    if is_relative(name):
        extra = sorted(set(kwargs) - set(RELATIVE[name]))
        if extra:
            raise ValueError(
                f"schedule {name!r} got unknown options {extra}; it takes {sorted(RELATIVE[name])}"
            )
        schedule = build(name, kwargs, total_steps=100)
        if schedule is not None:
            jax.eval_shape(schedule, 0)
        return
    try:
        jax.eval_shape(getattr(optax, name)(**kwargs), 0)
    except TypeError as error:
        raise ValueError(str(error)) from None


def build(name: str, kwargs: Mapping[str, Any], total_steps: int) -> optax.Schedule | None:
    """The multiplier s(t) of schedule ``name`` for a run of ``total_steps`` optimizer steps;
    None for ``constant`` (the learning rate itself)."""
    if not is_relative(name):
        return getattr(optax, name)(**kwargs)
    if total_steps < 1:
        raise ValueError(f"total_steps must be ≥ 1, got {total_steps}")
    if name == "constant":
        return None
    if name == "step":
        factor = float(kwargs.get("factor", 0.1))
        bounds = sorted(
            {max(1, round(float(f) * total_steps)) for f in kwargs.get("at", [0.5, 0.75])}
        )
        return optax.piecewise_constant_schedule(1.0, dict.fromkeys(bounds, factor))
    if name == "cosine":
        return optax.cosine_decay_schedule(1.0, decay_steps=total_steps, alpha=0.0)
    warmup = max(1, round(float(kwargs.get("warmup", 1 / 15)) * total_steps))
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=1.0, warmup_steps=warmup, decay_steps=total_steps, end_value=0.0
    )
