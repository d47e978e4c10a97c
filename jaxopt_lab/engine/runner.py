"""``train``: a config (or several) in, a finished output directory out.

config → data on the device(s) (placement.py) → compiled programs (programs.py, loop.py) →
restored state (resume.py) → epochs → metrics.jsonl, checkpoints, summary.json (outputs.py,
checkpoint.py). On several devices or processes the same programs run over a device mesh
(mesh.py, distributed.py); only process 0 writes the outputs. This module only puts those
steps in order and records each epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax

from jaxopt_lab.config import Config, TrainConfig, config_to_dict
from jaxopt_lab.data.splits import MNIST
from jaxopt_lab.engine import distributed, mesh, outputs
from jaxopt_lab.engine.checkpoint import save_checkpoint
from jaxopt_lab.engine.lock import OutputLock
from jaxopt_lab.engine.placement import data_provenance, device_splits, load_data
from jaxopt_lab.engine.programs import (
    ProgramCache,
    RunSet,
    States,
    compile_run_set,
    evaluate_test,
    initial_states,
    run_epoch,
)
from jaxopt_lab.engine.progress import EpochProgress, ProgressBar
from jaxopt_lab.engine.resume import Restored, check_same_config, restore
from jaxopt_lab.engine.transform import resolved_hparams
from jaxopt_lab.optimizers.describe import describe

DEFAULT_UNROLL = 1
SHARED_SECTIONS = ("workload", "model", "train", "data")
# Compiled programs of this process's recent run-set shapes: studies train many run sets of one
# shape, which then compile once.
PROGRAMS = ProgramCache(size=8)


def train(
    config: Config,
    out_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    data: MNIST | None = None,
    on_epoch: Callable[[EpochProgress], None] | None = None,
) -> dict[str, Any]:
    """Train the run set of ``config`` (every seed × every learning rate) and write ``out_dir``.

    All runs train together in one compiled program per epoch. Outputs (see ``outputs.py``):
    ``config.yaml``, ``metrics.jsonl`` (one object per run per epoch), ``summary.json``,
    ``checkpoints/`` and ``tensorboard/``; run ids look like ``adam/lr=0.001/seed=0``.

    Args:
      config: the validated config (``load_config``).
      out_dir: the output directory; created if needed.
      resume: continue the run in ``out_dir`` from its last checkpoint; the result is bitwise
        the one of an uninterrupted run. ``train.epochs`` may be raised to train further,
        unless the schedule is relative to the run length (see ``resume.py``).
      overwrite: delete the outputs in ``out_dir`` first.
      quiet: no progress bar (it is also off when stderr is not a terminal).
      data: MNIST splits to use instead of ``load_mnist`` (``config.data`` is then ignored
        except ``train_size``).
      on_epoch: called after every epoch with an ``EpochProgress``.

    Returns:
      The summary (the content of ``summary.json``).

    Raises:
      OutputExistsError: ``out_dir`` holds outputs and neither ``resume`` nor ``overwrite``.
      OutputLockedError: another process is writing ``out_dir``.
      ResumeMismatchError: resuming with a config that differs from the saved one or from the
        checkpoint's (other than ``train.epochs`` and where it runs), or metrics that lack
        epochs the checkpoint has trained.
      CheckpointDamagedError, CheckpointMismatchError: a checkpoint that fails its sha256, or
        does not fit the config.
      DamagedOutputError: a metrics or config file that cannot be read back.
    All are ``ValueError``s but ``OutputLockedError`` (a ``RuntimeError``); no config, metrics
    or checkpoint is written before the checks pass (see docs/engine.md, "Reliability").
    """
    return train_many(
        {config.optimizer.label: config},
        out_dir,
        resume=resume,
        overwrite=overwrite,
        quiet=quiet,
        data=data,
        on_epoch=on_epoch,
    )


def train_many(
    configs: Mapping[str, Config],
    out_dir: str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    quiet: bool = False,
    data: MNIST | None = None,
    on_epoch: Callable[[EpochProgress], None] | None = None,
    unroll: int = DEFAULT_UNROLL,
) -> dict[str, Any]:
    """Train several optimizer configs as one run set in one compiled program per epoch.

    ``configs`` maps a label (the run-id prefix, e.g. ``"adam"``) to a config; their ``model``,
    ``train`` and ``data`` sections must be equal, so runs with the same seed share the initial
    parameters and the data order across optimizers. ``config.yaml`` then holds one config per
    label. Otherwise as ``train``; ``train(c, d)`` is ``train_many({c.optimizer.label: c}, d)``
    with ``config.yaml`` holding the single config. ``unroll`` is the number of batches per
    iteration of the compiled loop: a speed/compile-time trade-off that leaves the results
    unchanged (see docs/engine.md).
    """
    started = time.perf_counter()
    labels, first = _check_groups(configs)
    # Before any other JAX call: joining other processes needs an uninitialised backend.
    distributed.initialize(first.distributed)
    place = mesh.placement(
        first.train.devices,
        first.train.batch_size,
        first.train.run_devices,
        len(first.train.seeds),
        tuple(len(c.optimizer.learning_rates) for c in configs.values()),
    )
    writer = distributed.is_writer()
    out_dir = Path(out_dir)
    with OutputLock(out_dir) if writer else contextlib.nullcontext():
        resolved = _resolved(configs)
        optimizers = _optimizers(configs)
        resuming = writer and _prepare_out_dir(out_dir, resolved, configs, resume, overwrite)
        mnist = load_data(first, data, warn=writer)
        splits = device_splits(first, mnist, place)
        compile_start = time.perf_counter()
        run_set = compile_run_set(configs, splits, place, unroll=unroll, cache=PROGRAMS)
        compile_seconds = time.perf_counter() - compile_start
        runs = _runs(labels, configs)
        restored = restore(
            out_dir,
            initial_states(run_set),
            place,
            resuming=resuming,
            resolved=resolved,
            configs=configs,
            runs=[r.run for r in runs],
        )
        if writer:  # only now: every check has passed, so config.yaml describes what runs
            outputs.write_config(out_dir, resolved, optimizers)
        call = Call(restored.calls, restored.done, started)
        display = None
        if not quiet and writer:
            display = ProgressBar(first.train.epochs, restored.done, "/".join(labels))
        listeners = [f for f in (display, on_epoch) if f is not None]
        try:
            states, records = _train_epochs(
                run_set, restored, runs, first.train, out_dir, resolved, call, listeners
            )
        finally:
            if display is not None:
                display.close()
        summary = _summary(
            run_set, states, runs, records, first.train.epochs, compile_seconds, call, mnist
        )
        summary = {**summary, "optimizers": optimizers}
        if writer:
            outputs.write_summary(out_dir, summary, records)
    return summary


def _prepare_out_dir(
    out_dir: Path,
    resolved: dict[str, Any],
    configs: Mapping[str, Config],
    resume: bool,
    overwrite: bool,
) -> bool:
    """Create ``out_dir`` or clear it (``overwrite``); whether it holds a run to resume, which
    ``configs`` must then continue (``resume.check_same_config``)."""
    resuming = outputs.prepare_out_dir(out_dir, resume=resume, overwrite=overwrite)
    saved = outputs.read_config(out_dir) if resuming else None
    if saved is not None:
        check_same_config(saved, resolved, configs, str(out_dir / outputs.CONFIG))
    return resuming


@dataclasses.dataclass
class Call:
    """This training call's place in the run's history: the earlier calls (each counted up to
    the checkpoint the next one resumed from), the first epoch it trains, when it started."""

    earlier: list[dict[str, Any]]
    done: int
    started: float

    def history(self, epoch: int) -> list[dict[str, Any]]:
        """Every call's epochs and wall seconds, this one's up to now and ``epoch``."""
        seconds = time.perf_counter() - self.started
        return [*self.earlier, {"epochs": [self.done + 1, epoch], "wall_seconds": seconds}]


def _train_epochs(
    run_set: RunSet,
    restored: Restored,
    runs: list[outputs.RunInfo],
    train: TrainConfig,
    out_dir: Path,
    resolved: dict[str, Any],
    call: Call,
    listeners: list[Callable[[EpochProgress], None]],
) -> tuple[States, list[dict[str, Any]]]:
    """Epochs ``restored.done + 1`` … ``train.epochs``: each trained, recorded, written by
    process 0 (metrics, and a checkpoint every ``checkpoint_every`` epochs and at the last) and
    reported to ``listeners``. Returns the final states and every epoch's records."""
    place = run_set.place
    states, records = restored.states, restored.records
    for epoch in range(restored.done + 1, train.epochs + 1):
        tick = time.perf_counter()
        states, metrics = run_epoch(run_set, states, epoch)
        metrics = place.to_host(metrics)
        seconds = time.perf_counter() - tick
        diverged = [place.to_host(s.diverged) for s in states]
        test = None
        if train.eval_test_every_epoch:
            test = place.to_host(evaluate_test(run_set, states))
        new = outputs.epoch_records(runs, epoch, seconds, metrics, diverged, test)
        records = [*records, *new]
        checkpoint = epoch % train.checkpoint_every == 0 or epoch == train.epochs
        host_states = place.to_host(states) if checkpoint else None
        if distributed.is_writer():
            # Metrics before the checkpoint: a crash in between leaves metrics ahead of
            # the checkpoint, which resume truncates and recomputes bitwise.
            outputs.write_metrics(out_dir, records)
            outputs.write_tensorboard(out_dir, records)  # a view of metrics.jsonl
            if checkpoint:
                save_checkpoint(
                    out_dir / outputs.CHECKPOINTS,
                    epoch,
                    host_states,
                    config=resolved,
                    calls=call.history(epoch),
                    records=records,
                )
        samples = run_set.programs.spec.samples_per_epoch
        progress = _progress(new, epoch, train.epochs, seconds, samples)
        for listener in listeners:
            listener(progress)
    return states, records


def _summary(
    run_set: RunSet,
    states: States,
    runs: list[outputs.RunInfo],
    records: list[dict[str, Any]],
    epochs: int,
    compile_seconds: float,
    call: Call,
    data: MNIST,
) -> dict[str, Any]:
    """summary.json, with the test metrics of the final parameters."""
    place = run_set.place
    test = place.to_host(evaluate_test(run_set, states))
    return outputs.build_summary(
        runs,
        records,
        [place.to_host(s.diverged_epoch) for s in states],
        test,
        calls=call.history(epochs),
        compile_seconds=compile_seconds,
        device=place.describe(_describe(jax.devices()[0])),
        epochs_completed=epochs,
        data=data_provenance(data),
    )


def _resolved(configs: Mapping[str, Config]) -> dict[str, Any]:
    """config.yaml's data: the single config, or label → config."""
    if len(configs) == 1:
        return config_to_dict(next(iter(configs.values())))
    return {label: config_to_dict(c) for label, c in configs.items()}


def _optimizers(configs: Mapping[str, Config]) -> dict[str, dict[str, Any]]:
    """label ↦ what its optimizer reference resolved to (package and version, or file and
    sha256): a report can say exactly what "lion" was."""
    return {label: describe(c.optimizer.name) for label, c in configs.items()}


def _describe(device: Any) -> str:
    """``cpu``, or the platform and the model, e.g. ``gpu: NVIDIA H100 80GB HBM3``."""
    kind = str(device.device_kind)
    return device.platform if kind.lower() == device.platform else f"{device.platform}: {kind}"


def _check_groups(configs: Mapping[str, Config]) -> tuple[list[str], Config]:
    if not configs:
        raise ValueError("train_many needs at least one config")
    labels = list(configs)
    for label in labels:
        if not isinstance(label, str) or not label or "/" in label:
            raise ValueError(f"config label {label!r} must be a non-empty string without '/'")
    first = configs[labels[0]]
    for label, config in configs.items():
        for section in SHARED_SECTIONS:
            if getattr(config, section) != getattr(first, section):
                raise ValueError(
                    f"configs {labels[0]!r} and {label!r} differ in {section!r}; runs trained "
                    f"together share the workload, model, train and data sections"
                )
    return labels, first


def _runs(labels: list[str], configs: Mapping[str, Config]) -> list[outputs.RunInfo]:
    runs = []
    for g, label in enumerate(labels):
        config = configs[label]
        for r, rate in enumerate(config.optimizer.learning_rates):
            for s, seed in enumerate(config.train.seeds):
                runs.append(
                    outputs.RunInfo(
                        run=outputs.run_id(label, rate, seed),
                        optimizer=config.optimizer.label,
                        seed=seed,
                        hparams=resolved_hparams(config.optimizer, rate),
                        group=g,
                        seed_index=s,
                        rate_index=r,
                    )
                )
    return runs


def _progress(
    records: list[dict[str, Any]], epoch: int, epochs: int, seconds: float, samples: int
) -> EpochProgress:
    def median(name: str) -> float | None:
        values = [r[name] for r in records if r[name] is not None]
        return statistics.median(values) if values else None

    return EpochProgress(
        epoch=epoch,
        epochs=epochs,
        seconds=seconds,
        model_samples_per_second=len(records) * samples / seconds if seconds > 0 else math.inf,
        runs=len(records),
        diverged=sum(r["diverged"] for r in records),
        train_loss=median("train_loss"),
        val_loss=median("val_loss"),
        val_accuracy=median("val_accuracy"),
    )
