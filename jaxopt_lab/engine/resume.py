"""Resuming an output directory: whether the config may continue it, and the saved state.

A resume continues bitwise where the last checkpoint left off, so the config must describe the
same runs as the saved ``config.yaml``. Two things may change: ``train.devices`` and the
``distributed`` section (where the runs are computed, which changes float rounding only), and
``train.epochs`` (to train further), unless a schedule is written in fractions of the run
(``jaxopt_lab.schedules``): then the epochs fix the schedule of every step, including the steps
already trained.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab import schedules
from jaxopt_lab.config import Config
from jaxopt_lab.engine import distributed, outputs
from jaxopt_lab.engine.checkpoint import load_checkpoint
from jaxopt_lab.engine.distributed import Placement

RESUMABLE_TRAIN_KEYS = ("epochs", "devices")


def check_same_config(
    out_dir: Path, resolved: dict[str, Any], configs: Mapping[str, Config]
) -> None:
    """Refuse to resume ``out_dir`` with ``configs`` (``resolved``: their ``config.yaml``
    data) unless they describe the saved runs.

    Raises:
      ValueError: the saved config differs other than in what a resume may change, or
        ``train.epochs`` changed under a schedule relative to the run length.
    """
    saved = outputs.read_config(out_dir)
    if saved is None:
        return
    if _protocol(saved) != _protocol(resolved):
        raise ValueError(
            f"cannot resume {out_dir}: its {outputs.CONFIG} differs from this config (only "
            "train.epochs and where it runs may change); use --overwrite or another --out"
        )
    first = next(iter(configs.values()))
    saved_epochs = _epochs(saved)
    if saved_epochs in (None, first.train.epochs):
        return
    for label, config in configs.items():
        schedule = config.optimizer.schedule
        if schedule is not None and schedules.is_relative(schedule.name):
            raise ValueError(
                f"cannot resume {out_dir} to train.epochs={first.train.epochs} (it was started "
                f"for {saved_epochs}): its schedule is relative to the run length; "
                f"{label!r} uses {schedule.name!r}, which a new length would change for the "
                f"epochs already trained. Keep train.epochs={saved_epochs}, or train afresh "
                "(--overwrite or another --out)"
            )


def restore(
    out_dir: Path, initial: Any, place: Placement, *, resuming: bool, epochs: int
) -> tuple[int, Any, list[dict[str, Any]]]:
    """(epochs done, states, metric records) to continue from: the last checkpoint of
    ``out_dir`` and its records up to that epoch, or ``(0, initial, [])``.

    Process 0 reads the checkpoint and sends it, so other hosts need no shared disk; every
    process must call this (``resuming`` is taken from process 0).

    Raises:
      ValueError: the checkpoint is already past ``epochs``.
      CheckpointMismatchError: the checkpoint does not fit the states of this config.
    """
    if not distributed.broadcast(np.asarray(resuming)):
        return 0, initial, []
    writer = distributed.is_writer()
    restored = load_checkpoint(out_dir / outputs.CHECKPOINTS, initial) if writer else None
    if restored is None:  # no checkpoint yet, or a receiving process: a placeholder
        restored = (0, place.to_host(initial))
    epoch, leaves = distributed.broadcast((np.asarray(restored[0]), restored[1]))
    done = int(epoch)
    states = place.put(leaves) if done > 0 else initial
    records = []
    if writer:
        records = [r for r in outputs.read_metrics(out_dir) if r["epoch"] <= done]
    records = distributed.broadcast_json(records)
    if done > epochs:
        raise ValueError(
            f"cannot resume {out_dir} to train.epochs={epochs}: its checkpoint is already at "
            f"epoch {done}"
        )
    return done, states, records


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


def _epochs(doc: Any) -> int | None:
    """``train.epochs`` of a saved config: one config, or label → config (all share it)."""
    if isinstance(doc, dict) and "train" in doc:
        return doc["train"].get("epochs")
    if isinstance(doc, dict) and doc:
        return _epochs(next(iter(doc.values())))
    return None
