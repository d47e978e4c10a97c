"""One device against every device: a run set's throughput on each layout of the mesh.

A layout is a run set (``optimizers`` × ``seeds`` × ``rates`` learning rates) and where it
runs: on one device, and on every visible device as the engine places it by default
(``mesh.placement``: the runs split by seed, else by learning rate, the batch over the
rest). Both are compiled, warmed up by one epoch, then timed epoch by epoch in turn (one, all,
one, all, …), so that a machine whose speed drifts slows both alike:

    model-samples/s = runs · samples per epoch / median seconds per epoch

On CPU, several devices are ``XLA_FLAGS=--xla_force_host_platform_device_count=N``, set before
JAX starts; each then runs its share with fewer threads.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from jaxopt_lab.bench.train_throughput import synthetic_run_set, timed_epoch
from jaxopt_lab.engine.mesh import Placement, placement
from jaxopt_lab.engine.programs import initial_states
from jaxopt_lab.optimizers.registry import resolve

LAYOUT = re.compile(r"^([\w.-]+(?:,[\w.-]+)*):(\d+):(\d+)$")


@dataclasses.dataclass(frozen=True)
class Layout:
    """A run set to place: groups × seeds × learning rates."""

    optimizers: tuple[str, ...]
    seeds: int
    rates: int

    @property
    def runs(self) -> int:
        return len(self.optimizers) * self.seeds * self.rates

    def __str__(self) -> str:
        return f"{','.join(self.optimizers)}:{self.seeds}:{self.rates}"


def parse_layout(text: str) -> Layout:
    """``OPT[,OPT…]:SEEDS:LRS``, e.g. ``adam:4:1`` or ``sgd,adam:2:4``.

    Raises:
      ValueError: another form, a count below 1, or an optimizer the registry does not know
        (naming the ones it does).
    """
    match = LAYOUT.match(text)
    if match is None or int(match[2]) < 1 or int(match[3]) < 1:
        raise ValueError(
            f"layout {text!r} is not OPT[,OPT]:SEEDS:LRS with counts ≥ 1 (e.g. adam:4:1 for "
            "Adam with 4 seeds and 1 learning rate)"
        )
    optimizers = tuple(match[1].split(","))
    for name in optimizers:
        try:
            resolve(name)
        except ValueError as error:
            raise ValueError(f"layout {text!r}: {error}") from None
    return Layout(optimizers, int(match[2]), int(match[3]))


def compare_layouts(
    layouts: list[Layout],
    *,
    epochs: int = 2,
    n_train: int = 50_000,
    n_val: int = 10_000,
    batch_size: int = 32,
) -> list[dict[str, Any]]:
    """For each layout: model-samples/s on one device and on every device (``placement``'s
    default), with the mesh it chose (``runs × data`` and what the runs are split by)."""
    results = []
    for layout in layouts:
        spread = placement(
            None, batch_size, None, layout.seeds, (layout.rates,) * len(layout.optimizers)
        )
        run_sets = [
            synthetic_run_set(
                layout.optimizers,
                runs=layout.rates,
                seeds=layout.seeds,
                epochs=epochs + 1,
                n_train=n_train,
                n_val=n_val,
                batch_size=batch_size,
                place=place,
            )
            for place in (Placement(), spread)
        ]
        states = [initial_states(run_set) for run_set in run_sets]
        times: list[list[float]] = [[], []]
        for epoch in range(1, epochs + 2):  # the first epoch warms up
            for i, run_set in enumerate(run_sets):
                states[i], seconds = timed_epoch(run_set, states[i], epoch)
                times[i].append(seconds)
        samples = layout.runs * run_sets[0].programs.spec.samples_per_epoch
        one, every = (samples / float(np.median(t[1:])) for t in times)
        results.append(
            {
                "layout": str(layout),
                "runs": layout.runs,
                "mesh": spread.layout,
                "one_device": one,
                "every_device": every,
            }
        )
    return results
