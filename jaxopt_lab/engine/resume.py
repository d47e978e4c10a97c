"""Resuming an output directory: whether the config may continue it, and the saved state.

A resume continues bitwise where the last checkpoint left off, so the config must describe the
same runs as the saved ``config.yaml`` and as the config the checkpoint carries (so a lost or
edited ``config.yaml`` is no way around the check), and ``metrics.jsonl`` must hold every epoch
the checkpoint has trained. Two things may change: ``train.devices`` and the
``distributed`` section (where the runs are computed, which changes float rounding only), and
``train.epochs`` (to train further), unless a schedule is written in fractions of the run
(``jaxopt_lab.schedules``): then the epochs fix the schedule of every step, including the steps
already trained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab import schedules
from jaxopt_lab._typed_yaml import differences as config_differences
from jaxopt_lab.config import Config
from jaxopt_lab.engine import distributed, outputs
from jaxopt_lab.engine.checkpoint import FILENAME, load_checkpoint
from jaxopt_lab.engine.mesh import Placement

RESUMABLE_TRAIN_KEYS = ("epochs", "devices", "run_devices")


class ResumeMismatchError(ValueError):
    """The config, the checkpoint and the metrics of an output directory do not agree."""


@dataclasses.dataclass(frozen=True)
class Restored:
    """Where a call starts: the epochs done, the states, their metric records, earlier calls."""

    done: int
    states: Any
    records: list[dict[str, Any]]
    calls: list[dict[str, Any]]


def check_same_config(
    saved: Any, resolved: dict[str, Any], configs: Mapping[str, Config], where: str
) -> None:
    """Refuse to continue the run set described by ``saved`` (the data of ``where``: the saved
    ``config.yaml`` or a checkpoint's config) with ``configs`` (``resolved``: their
    ``config.yaml`` data) unless they describe the same runs.

    Raises:
      ResumeMismatchError: naming every key that differs other than what a resume may change,
        or ``train.epochs`` changed under a schedule relative to the run length.
    """
    differences = config_differences(_protocol(saved), _protocol(resolved))
    if differences:
        raise ResumeMismatchError(
            f"cannot resume: {where} differs from this config ({'; '.join(differences)}); "
            "only train.epochs and where it runs may change: use --overwrite or another --out "
            "to train this config"
        )
    first = next(iter(configs.values()))
    saved_epochs = _epochs(saved)
    if saved_epochs in (None, first.train.epochs):
        return
    for label, config in configs.items():
        schedule = config.optimizer.schedule
        if schedule is not None and schedules.is_relative(schedule.name):
            raise ResumeMismatchError(
                f"cannot resume to train.epochs={first.train.epochs} ({where} was written for "
                f"{saved_epochs}): its schedule is relative to the run length; {label!r} uses "
                f"{schedule.name!r}, which a new length would change for the epochs already "
                f"trained. Keep train.epochs={saved_epochs}, or train afresh (--overwrite or "
                "another --out)"
            )


def restore(
    out_dir: Path,
    initial: Any,
    place: Placement,
    *,
    resuming: bool,
    resolved: dict[str, Any],
    configs: Mapping[str, Config],
    runs: Sequence[str],
) -> Restored:
    """Where to continue ``out_dir`` from: its last checkpoint, checked against this config
    (``check_same_config``; it holds its own config, so a lost or emptied ``config.yaml`` is no
    way around the check) and against ``metrics.jsonl``, which must hold every epoch of every
    run in ``runs`` up to the checkpoint's (later records are dropped: they are retrained
    bitwise). ``Restored(0, initial, [], [])`` when there is nothing to resume.

    Process 0 reads the files and sends them, so other hosts need no shared disk; every
    process must call this (``resuming`` is taken from process 0).

    Raises:
      CheckpointDamagedError: the checkpoint fails its checksum.
      CheckpointMismatchError: the checkpoint does not fit the states of this config.
      ResumeMismatchError: the checkpoint's config differs from this one, or the metrics lack
        epochs the checkpoint has trained, or the checkpoint is already past ``train.epochs``.
    """
    if not distributed.broadcast(np.asarray(resuming)):
        return Restored(0, initial, [], [])
    writer = distributed.is_writer()
    checkpoint, records = None, []
    if writer:
        checkpoint = load_checkpoint(out_dir / outputs.CHECKPOINTS, initial)
        if checkpoint is not None:
            where = f"{out_dir / outputs.CHECKPOINTS / FILENAME} (epoch {checkpoint.epoch})"
            check_same_config(checkpoint.config, resolved, configs, where)
            records = _records_up_to(out_dir, checkpoint.epoch, runs, checkpoint.records, where)
    restored = (
        (0, place.to_host(initial)) if checkpoint is None else (checkpoint.epoch, checkpoint.state)
    )
    epoch, leaves = distributed.broadcast((np.asarray(restored[0]), restored[1]))
    done = int(epoch)
    records, calls = distributed.broadcast_json(
        [records, [] if checkpoint is None else checkpoint.calls]
    )
    epochs = next(iter(configs.values())).train.epochs
    if done > epochs:
        raise ResumeMismatchError(
            f"cannot resume {out_dir} to train.epochs={epochs}: its checkpoint is already at "
            f"epoch {done}; ask for at least {done} epochs"
        )
    return Restored(done, place.put_runs(leaves) if done > 0 else initial, records, calls)


def _records_up_to(
    out_dir: Path,
    done: int,
    runs: Sequence[str],
    sealed: Mapping[str, str] | None,
    where: str,
) -> list[dict[str, Any]]:
    """The metric records of epochs 1 … ``done``, each run's complete and as the checkpoint's
    digests (``sealed``) say they were written, or the error saying which run lacks which
    epochs, or which line was edited."""
    records = [r for r in outputs.read_metrics(out_dir) if r["epoch"] <= done]
    have: dict[str, set[int]] = {run: set() for run in runs}
    for record in records:
        have.setdefault(record["run"], set()).add(record["epoch"])
    wanted = set(range(1, done + 1))
    missing = {run: sorted(wanted - epochs) for run, epochs in have.items() if wanted - epochs}
    if missing:
        listed = "; ".join(f"{run}: epochs {_ranges(e)}" for run, e in list(missing.items())[:3])
        more = f" and {len(missing) - 3} more runs" if len(missing) > 3 else ""
        raise ResumeMismatchError(
            f"cannot resume {out_dir}: its checkpoint has trained {done} epochs but "
            f"{outputs.METRICS} lacks records of them ({listed}{more}). Those metrics are lost "
            "and a resume would report an incomplete history: retrain with --overwrite (or "
            "another --out), or put back the complete metrics file"
        )
    extra = sorted(set(have) - set(runs))
    if extra:
        raise ResumeMismatchError(
            f"cannot resume {out_dir}: {outputs.METRICS} holds runs this config does not train "
            f"({', '.join(extra[:3])}); use --overwrite or another --out"
        )
    if sealed is not None:  # an edited record is named by its line
        _check_sealed(out_dir, sealed, where, done)
    return records


def _check_sealed(out_dir: Path, sealed: Mapping[str, str], where: str, done: int) -> None:
    try:
        outputs.read_metrics(out_dir, sealed=sealed, source=where, through_epoch=done)
    except outputs.EditedOutputError as error:
        raise ResumeMismatchError(
            f"cannot resume {out_dir}: {error.where} {error.what}: the metrics "
            "were changed after training, and a resume would carry the change into "
            "summary.json. Put back the metrics file as written, or retrain with --overwrite "
            "(or another --out)"
        ) from None


def _ranges(epochs: list[int]) -> str:
    """[1, 2, 3, 5] → ``1-3, 5``."""
    parts, start = [], None
    for i, epoch in enumerate(epochs):
        if start is None:
            start = epoch
        if i + 1 == len(epochs) or epochs[i + 1] != epoch + 1:
            parts.append(str(start) if start == epoch else f"{start}-{epoch}")
            start = None
    return ", ".join(parts)


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
