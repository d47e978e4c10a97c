"""``train``: a config (or several) in, a finished output directory out.

config → data on the device(s) → compiled epoch (loop.py) → metrics.jsonl, checkpoints,
summary.json (outputs.py, checkpoint.py). On several devices or processes the same programs run
data parallel (distributed.py); only process 0 writes the outputs.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np
import yaml

from jaxopt_lab.config import Config, config_to_dict
from jaxopt_lab.data.splits import MNIST, Split, flatten, normalize
from jaxopt_lab.engine import distributed, outputs
from jaxopt_lab.engine.checkpoint import load_checkpoint, save_checkpoint
from jaxopt_lab.engine.loop import (
    RunSetSpec,
    compile_init,
    epoch_orders,
    make_epoch,
    make_evaluate,
)
from jaxopt_lab.engine.optimizer import make_transform, resolved_hparams
from jaxopt_lab.engine.progress import EpochProgress, ProgressBar
from jaxopt_lab.model import make_model

DEFAULT_UNROLL = 1
SHARED_SECTIONS = ("model", "train", "data")


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
    ``config.yaml``, ``metrics.jsonl`` (one object per run per epoch), ``summary.json`` and
    ``checkpoints/``; run ids look like ``adam/lr=0.001/seed=0``.

    Args:
      config: the validated config (``load_config``).
      out_dir: the output directory; created if needed.
      resume: continue the run in ``out_dir`` from its last checkpoint; the result is bitwise
        the one of an uninterrupted run. ``train.epochs`` may be raised to train further.
      overwrite: delete the outputs in ``out_dir`` first.
      quiet: no progress bar (it is also off when stderr is not a terminal).
      data: MNIST splits to use instead of ``load_mnist`` (``config.data`` is then ignored
        except ``train_size``).
      on_epoch: called after every epoch with an ``EpochProgress``.

    Returns:
      The summary (the content of ``summary.json``).

    Raises:
      OutputExistsError: ``out_dir`` holds outputs and neither ``resume`` nor ``overwrite``.
      ValueError: resuming with a config that differs from the saved one (other than
        ``train.epochs``), or a checkpoint that does not fit it.
    """
    return train_many(
        {config.optimizer.name: config},
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
    label. Otherwise as ``train``; ``train(c, d)`` is ``train_many({c.optimizer.name: c}, d)``
    with ``config.yaml`` holding the single config. ``unroll`` is the number of batches per
    iteration of the compiled loop: a speed/compile-time trade-off that leaves the results
    unchanged (see docs/engine.md).
    """
    started = time.perf_counter()
    labels, first = _check_groups(configs)
    # Before any other JAX call: joining other processes needs an uninitialised backend.
    distributed.initialize(first.distributed)
    place = distributed.placement(first.train.devices, first.train.batch_size)
    writer = distributed.is_writer()
    single = len(configs) == 1
    resolved = (
        config_to_dict(first) if single else {k: config_to_dict(c) for k, c in configs.items()}
    )
    out_dir = Path(out_dir)
    resuming = False
    if writer:
        resuming = outputs.prepare_out_dir(out_dir, resume=resume, overwrite=overwrite)
        if resuming:
            _check_same_config(out_dir, resolved)
        outputs.write_config(out_dir, yaml.safe_dump(resolved, sort_keys=False))

    splits = _device_splits(first, data, place)
    x_train, y_train = splits["train"]
    x_val, y_val = splits["val"]
    x_test, y_test = splits["test"]
    seeds = place.put(np.asarray(first.train.seeds, np.int32))
    rates = tuple(
        place.put(np.asarray(c.optimizer.learning_rates, np.float32)) for c in configs.values()
    )
    runs = _runs(labels, configs)

    compile_start = time.perf_counter()
    programs = _programs(configs, splits, seeds, rates, unroll, place)
    compile_seconds = time.perf_counter() - compile_start
    spec, epoch_fn, evaluate_test = programs.spec, programs.epoch, programs.evaluate

    states = programs.init(seeds, rates)
    done, records = 0, []
    if distributed.broadcast(np.asarray(resuming)):
        # Process 0 reads the checkpoint and sends it: other hosts need no shared disk.
        restored = load_checkpoint(out_dir / outputs.CHECKPOINTS, states) if writer else None
        if restored is None:  # no checkpoint yet, or a receiving process: a placeholder
            restored = (0, place.to_host(states))
        epoch, leaves = distributed.broadcast((np.asarray(restored[0]), restored[1]))
        done = int(epoch)
        if done > 0:
            states = place.put(leaves)
        if writer:
            records = [r for r in outputs.read_metrics(out_dir) if r["epoch"] <= done]
        records = distributed.broadcast_json(records)
    if done > first.train.epochs:
        raise ValueError(
            f"cannot resume {out_dir} to train.epochs={first.train.epochs}: its checkpoint is "
            f"already at epoch {done}"
        )

    epochs = first.train.epochs
    display = None if quiet or not writer else ProgressBar(epochs, done, "/".join(labels))
    try:
        for epoch in range(done + 1, epochs + 1):
            tick = time.perf_counter()
            order = place.put_order(epoch_orders(spec, first.train.seeds, epoch))
            states, metrics = epoch_fn(
                states, place.put(np.int32(epoch)), order, rates, x_train, y_train, x_val, y_val
            )
            metrics = place.to_host(metrics)
            seconds = time.perf_counter() - tick
            diverged = [place.to_host(s.diverged) for s in states]
            test = None
            if first.train.eval_test_every_epoch:
                test = place.to_host(evaluate_test(states, x_test, y_test))
            new = outputs.epoch_records(runs, epoch, seconds, metrics, diverged, test)
            records.extend(new)
            checkpoint = epoch % first.train.checkpoint_every == 0 or epoch == epochs
            host_states = place.to_host(states) if checkpoint else None
            if writer:
                # Metrics before the checkpoint: a crash in between leaves metrics ahead of
                # the checkpoint, which resume truncates and recomputes bitwise.
                outputs.write_metrics(out_dir, records)
                if checkpoint:
                    save_checkpoint(out_dir / outputs.CHECKPOINTS, epoch, host_states)
            progress = _progress(new, epoch, epochs, seconds, spec.samples_per_epoch)
            if display is not None:
                display(progress)
            if on_epoch is not None:
                on_epoch(progress)
    finally:
        if display is not None:
            display.close()

    test = place.to_host(evaluate_test(states, x_test, y_test))
    summary = outputs.build_summary(
        runs,
        records,
        [place.to_host(s.diverged_epoch) for s in states],
        test,
        wall_seconds=time.perf_counter() - started,
        compile_seconds=compile_seconds,
        device=place.describe(_describe(jax.devices()[0])),
        epochs_completed=epochs,
    )
    if writer:
        outputs.write_summary(out_dir, summary)
    return summary


class _Programs(NamedTuple):
    spec: RunSetSpec
    init: Callable[..., Any]
    epoch: Callable[..., Any]
    evaluate: Callable[..., Any]


_PROGRAMS: OrderedDict[str, _Programs] = OrderedDict()
_PROGRAMS_KEPT = 8


def _programs(
    configs: Mapping[str, Config],
    splits: dict[str, tuple[jax.Array, jax.Array]],
    seeds: jax.Array,
    rates: tuple[jax.Array, ...],
    unroll: int,
    place: distributed.Placement,
) -> _Programs:
    """The compiled init, epoch and evaluation programs, reused within a process.

    A program depends on the model, the optimizers (not their learning-rate values, which are
    arguments), the batch and the array shapes, not on seeds, epochs or output settings; studies
    that train many run sets of one shape compile once. Over a mesh, the state and the metrics
    are replicated and each batch is split (``distributed.py``).
    """
    first = next(iter(configs.values()))
    key = json.dumps(
        {
            "model": config_to_dict(first)["model"],
            "optimizers": [
                {**config_to_dict(c)["optimizer"], "learning_rate": len(c.optimizer.learning_rates)}
                for c in configs.values()
            ],
            "batch": [first.train.batch_size, first.train.last_batch, unroll],
            "shapes": [list(a.shape) for pair in splits.values() for a in pair] + [len(seeds)],
            "devices": [] if place.mesh is None else [d.id for d in place.mesh.devices.flat],
        },
        sort_keys=True,
    )
    if key in _PROGRAMS:
        _PROGRAMS.move_to_end(key)
        return _PROGRAMS[key]
    spec = RunSetSpec(
        model=make_model(first.model),
        transforms=tuple(make_transform(c.optimizer) for c in configs.values()),
        n_train=int(splits["train"][1].shape[0]),
        batch_size=first.train.batch_size,
        last_batch=first.train.last_batch,
        unroll=unroll,
        batch_sharding=place.batch,
    )
    # One device: jit places everything, as the engine always did.
    out = {} if place.mesh is None else {"out_shardings": place.replicated}
    init = compile_init(spec, seeds, rates, place.replicated)
    order = place.put_order(epoch_orders(spec, first.train.seeds, 1))
    states = init(seeds, rates)
    x_test, y_test = splits["test"]
    epoch = (
        jax.jit(make_epoch(spec), donate_argnums=0, **out)
        .lower(
            states,
            place.put(np.int32(1)),
            order,
            rates,
            *splits["train"],
            *splits["val"],
        )
        .compile()
    )
    evaluate = jax.jit(make_evaluate(spec), **out).lower(states, x_test, y_test).compile()
    _PROGRAMS[key] = _Programs(spec, init, epoch, evaluate)
    if len(_PROGRAMS) > _PROGRAMS_KEPT:
        _PROGRAMS.popitem(last=False)
    return _PROGRAMS[key]


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
                    f"together share the model, train and data sections"
                )
    return labels, first


def _check_same_config(out_dir: Path, resolved: dict[str, Any]) -> None:
    saved = outputs.read_config(out_dir)
    if saved is not None and _protocol(saved) != _protocol(resolved):
        raise ValueError(
            f"cannot resume {out_dir}: its {outputs.CONFIG} differs from this config (only "
            "train.epochs and where it runs may change); use --overwrite or another --out"
        )


RESUMABLE_TRAIN_KEYS = ("epochs", "devices")


def _protocol(doc: Any) -> Any:
    """The config without what a resume may change: the epochs to reach, and the devices and
    processes (which change float rounding only); configs written before those keys existed
    compare equal."""
    if isinstance(doc, dict) and "train" in doc:
        train = {k: v for k, v in doc["train"].items() if k not in RESUMABLE_TRAIN_KEYS}
        return {**{k: v for k, v in doc.items() if k != "distributed"}, "train": train}
    if isinstance(doc, dict):
        return {k: _protocol(v) for k, v in doc.items()}
    return doc


def _device_splits(
    config: Config, data: MNIST | None, place: distributed.Placement
) -> dict[str, tuple[jax.Array, jax.Array]]:
    """Images [N, 784] and int32 labels on the device(s): the training split replicated (each
    device gathers its part of a batch from it), the evaluation splits by rows."""
    if data is None:
        from jaxopt_lab.data import load_mnist  # the data layer; imported only when needed

        data = load_mnist(
            source=config.data.source,
            cache_dir=config.data.cache_dir,
            split_seed=config.data.split_seed,
        )
    train = data.train
    if config.data.train_size is not None:
        size = config.data.train_size
        if size > len(train):
            raise ValueError(f"data.train_size={size} exceeds the {len(train)} training images")
        train = Split(train.images[:size], train.labels[:size])

    def put(split: Split, normalized: bool) -> tuple[jax.Array, jax.Array]:
        images = flatten(np.asarray(split.images, np.uint8))
        labels = np.asarray(split.labels, np.int32)
        if normalized:
            images = normalize(images)
            return place.put_rows(images), place.put_rows(labels)
        return place.put(images), place.put(labels)

    # Training batches are gathered as uint8 and normalised in the step (4x less memory);
    # the evaluation splits are normalised once here rather than at every evaluation.
    return {"train": put(train, False), "val": put(data.val, True), "test": put(data.test, True)}


def _runs(labels: list[str], configs: Mapping[str, Config]) -> list[outputs.RunInfo]:
    runs = []
    for g, label in enumerate(labels):
        config = configs[label]
        for r, rate in enumerate(config.optimizer.learning_rates):
            for s, seed in enumerate(config.train.seeds):
                runs.append(
                    outputs.RunInfo(
                        run=outputs.run_id(label, rate, seed),
                        optimizer=config.optimizer.name,
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
