"""Learning-rate schedules of the schedules study, written in fractions of the run.

A study row says ``schedule: cosine`` (or a mapping with ``kind`` and options); this module turns
it into the engine's ``optimizer.schedule`` — an optax schedule that multiplies the row's
learning rate, η_t = η · s(t) — once the number of optimizer steps is known, so a row keeps its
meaning when ``--set train.epochs=2`` or ``data.train_size=512`` shrinks a run:

- ``constant``:       s(t) = 1.
- ``step``:           s(t) = factor^(number of boundaries passed), boundaries at fractions ``at``
                      of the T steps (default: ×0.1 at 50 % and 75 %, the classic step decay).
- ``cosine``:         s(t) = ½ (1 + cos(π t / T)) (``optax.cosine_decay_schedule``).
- ``warmup_cosine``:  linear 0 → 1 over the first ``warmup`` fraction (default 1/15, one epoch of
                      the notebook's 15), then cosine to 0 (``optax.warmup_cosine_decay_schedule``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

KINDS = ("constant", "step", "cosine", "warmup_cosine")


def steps_per_epoch(n_train: int, batch_size: int, last_batch: str) -> int:
    """Optimizer steps per epoch: ⌈N/B⌉ when the last partial batch is kept, ⌊N/B⌋ if dropped."""
    return math.ceil(n_train / batch_size) if last_batch == "mask" else n_train // batch_size


def schedule_config(schedule: str | Mapping[str, Any], total_steps: int) -> dict[str, Any] | None:
    """The engine's ``optimizer.schedule`` dict for ``schedule`` over ``total_steps`` steps.

    Raises ``ValueError`` for an unknown kind or option, naming the accepted ones.
    """
    spec = {"kind": schedule} if isinstance(schedule, str) else dict(schedule)
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(f"schedule kind {kind!r} unknown; use one of {KINDS}")
    if total_steps < 1:
        raise ValueError(f"total_steps must be ≥ 1, got {total_steps}")
    allowed = {
        "constant": set(),
        "step": {"at", "factor"},
        "cosine": set(),
        "warmup_cosine": {"warmup"},
    }[kind]
    extra = set(spec) - allowed
    if extra:
        raise ValueError(
            f"schedule {kind!r} got unknown options {sorted(extra)}; it takes {sorted(allowed)}"
        )
    if kind == "constant":
        return None
    if kind == "step":
        factor = float(spec.get("factor", 0.1))
        bounds = sorted(
            {max(1, round(float(f) * total_steps)) for f in spec.get("at", [0.5, 0.75])}
        )
        return {
            "name": "piecewise_constant_schedule",
            "kwargs": {"init_value": 1.0, "boundaries_and_scales": dict.fromkeys(bounds, factor)},
        }
    if kind == "cosine":
        return {
            "name": "cosine_decay_schedule",
            "kwargs": {"init_value": 1.0, "decay_steps": total_steps, "alpha": 0.0},
        }
    warmup = max(1, round(float(spec.get("warmup", 1 / 15)) * total_steps))
    return {
        "name": "warmup_cosine_decay_schedule",
        "kwargs": {
            "init_value": 0.0,
            "peak_value": 1.0,
            "warmup_steps": warmup,
            "decay_steps": total_steps,
            "end_value": 0.0,
        },
    }
