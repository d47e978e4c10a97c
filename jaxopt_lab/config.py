"""Typed training configuration: dataclasses, YAML loading and ``--set`` overrides.

A config file has six sections, each a dataclass below::

    workload:  {name: mnist_mlp}
    model:     {hidden_sizes: [128], activation: relu, init: torch}
    optimizer: {name: adam, learning_rate: 1.0e-3, hparams: {b1: 0.9}, schedule: null,
                clipping: null, cautious: false}
    train:     {epochs: 15, batch_size: 32, seeds: [0], last_batch: mask,
                eval_test_every_epoch: false, devices: null, run_devices: null}
    data:      {source: auto, cache_dir: null, split_seed: 0, train_size: null}
    distributed: {coordinator_address: null, num_processes: null, process_id: null,
                  initialization_timeout: 300}

Missing keys take the defaults shown (``train.batch_size``, ``train.epochs`` and
``train.last_batch``: the workload's, as shown for ``mnist_mlp``); unknown keys, wrong types
and bad values raise ``ConfigError`` naming the key and where it came from (the file, or
``--set``). A ``learning_rate`` list is a sweep: the run set is every seed × every learning
rate.

Schedules scale the learning rate: η_t = learning_rate · s(t), ``t`` the 0-based optimizer step,
``s`` named by ``schedule.name``: a schedule over the fraction of the run (``cosine``, ``step``,
``warmup_cosine``, ``constant``; the engine resolves it against the run's step count) or an optax
schedule built from ``schedule.kwargs`` in steps (so write ``init_value: 1.0``); see
``jaxopt_lab/schedules.py``. Clipping runs before the
optimizer: ``{method: global_norm, threshold: 1.0}`` (``optax.clip_by_global_norm``) or
``{method: value, threshold: 1.0}`` (``optax.clip``, elementwise). ``cautious: true`` wraps the
optimizer, whichever it is (a built-in, optax's, yours), in ``jol.cautious`` (Liang et al. 2024):
the entries of its step that disagree in sign with the gradient are zeroed, the rest rescaled.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jaxopt_lab import schedules
from jaxopt_lab._typed_yaml import (
    ConfigError,
    Where,
    apply_overrides,
    build,
    one_of,
    read_mapping,
    to_dict,
)
from jaxopt_lab.model import ACTIVATION_FUNCTIONS, INIT_SCHEMES
from jaxopt_lab.optimizers import registry
from jaxopt_lab.optimizers.registry import CLIPPING

__all__ = [
    "ClippingConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "DistributedConfig",
    "ModelConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "TrainConfig",
    "WorkloadConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
]


@dataclasses.dataclass(frozen=True)
class WorkloadConfig:
    """The problem trained on: a workload of ``jaxopt_lab.workloads`` (its data, model, loss,
    metrics and default batch size and epochs).

    ``config_to_dict`` leaves out the default (``mnist_mlp``), so a config written before
    workloads existed reads, hashes and resumes as it did.
    """

    name: str = "mnist_mlp"


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The MLP: ``784 → hidden_sizes… → 10`` with ``activation`` between layers.

    ``init`` is ``torch`` (PyTorch's ``nn.Linear`` default, U(±1/√fan_in) for weights and
    biases) or ``flax`` (LeCun-normal weights, zero biases).
    """

    hidden_sizes: list[int] = dataclasses.field(default_factory=lambda: [128])
    activation: str = "relu"
    init: str = "torch"


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
    """η_t = learning_rate · s(t) with s the schedule ``name`` of ``jaxopt_lab.schedules``."""

    name: str
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ClippingConfig:
    """Gradient clipping before the optimizer: by ``global_norm`` or elementwise by ``value``."""

    method: str
    threshold: float


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """One optimizer and its learning rate; a list of learning rates is a sweep.

    ``name`` is an optimizer reference (``jaxopt_lab.optimizers.registry``): ``adam``,
    ``optax.lion``, ``optax.contrib.muon``, ``package.module:factory`` or a registered name. A
    factory given instead (from Python) is stored as its reference (``registry.reference_of``).
    ``cautious`` wraps it in ``jol.cautious`` (its step's entries that disagree in sign with
    the gradient zeroed, the rest rescaled by count); left out of the stored config when false.
    """

    name: str
    learning_rate: float | list[float]
    hparams: dict[str, Any] = dataclasses.field(default_factory=dict)
    schedule: ScheduleConfig | None = None
    clipping: ClippingConfig | None = None
    cautious: bool = False

    def __post_init__(self) -> None:
        if callable(self.name):
            object.__setattr__(self, "name", registry.reference_of(self.name))

    @property
    def label(self) -> str:
        """What runs and records call it: ``name``, or ``cautious(name)``."""
        return f"cautious({self.name})" if self.cautious else self.name

    @property
    def learning_rates(self) -> list[float]:
        """The learning rates of the sweep (one element when ``learning_rate`` is a number)."""
        if isinstance(self.learning_rate, list):
            return list(self.learning_rate)
        return [self.learning_rate]


def optimizer_failure(o: OptimizerConfig, what: str, *, key: bool = True) -> str:
    """The sentence for a user's optimizer that failed ``what`` ("in training: its update
    raised …"): its reference, the config key, and the conformance check that finds such
    mistakes (``key=False`` leaves the key to the caller), with the run's first learning rate
    and hyperparameters."""
    if o.name in registry.registered():  # registered at run time: no other process knows it
        check = f"jaxopt_lab.testing.check_optimizer({o.name!r}) in the process that registered it"
    else:
        values = {"learning_rate": o.learning_rates[0], **o.hparams}
        sets = " ".join(shlex.quote(f"{k}={json.dumps(v)}") for k, v in values.items())
        check = f"jaxopt-lab check {shlex.quote(o.name)} --set {sets}"
    named = f"the optimizer {o.name!r}" + (" (optimizer.name)" if key else "")
    return f"{named} failed {what}. Find and fix it with: {check}"


def first_line(error: BaseException) -> str:
    """``Type: first line of the message``, an exception on one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


# ``train.last_batch``: the last partial batch kept as a masked batch, or dropped (the engine,
# which implements both, imports the list from here).
LAST_BATCH = ("mask", "drop")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The protocol: epochs, batch size, seeds and how the last partial batch is treated.

    ``last_batch: mask`` trains the last partial batch (50,000 = 1,562·32 + 16) as a batch whose
    loss is the mean over its real samples, as the notebook's DataLoader does; ``drop`` skips it.

    ``seeds`` are distinct integers in 0 … 2³¹ − 1 (``MAX_SEED``), one run per seed.

    ``devices`` is the number of devices the run set uses and ``run_devices`` how many of them
    split its runs (by seed, else by learning rate); the batch is split over the rest
    (``devices / run_devices``, see docs/distributed.md). ``null`` uses every device, giving
    the runs the most that divide them evenly and the batch the most of the rest that divide
    ``batch_size``; ``devices: 1`` is the single-device path. They change where the runs are
    computed, not what: metrics agree to float32 rounding, and a run may resume on another
    layout.
    """

    epochs: int = 15
    batch_size: int = 32
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0])
    last_batch: str = "mask"
    eval_test_every_epoch: bool = False
    checkpoint_every: int = 1
    devices: int | None = None
    run_devices: int | None = None


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where MNIST comes from (see ``jaxopt_lab.data.load_mnist``).

    ``train_size`` keeps only the first ``train_size`` training images (quick runs); ``null``
    keeps all 50,000.
    """

    source: str = "auto"
    cache_dir: str | None = None
    split_seed: int = 0
    train_size: int | None = None


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
    """Several processes (hosts) training one run set through ``jax.distributed``.

    ``coordinator_address`` is ``host:port`` of process 0, which hosts the coordinator; a
    missing value is read from ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and
    ``JAX_PROCESS_ID``, so one config file serves every host. No address anywhere: one
    process. Every process waits at most ``initialization_timeout`` seconds for the others to
    join (``engine/rendezvous.py``), then fails naming the missing ones. These settings never
    change results, so resuming ignores them.
    """

    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    initialization_timeout: int = 300


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole training configuration."""

    optimizer: OptimizerConfig
    workload: WorkloadConfig = dataclasses.field(default_factory=WorkloadConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    distributed: DistributedConfig = dataclasses.field(default_factory=DistributedConfig)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Read a YAML config, apply ``key.sub=value`` overrides and validate it.

    Args:
      path: the YAML file.
      overrides: ``"train.epochs=3"``, ``"optimizer.learning_rate=[1e-3,3e-3]"``…; the value is
        parsed as YAML (``1e-3`` is a float).

    Raises:
      ConfigError: naming the key and the file (or ``--set``) for unknown keys, wrong types and
        invalid values, and for a missing file or a directory.
    """
    raw = read_mapping(path)
    registry.add_module_folder(Path(path).parent)  # `module:factory` next to the config
    overridden = apply_overrides(raw, overrides, str(path))
    return config_from_dict(raw, source=str(path), overridden=overridden)


def config_from_dict(
    data: Mapping[str, Any], source: str = "<dict>", overridden: set[str] | None = None
) -> Config:
    """Validate a plain dict (as read from YAML) into a ``Config``; errors name ``source``."""
    where = Where(source, frozenset(overridden or ()))
    config = build(Config, _workload_defaults(_named_optimizer(data), where), where)
    _check_values(config, where)
    return config


def _named_optimizer(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with a factory object at ``optimizer.name`` replaced by its reference."""
    optimizer = data.get("optimizer")
    if isinstance(optimizer, Mapping) and callable(optimizer.get("name")):
        named = {**optimizer, "name": registry.reference_of(optimizer["name"])}
        return {**data, "optimizer": named}
    return data


def _workload_defaults(data: Mapping[str, Any], where: Where) -> Mapping[str, Any]:
    """``data`` with the workload's batch size, epochs and last batch where its train section
    has none."""
    from jaxopt_lab import workloads  # imports flax models: only when a config is built

    section = data.get("workload")
    name = section.get("name") if isinstance(section, Mapping) else None
    if not isinstance(name, str):
        return data  # the default, or a mistake that building the config reports
    try:
        workload = workloads.get(name)
    except ValueError as error:
        raise where.error("workload.name", str(error)) from None
    train = data.get("train", {})
    if not isinstance(train, Mapping):
        return data
    defaults = {
        "batch_size": workload.batch_size,
        "epochs": workload.epochs,
        "last_batch": workload.last_batch,
    }
    return {**data, "train": {**defaults, **train}}


def config_to_dict(config: Config) -> dict[str, Any]:
    """The config as plain YAML-able data (``config_from_dict`` inverts it); the default
    workload and ``optimizer.cautious: false`` are left out, so that a config written before
    either existed reads, hashes and resumes as it did."""
    doc = to_dict(config)
    if config.workload == WorkloadConfig():
        del doc["workload"]
    if not config.optimizer.cautious:
        del doc["optimizer"]["cautious"]
    return doc


def _plain_value(value: Any) -> bool:
    """A hyperparameter a config can hold: a YAML scalar, or a list of them."""
    if isinstance(value, list):
        return all(_plain_value(v) and not isinstance(v, list) for v in value)
    return value is None or isinstance(value, bool | int | float | str)


# --- value checks --------------------------------------------------------------------------

# Seeds travel to the devices as int32 (engine.placement.device_runs) and seed jax.random.key
# there and numpy.random.default_rng on the host, which refuses negative seeds.
MAX_SEED = 2**31 - 1


def _check_values(config: Config, where: Where) -> None:
    from jaxopt_lab import workloads  # imports flax models: only when a config is built

    m, o, t, d, p = config.model, config.optimizer, config.train, config.data, config.distributed
    try:
        workload = workloads.get(config.workload.name)
    except ValueError as error:
        raise where.error("workload.name", str(error)) from None
    for key, problem in workload.problems(m, d):
        raise where.error(key, problem)
    if not m.hidden_sizes or any(h < 1 for h in m.hidden_sizes):
        raise where.error("model.hidden_sizes", f"needs ≥ 1 positive sizes, got {m.hidden_sizes}")
    one_of(where, "model.activation", m.activation, tuple(ACTIVATION_FUNCTIONS))
    one_of(where, "model.init", m.init, INIT_SCHEMES)
    _check_optimizer(o, where)
    for key, value, low in (
        ("train.epochs", t.epochs, 1),
        ("train.batch_size", t.batch_size, 1),
        ("train.checkpoint_every", t.checkpoint_every, 1),
    ):
        if value < low:
            raise where.error(key, f"must be ≥ {low}, got {value}")
    if not t.seeds or len(set(t.seeds)) != len(t.seeds):
        raise where.error("train.seeds", f"needs distinct seeds, got {t.seeds}")
    outside = [s for s in t.seeds if not 0 <= s <= MAX_SEED]
    if outside:
        raise where.error(
            "train.seeds",
            f"each seed must lie in 0 … {MAX_SEED} (2**31 − 1: seeds become int32 arrays on "
            f"the device), got {', '.join(map(str, outside))}",
        )
    one_of(where, "train.last_batch", t.last_batch, LAST_BATCH)
    if d.split_seed < 0:
        raise where.error("data.split_seed", f"must be ≥ 0 (it seeds PCG64), got {d.split_seed}")
    if d.train_size is not None and d.train_size < 1:
        raise where.error("data.train_size", f"must be ≥ 1 or null, got {d.train_size}")
    for key in ("devices", "run_devices"):
        value = getattr(t, key)
        if value is not None and value < 1:
            raise where.error(f"train.{key}", f"must be ≥ 1 or null, got {value}")
    if p.num_processes is not None and p.num_processes < 1:
        raise where.error(
            "distributed.num_processes", f"must be ≥ 1 or null, got {p.num_processes}"
        )
    if p.process_id is not None and not (0 <= p.process_id < (p.num_processes or p.process_id + 1)):
        raise where.error(
            "distributed.process_id",
            f"must be in 0 … num_processes − 1, got {p.process_id} of {p.num_processes}",
        )
    if p.initialization_timeout < 1:
        raise where.error(
            "distributed.initialization_timeout",
            f"must be ≥ 1 (seconds), got {p.initialization_timeout}",
        )


def _check_optimizer(o: OptimizerConfig, where: Where) -> None:
    try:
        registry.resolve(o.name)
    except ValueError as error:
        raise where.error("optimizer.name", str(error)) from None
    if not registry.takes_learning_rate(o.name):
        raise where.error(
            "optimizer.name",
            f"optimizer {o.name!r} takes no learning_rate, which the engine sets for each run "
            "(learning-rate sweeps and schedules go through optax.inject_hyperparams); give "
            "its factory a learning_rate parameter",
        )
    rates = o.learning_rates
    if not rates or len(set(rates)) != len(rates):
        raise where.error("optimizer.learning_rate", f"needs distinct values, got {rates}")
    for rate in rates:
        if not (math.isfinite(rate) and rate > 0):
            raise where.error("optimizer.learning_rate", f"must be finite and > 0, got {rate}")
    for name, value in o.hparams.items():
        if name == "learning_rate":
            raise where.error(
                "optimizer.hparams.learning_rate", "the learning rate is optimizer.learning_rate"
            )
        try:
            registry.check_hyperparameter_names(o.name, [name])
        except ValueError as error:
            raise where.error(f"optimizer.hparams.{name}", str(error)) from None
        if not _plain_value(value):
            raise where.error(
                f"optimizer.hparams.{name}",
                f"expected a number, a bool, a string, null or a list of them, got {value!r}",
            )
    try:
        registry.get_optimizer(o.name, learning_rate=rates[0], **o.hparams)
    except (TypeError, ValueError) as error:
        raise where.error("optimizer.hparams", str(error)) from None
    except Exception as error:  # the user's factory failed: name it; a built-in's is a bug
        if o.name in registry.OPTIMIZERS:
            raise
        what = f"when built with learning_rate={rates[0]}: its factory raised {first_line(error)}"
        raise where.error("optimizer.name", optimizer_failure(o, what, key=False)) from error
    if o.schedule is not None:
        one_of(where, "optimizer.schedule.name", o.schedule.name, schedules.NAMES)
        try:
            schedules.check(o.schedule.name, o.schedule.kwargs)
        except (TypeError, ValueError) as error:
            raise where.error("optimizer.schedule.kwargs", str(error)) from None
    if o.cautious and o.name in registry.CAUTIOUS:
        raise where.error(
            "optimizer.cautious",
            f"{o.name} masks its step already; use cautious: true with its base optimizer "
            f"({registry.CAUTIOUS[o.name]}) or leave it out",
        )
    if o.clipping is not None:
        one_of(where, "optimizer.clipping.method", o.clipping.method, tuple(CLIPPING))
        if not o.clipping.threshold > 0:
            raise where.error(
                "optimizer.clipping.threshold", f"must be > 0, got {o.clipping.threshold}"
            )
