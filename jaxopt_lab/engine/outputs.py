"""The files of a training output directory, all written atomically but the event files.

    config.yaml      the resolved config (defaults filled in)
    metrics.jsonl    one JSON object per run per epoch
    summary.json     final and best metrics of each run, timing and device, and the seal of
                     both files (``seal.py``: digests that reading checks)
    checkpoints/     see ``checkpoint.py``
    tensorboard/     one TensorBoard run per training run: a view of metrics.jsonl, appended
                     to each epoch as TensorBoard expects (``tensorboard.py``)
    .lock            while a call writes the directory (``lock.py``)

A metric of a diverged run is ``null`` from the epoch it diverged at, so no NaN reaches a mean.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from jaxopt_lab._typed_yaml import yaml_problem
from jaxopt_lab.engine import seal, tensorboard

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
# The same records gzip-compressed, as a published study holds them (results/<study>/).
METRICS_GZ = "metrics.jsonl.gz"
SUMMARY = "summary.json"
CHECKPOINTS = "checkpoints"
TENSORBOARD = tensorboard.DIRECTORY
OUTPUT_NAMES = (CONFIG, METRICS, SUMMARY, CHECKPOINTS, TENSORBOARD)
METRIC_NAMES = ("train_loss", "val_loss", "val_accuracy")


class OutputExistsError(FileExistsError):
    """The output directory already holds a run and neither resume nor overwrite was asked."""


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """One run of a run set and where it sits in the state arrays (group, seed, lr index)."""

    run: str
    optimizer: str
    seed: int
    hparams: dict[str, Any]
    group: int
    seed_index: int
    rate_index: int


def run_id(label: str, learning_rate: float, seed: int) -> str:
    """``adam/lr=0.001/seed=0``."""
    return f"{label}/lr={learning_rate:g}/seed={seed}"


def prepare_out_dir(out_dir: str | Path, *, resume: bool, overwrite: bool) -> bool:
    """Create ``out_dir``; return whether it holds results to resume.

    Results are a checkpoint, a summary or metric records: a directory with nothing but the
    ``config.yaml`` of a run that stopped before its first epoch ended holds none, so it is
    started afresh without ``overwrite`` (and the note says so).

    Raises:
      ValueError: both ``resume`` and ``overwrite``.
      OutputExistsError: it holds results and neither flag is set.
    """
    if resume and overwrite:
        raise ValueError("choose one of resume and overwrite, not both")
    out_dir = Path(out_dir)
    existing = [name for name in OUTPUT_NAMES if (out_dir / name).exists()]
    if existing and not overwrite and not _holds_results(out_dir):
        print(
            f"note: {out_dir} holds no completed epoch ({', '.join(existing)} of a run that "
            "stopped early); starting afresh",
            file=sys.stderr,
        )
        overwrite = True
    if existing and overwrite:
        for name in existing:
            path = out_dir / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        existing = []
    if existing and not resume:
        raise OutputExistsError(
            f"{out_dir} already holds a run ({', '.join(existing)}); pass --resume to continue "
            "it or --overwrite to replace it (resume=True / overwrite=True in Python)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    return bool(existing)


def _holds_results(out_dir: Path) -> bool:
    metrics = out_dir / METRICS
    return (
        (out_dir / CHECKPOINTS).exists()
        or (out_dir / SUMMARY).exists()
        or (metrics.exists() and bool(metrics.read_bytes().strip()))
    )


def epoch_records(
    runs: Sequence[RunInfo],
    epoch: int,
    seconds: float,
    metrics: Sequence[dict[str, Any]],
    diverged: Sequence[Any],
    test: Sequence[tuple[Any, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The metrics.jsonl objects of one epoch; ``metrics[g][name]`` and ``diverged[g]`` are
    ``[S, L]`` host arrays of group g, ``test[g]`` its (loss, accuracy) when evaluated."""
    records = []
    for info in runs:
        where = (info.seed_index, info.rate_index)
        dead = bool(diverged[info.group][where])
        record = {
            "run": info.run,
            "optimizer": info.optimizer,
            "seed": info.seed,
            "hparams": info.hparams,
            "epoch": epoch,
        }
        for name in METRIC_NAMES:
            record[name] = None if dead else _number(metrics[info.group][name][where])
        if test is not None:
            loss, accuracy = test[info.group]
            record["test_loss"] = None if dead else _number(loss[where])
            record["test_accuracy"] = None if dead else _number(accuracy[where])
        record["seconds"] = seconds
        record["diverged"] = dead
        records.append(record)
    return records


def build_summary(
    runs: Sequence[RunInfo],
    records: Sequence[dict[str, Any]],
    diverged_epoch: Sequence[Any],
    test: Sequence[tuple[Any, Any]],
    *,
    calls: Sequence[dict[str, Any]],
    compile_seconds: float,
    device: str,
    epochs_completed: int,
    data: dict[str, Any],
) -> dict[str, Any]:
    """summary.json: per run the last epoch's metrics (``final``), the best validation
    accuracy and its epoch, the test metrics of the final parameters, and whether (and when) it
    diverged; ``null`` metrics for a diverged run. ``wall_seconds`` is the sum over the training
    calls (``calls``: a resumed run's earlier calls count up to the checkpoint it resumed
    from), ``compile_seconds`` the last call's, ``data`` where the data came from. The
    runner adds ``optimizers``: what each label's optimizer reference resolved to."""
    by_run: dict[str, list[dict[str, Any]]] = {info.run: [] for info in runs}
    for record in records:
        by_run[record["run"]].append(record)
    out = []
    for info in runs:
        history = sorted(by_run[info.run], key=lambda r: r["epoch"])
        epoch_of_divergence = int(diverged_epoch[info.group][info.seed_index, info.rate_index])
        dead = epoch_of_divergence > 0
        last = history[-1] if history else {}
        alive = [r for r in history if r["val_accuracy"] is not None]
        best = max(alive, key=lambda r: r["val_accuracy"], default=None)
        loss, accuracy = test[info.group]
        where = (info.seed_index, info.rate_index)
        out.append(
            {
                "run": info.run,
                "optimizer": info.optimizer,
                "seed": info.seed,
                "hparams": info.hparams,
                "final": {name: last.get(name) for name in METRIC_NAMES},
                "best": {
                    "val_accuracy": best["val_accuracy"] if best else None,
                    "epoch": best["epoch"] if best else None,
                },
                "test_loss": None if dead else _number(loss[where]),
                "test_accuracy": None if dead else _number(accuracy[where]),
                "diverged": dead,
                "diverged_epoch": epoch_of_divergence if dead else None,
            }
        )
    return {
        "runs": out,
        "wall_seconds": sum(call["wall_seconds"] for call in calls),
        "calls": list(calls),
        "compile_seconds": compile_seconds,
        "device": device,
        "epochs_completed": epochs_completed,
        "data": data,
    }


def write_metrics(out_dir: str | Path, records: Sequence[dict[str, Any]]) -> None:
    """Replace metrics.jsonl with ``records``, one JSON object per line."""
    text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in records)
    atomic_write_text(Path(out_dir) / METRICS, text)


def write_tensorboard(out_dir: str | Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Bring ``tensorboard/`` in line with ``records`` (all of metrics.jsonl): per run, append
    the new epochs to its event file, or write a new file in place of one that is not a prefix
    of what the records say (epochs a resume retrains, a torn write).

    The event files are a view of metrics.jsonl, which the next call writes again: a failed
    write (a full disk) warns once per directory on stderr and training goes on.
    """
    try:
        for run, history in tensorboard.by_run(records).items():
            _write_event_file(Path(out_dir, TENSORBOARD, *tensorboard.run_path(run)), history)
    except OSError as error:
        if str(out_dir) not in _TENSORBOARD_FAILED:
            _TENSORBOARD_FAILED.add(str(out_dir))
            print(
                f"warning: TensorBoard files of {out_dir} not written ({error}); training goes "
                "on, metrics.jsonl holds every record",
                file=sys.stderr,
            )


# Directories whose TensorBoard files failed to be written, warned about once.
_TENSORBOARD_FAILED: set[str] = set()


def _write_event_file(directory: Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Like TensorFlow's writers, append (a torn append is a prefix the next call completes);
    a file that holds other data is emptied, not deleted: a running TensorBoard stops reading a
    run whose file it follows is deleted, and moves on from an emptied one to the new file."""
    directory.mkdir(parents=True, exist_ok=True)
    files = sorted(directory.glob(f"{tensorboard.FILE_PREFIX}*"))
    latest = files[-1] if files else None
    old = latest.read_bytes() if latest is not None else b""
    start = tensorboard.start_time(old)
    data = tensorboard.event_file(records, time.time() if start is None else start)
    if latest is not None and data.startswith(old):
        if len(data) > len(old):
            with latest.open("ab") as file:
                file.write(data[len(old) :])
        return
    # A new name that sorts last: TensorBoard reads new files, not one replaced under its name.
    stamp = max([int(time.time()), *(tensorboard.file_stamp(f.name) + 1 for f in files)])
    with (directory / tensorboard.file_name(stamp, socket.gethostname())).open("xb") as file:
        file.write(data)
    for stale in files:
        if stale.stat().st_size:
            os.truncate(stale, 0)


def read_metrics(
    out_dir: str | Path,
    *,
    sealed: Mapping[str, Any] | None = None,
    source: str = SUMMARY,
    through_epoch: int | None = None,
) -> list[dict[str, Any]]:
    """The records of metrics.jsonl (empty when it does not exist; blank lines are not records),
    checked against ``sealed`` (the ``records`` of a seal, held by ``source``) when given, up to
    ``through_epoch`` when given.

    Raises:
      DamagedOutputError: a line is not a JSON object (a torn last line too), naming the file
        and the line.
      EditedOutputError: a record differs from its seal, or a sealed record is missing, naming
        the file and the line.
    """
    path = metrics_file(out_dir)
    if path is None:
        path = Path(out_dir) / METRICS
        numbered: list[tuple[int, dict[str, Any]]] = []
    else:
        numbered = list(_numbered_records(path))
    if sealed is not None:
        problems = seal.record_problems(numbered, sealed, through_epoch=through_epoch)
        if problems:
            line, what = problems[0]
            raise EditedOutputError(path, line, what, source, len(problems))
    return [record for _, record in numbered]


def _numbered_records(path: Path):
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DamagedOutputError(_damaged(path, f"is not JSON ({error})", number)) from None
        if not isinstance(record, dict):
            raise DamagedOutputError(_damaged(path, "is not a JSON object", number))
        yield number, record


def read_summary(out_dir: str | Path) -> dict[str, Any]:
    """summary.json's data, checked against its own seal (a summary written before seals
    existed has none and is returned as it is).

    Raises:
      DamagedOutputError: it is not valid JSON.
      EditedOutputError: a run's entry or the other keys differ from the seal, naming the line.
    """
    path = Path(out_dir) / SUMMARY
    summary = read_json(path)
    problems = seal.summary_problems(summary) if isinstance(summary, dict) else []
    if problems:
        run, what = problems[0]
        line = _line_of(path, f'"run": {json.dumps(run)}') if run is not None else None
        raise EditedOutputError(path, line, what, "its own seal", len(problems))
    return summary


def read_sealed_metrics(out_dir: str | Path, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """metrics.jsonl's records, checked against ``summary``'s seal when it has one."""
    sealed = summary.get(seal.SEAL)
    return read_metrics(out_dir, sealed=None if sealed is None else sealed["records"])


def check_sealed(out_dir: str | Path) -> bool:
    """Whether ``out_dir``'s summary.json is sealed, after checking it and metrics.jsonl
    against the seal (``EditedOutputError`` when they differ)."""
    summary = read_summary(out_dir)
    read_sealed_metrics(out_dir, summary)
    return seal.SEAL in summary


def seal_as_is(out_dir: str | Path) -> bool:
    """Seal the summary and metrics of ``out_dir`` as they are now, for outputs written before
    seals existed; True when it sealed them, False when they were sealed (and still match)."""
    if check_sealed(out_dir):
        return False
    write_summary(out_dir, read_json(Path(out_dir) / SUMMARY), read_metrics(out_dir))
    return True


def _line_of(path: Path, needle: str) -> int | None:
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        if needle in line:
            return number
    return None


def metrics_file(out_dir: str | Path) -> Path | None:
    """``metrics.jsonl``, else its compressed ``metrics.jsonl.gz``, else None."""
    for name in (METRICS, METRICS_GZ):
        path = Path(out_dir) / name
        if path.is_file():
            return path
    return None


def read_json(path: str | Path) -> Any:
    """A JSON output file's data (summary.json, a study's index), or the error naming it."""
    try:
        return json.loads(_read_text(Path(path)))
    except json.JSONDecodeError as error:
        raise DamagedOutputError(_damaged(Path(path), f"is not valid JSON ({error})")) from None


class DamagedOutputError(ValueError):
    """An output file cannot be read back as what the engine wrote; the message names the file
    (and line) and the way out."""


class EditedOutputError(DamagedOutputError):
    """An output file reads well but differs from the digests the engine wrote with it;
    ``where`` is ``path[:line]`` and ``what`` the difference."""

    def __init__(self, path: Path, line: int | None, what: str, source: str, count: int):
        self.where = str(path) if line is None else f"{path}:{line}"
        more = f" ({count - 1} more differences)" if count > 1 else ""
        self.what = f"{what}, by the digests {source} holds{more}"
        super().__init__(
            f"{self.where} {self.what}: the records were changed after the engine wrote them, "
            "and an edited number is never reported. Put back the files as they were written "
            "(git checkout for published results), or retrain: " + _retrain(path)
        )


def _damaged(path: Path, what: str, line: int | None = None) -> str:
    where = str(path) if line is None else f"{path}:{line}"
    return (
        f"{where} {what}: the file is damaged (outputs are written whole, so this comes from "
        "outside: a copy cut short, a full disk, an edit). Put back an intact copy, or retrain: "
        + _retrain(path)
    )


def _retrain(path: Path) -> str:
    return (
        f"--overwrite for a jaxopt-lab train directory, or for a study delete {path.parent} and "
        "rerun the study's jaxopt-lab compare command, which retrains only that run set"
    )


def _read_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            try:
                return gzip.decompress(path.read_bytes()).decode("utf-8")
            except (OSError, EOFError) as error:
                raise DamagedOutputError(_damaged(path, f"is not gzip ({error})")) from None
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DamagedOutputError(_damaged(path, f"is not UTF-8 text ({error})")) from None


def write_summary(
    out_dir: str | Path, summary: dict[str, Any], records: Sequence[Mapping[str, Any]]
) -> None:
    """Write summary.json, sealed with the digests of itself and of ``records`` (``seal.py``)."""
    sealed = {**summary, seal.SEAL: seal.summary_seal(summary, records)}
    atomic_write_text(Path(out_dir) / SUMMARY, json.dumps(sealed, indent=1, allow_nan=False))


def write_config(
    out_dir: str | Path,
    resolved: dict[str, Any],
    optimizers: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Write config.yaml: the resolved config, after a comment per optimizer saying what its
    reference resolved to (``optimizers.describe``: package and version, or file and sha256)."""
    lines = [
        f"# optimizer {label}: {optimizer_provenance(d)}\n"
        for label, d in (optimizers or {}).items()
    ]
    atomic_write_text(
        Path(out_dir) / CONFIG, "".join(lines) + yaml.safe_dump(resolved, sort_keys=False)
    )


def optimizer_provenance(described: Mapping[str, Any]) -> str:
    """``optax.lion = optax._src.alias.lion (optax 0.2.8)``, or with the file and sha256."""
    origin = (
        f"{described['package']} {described['version']}"
        if "package" in described
        else f"{described['file']}, sha256 {described['sha256']}"
        if "file" in described
        else f"source sha256 {described['source_sha256']}"
        if "source_sha256" in described
        else described.get("source", "?")
    )
    return f"{described['reference']} = {described['factory']} ({origin})"


def read_config(out_dir: str | Path) -> Any:
    """The YAML data of config.yaml, or None when there is none.

    Raises:
      DamagedOutputError: it is not valid YAML, naming the file.
    """
    path = Path(out_dir) / CONFIG
    if not path.exists():
        return None
    try:
        return yaml.safe_load(_read_text(path))
    except yaml.YAMLError as error:
        raise DamagedOutputError(
            _damaged(path, f"is not valid YAML ({yaml_problem(error)})")
        ) from None


def atomic_write_text(path: str | Path, text: str) -> None:
    """``atomic_write_bytes`` of UTF-8 text."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never half; a
    failed write (a full disk) raises its ``OSError`` with ``path`` as the file name."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno and error.filename is None:
            # A failed write or fsync (a full disk) names no file: name the one being written.
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise


def _number(value: Any) -> float | None:
    """A float32 as the exact Python float; None for NaN/inf (never written as JSON NaN)."""
    number = float(value)
    return number if math.isfinite(number) else None
