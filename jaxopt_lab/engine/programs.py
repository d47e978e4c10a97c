"""A run set's compiled programs, the cache that reuses them, and the calls that run them.

The one entry to the compiled engine: ``engine.train`` and the throughput benchmark both go
through it, so the benchmark times the programs training runs, not a copy of their wiring::

    run_set = compile_run_set(configs, splits, place)      # init, epoch, evaluate compiled
    states = initial_states(run_set)
    states, metrics = run_epoch(run_set, states, epoch)    # for epoch = 1, 2, …
    test = evaluate_test(run_set, states)

A program depends on the model, the optimizers (not their learning-rate values, which are
arguments), the batch, the array shapes and the devices, not on seeds, epochs or output
settings; so studies that train many run sets of one shape compile once (``ProgramCache``). A
schedule written in fractions of the run is the exception: its run length is part of the
program, so it is part of the cache key too.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxopt_lab import schedules
from jaxopt_lab.config import Config, OptimizerConfig, config_to_dict
from jaxopt_lab.engine.loop import (
    GroupState,
    RunSetSpec,
    compile_init,
    epoch_orders,
    make_epoch,
    make_evaluate,
)
from jaxopt_lab.engine.mesh import Placement
from jaxopt_lab.engine.placement import Splits, device_runs
from jaxopt_lab.engine.transform import OptimizerError, make_transform, step_problem
from jaxopt_lab.workloads import get as get_workload

States = tuple[GroupState, ...]
Metrics = tuple[dict[str, jax.Array], ...]


class Programs(NamedTuple):
    """The compiled programs of one run-set shape, and how long each took to compile."""

    spec: RunSetSpec
    init: Callable[..., States]  # (seeds, rates) -> states
    epoch: Callable[..., tuple[States, Metrics]]  # see loop.make_epoch; donates the states
    evaluate: Callable[..., tuple[tuple[jax.Array, jax.Array], ...]]  # (states, x, y)
    compile_seconds: dict[str, float]  # "init", "epoch", "evaluate"


@dataclasses.dataclass(frozen=True)
class RunSet:
    """A run set ready to train: its programs and the arguments they take on the device(s)."""

    programs: Programs
    seeds: tuple[int, ...]  # on the host: the data order is drawn there
    device_seeds: jax.Array  # int32 [S]
    rates: tuple[jax.Array, ...]  # float32 [L_g] per group
    splits: Splits
    place: Placement


class ProgramCache:
    """The programs of the last ``size`` run-set shapes compiled in this process; the least
    recently used are dropped (each holds compiled executables, not data)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._programs: OrderedDict[str, Programs] = OrderedDict()

    def get(self, key: str, compile_programs: Callable[[], Programs]) -> Programs:
        """The programs stored under ``key``, compiled by ``compile_programs`` when absent."""
        if key in self._programs:
            self._programs.move_to_end(key)
            return self._programs[key]
        self._programs[key] = compile_programs()
        if len(self._programs) > self.size:
            self._programs.popitem(last=False)
        return self._programs[key]


def compile_run_set(
    configs: Mapping[str, Config],
    splits: Splits,
    place: Placement,
    *,
    unroll: int = 1,
    cache: ProgramCache | None = None,
) -> RunSet:
    """The run set of ``configs`` (groups sharing their model, train and data sections) on
    ``splits`` (``placement.device_splits``), with its programs compiled, or taken from
    ``cache`` when it holds a run set of the same shape.

    Over a mesh the states and the metrics are split along their runs (or replicated when the
    runs are not split) and each batch is split (``mesh.py``); on one device jit places
    everything. ``unroll`` is the number of
    batches per iteration of the compiled loop.
    """
    first = next(iter(configs.values()))
    spec = _spec(configs, splits, place, unroll)
    device_seeds, rates = device_runs(configs, place)
    key = _cache_key(configs, spec, splits, len(first.train.seeds), place)

    optimizers = tuple(c.optimizer for c in configs.values())

    def compile_programs() -> Programs:
        return _compile(spec, splits, first.train.seeds, device_seeds, rates, place, optimizers)

    programs = compile_programs() if cache is None else cache.get(key, compile_programs)
    return RunSet(programs, tuple(first.train.seeds), device_seeds, rates, splits, place)


def initial_states(run_set: RunSet) -> States:
    """Every run's initial parameters and optimizer state (``loop.init_states``)."""
    return run_set.programs.init(run_set.device_seeds, run_set.rates)


def run_epoch(run_set: RunSet, states: States, epoch: int) -> tuple[States, Metrics]:
    """Train the 1-based ``epoch`` from ``states`` (donated) and validate: its data order is
    drawn on the host, placed, and the compiled epoch runs; the metrics stay on the device."""
    place = run_set.place
    order = place.put_order(epoch_orders(run_set.programs.spec, run_set.seeds, epoch))
    return run_set.programs.epoch(
        states,
        place.put(np.int32(epoch)),
        order,
        run_set.rates,
        *run_set.splits["train"],
        *run_set.splits["val"],
    )


def evaluate_test(run_set: RunSet, states: States) -> tuple[tuple[jax.Array, jax.Array], ...]:
    """Test loss and accuracy ``[S, L]`` of every group."""
    return run_set.programs.evaluate(states, *run_set.splits["test"])


def _spec(
    configs: Mapping[str, Config], splits: Splits, place: Placement, unroll: int
) -> RunSetSpec:
    """The run set's static description; its optimizers see the run's length, steps per epoch
    × epochs, which a schedule in fractions of the run needs."""
    first = next(iter(configs.values()))
    images, labels = splits["train"]
    workload = get_workload(first.workload.name)
    shape = RunSetSpec(
        model=workload.model(first.model),
        transforms=(),
        n_train=int(labels.shape[0]),
        batch_size=first.train.batch_size,
        last_batch=first.train.last_batch,
        unroll=unroll,
        batch_sharding=place.batch,
        seed_mesh=place.seed_mesh,
        input_width=int(images.shape[1]),
        workload=workload,
    )
    total_steps = shape.steps_per_epoch * first.train.epochs
    transforms = tuple(make_transform(c.optimizer, total_steps) for c in configs.values())
    return dataclasses.replace(shape, transforms=transforms)


def _cache_key(
    configs: Mapping[str, Config],
    spec: RunSetSpec,
    splits: Splits,
    n_seeds: int,
    place: Placement,
) -> str:
    first = next(iter(configs.values()))
    total_steps = spec.steps_per_epoch * first.train.epochs

    def optimizer(config: Config) -> dict[str, Any]:
        doc = {
            **config_to_dict(config)["optimizer"],
            "learning_rate": len(config.optimizer.learning_rates),
        }
        schedule = config.optimizer.schedule
        if schedule is not None and schedules.is_relative(schedule.name):
            doc["total_steps"] = total_steps
        return doc

    return json.dumps(
        {
            "workload": first.workload.name,
            "model": config_to_dict(first)["model"],
            "optimizers": [optimizer(c) for c in configs.values()],
            "batch": [first.train.batch_size, first.train.last_batch, spec.unroll],
            "shapes": [list(a.shape) for pair in splits.values() for a in pair] + [n_seeds],
            # The ids in the mesh's shape: the same devices as runs 4 × data 1 and as
            # runs 2 × data 2 are different programs.
            "devices": [] if place.mesh is None else place.mesh.device_ids.tolist(),
            "run_axis": place.run_axis,
        },
        sort_keys=True,
    )


def _compile(
    spec: RunSetSpec,
    splits: Splits,
    seeds: list[int],
    device_seeds: jax.Array,
    rates: tuple[jax.Array, ...],
    place: Placement,
    optimizers: tuple[OptimizerConfig, ...],
) -> Programs:
    """Compile init, epoch (lowered on the initial states and epoch 1's order) and evaluate.

    An epoch that fails to compile because a user's optimizer changes its state from step to
    step, or returns updates not shaped like the parameters, is an ``OptimizerError`` naming it
    (``transform.step_problem``); any other failure is raised as it is.
    """
    out = {} if place.mesh is None else {"out_shardings": place.runs}
    seconds = {}
    start = time.perf_counter()
    init = compile_init(spec, device_seeds, rates, place.runs)
    seconds["init"] = time.perf_counter() - start
    states = init(device_seeds, rates)
    order = place.put_order(epoch_orders(spec, seeds, 1))
    start = time.perf_counter()
    try:
        epoch = (
            jax.jit(make_epoch(spec), donate_argnums=0, **out)
            .lower(states, place.put(np.int32(1)), order, rates, *splits["train"], *splits["val"])
            .compile()
        )
    except OptimizerError:
        raise
    except Exception as error:
        problem = _optimizer_problem(optimizers, states)
        if problem is None:
            raise
        raise problem from error
    seconds["epoch"] = time.perf_counter() - start
    start = time.perf_counter()
    evaluate = jax.jit(make_evaluate(spec), **out).lower(states, *splits["test"]).compile()
    seconds["evaluate"] = time.perf_counter() - start
    return Programs(spec, init, epoch, evaluate, seconds)


def _optimizer_problem(
    optimizers: tuple[OptimizerConfig, ...], states: States
) -> OptimizerError | None:
    """The first user optimizer whose steps the compiled loop cannot carry, as its error."""
    one_run = jax.tree.map(  # the groups share the model: one run's parameters, as shapes
        lambda a: jax.ShapeDtypeStruct(a.shape[2:], a.dtype), states[0].params
    )
    for optimizer in optimizers:
        problem = step_problem(optimizer, one_run)
        if problem is not None:
            return problem
    return None
