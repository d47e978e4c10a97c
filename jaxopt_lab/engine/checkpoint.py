"""Checkpoints of a run set: every array of its state, with the config, the epoch and a sha256.

One file, ``checkpoints/state.msgpack``, replaced atomically after each checkpointed epoch::

    b"JOLCKPT" + format byte | sha256(body) (32 bytes) | body = msgpack {
        "epoch":  the epoch just completed,
        "config": the resolved config the run set trains (config.yaml's data, as JSON),
        "calls":  [{"epochs": [first, last], "wall_seconds": s}, …] the training calls so far,
        "records": per run, the digests of its metric records so far (``seal.records_seal``),
        "leaves": the state pytree's arrays in ``jax.tree.leaves`` order }

A write that was cut short (the process killed between creating its temporary file and the
rename) leaves ``.state.msgpack.*.tmp`` beside it; the next save removes such leftovers (no
other process can be writing one: a directory has one writer at a time, ``lock.py``).

The file carries its own checksum, config and epoch, so a resume can check it against nothing
but itself (flipped bits, a truncated copy) and against the config and metrics beside it
(``resume.py``); one file replaced atomically cannot disagree with a checksum kept elsewhere.
The state's structure comes from the config, which rebuilds the same template on resume. The
data order needs no saved RNG state: it is a function of (seed, epoch) (``loop.epoch_order``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import msgpack
import numpy as np
from flax import serialization

from jaxopt_lab.engine import seal
from jaxopt_lab.engine.outputs import atomic_write_bytes

FILENAME = "state.msgpack"
MAGIC = b"JOLCKPT"
FORMAT_VERSION = 2
_HEADER = len(MAGIC) + 1 + hashlib.sha256().digest_size


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the state the config describes."""


class CheckpointDamagedError(ValueError):
    """A checkpoint file is not what was written: a bad checksum, or not a checkpoint at all."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint holds: the epoch, the state, the config, the training calls, and the
    digests of the metric records written so far (None in a checkpoint written before them)."""

    epoch: int
    state: Any
    config: Any
    calls: list[dict[str, Any]]
    records: dict[str, str] | None = None


def save_checkpoint(
    directory: str | Path,
    epoch: int,
    state: Any,
    *,
    config: Any,
    calls: list[dict[str, Any]],
    records: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write ``state`` (a pytree of arrays) after ``epoch`` of the run set ``config`` to
    ``directory/state.msgpack``, with its sha256 and the digests of the metric ``records``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(jax.device_get(state))]
    body = serialization.msgpack_serialize(
        {
            "epoch": epoch,
            "config": json.dumps(config, sort_keys=True),
            "calls": json.dumps(calls),
            "records": json.dumps(seal.records_seal(records)),
            "leaves": {str(i): leaf for i, leaf in enumerate(leaves)},
        }
    )
    header = MAGIC + bytes([FORMAT_VERSION]) + hashlib.sha256(body).digest()
    path = directory / FILENAME
    for stale in directory.glob(f".{FILENAME}.*.tmp"):  # left by a write that was killed
        stale.unlink(missing_ok=True)
    atomic_write_bytes(path, header + body)
    return path


def load_checkpoint(directory: str | Path, template: Any) -> Checkpoint | None:
    """The checkpoint saved in ``directory``, its state shaped like ``template``; None if absent.

    Raises:
      CheckpointDamagedError: the file is not a checkpoint of this format or its sha256 does not
        match its content (the message names the file and the way out).
      CheckpointMismatchError: its arrays differ in number, shape or dtype from ``template``
        (it was written for another config).
    """
    path = Path(directory) / FILENAME
    if not path.exists():
        return None
    payload = _verified_payload(path)
    expected, treedef = jax.tree.flatten(template)
    stored = [payload["leaves"][str(i)] for i in range(len(payload["leaves"]))]
    if len(stored) != len(expected):
        raise CheckpointMismatchError(
            f"{path}: holds {len(stored)} arrays, the config's state has {len(expected)}"
        )
    for i, (have, want) in enumerate(zip(stored, expected, strict=True)):
        if have.shape != want.shape or have.dtype != want.dtype:
            raise CheckpointMismatchError(
                f"{path}: array {i} is {have.dtype}{list(have.shape)}, the config's state "
                f"needs {want.dtype}{list(want.shape)}"
            )
    return Checkpoint(
        epoch=int(payload["epoch"]),
        state=jax.tree.unflatten(treedef, stored),
        config=json.loads(payload["config"]),
        calls=json.loads(payload["calls"]),
        records=json.loads(payload["records"]) if "records" in payload else None,
    )


def _verified_payload(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    retrain = (
        "Its run cannot be continued from it: retrain with --overwrite (or another --out), or "
        "put back an intact copy of the file. The metrics already written stay valid."
    )
    if len(data) < _HEADER or not data.startswith(MAGIC):
        raise CheckpointDamagedError(
            f"{path} is not a jaxopt_lab checkpoint of format {FORMAT_VERSION} (it may be "
            f"truncated, another file, or written by an older jaxopt_lab without a checksum). "
            f"{retrain}"
        )
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise CheckpointDamagedError(
            f"{path} has checkpoint format {version}, this jaxopt_lab reads {FORMAT_VERSION}. "
            f"{retrain}"
        )
    stored, body = data[len(MAGIC) + 1 : _HEADER], data[_HEADER:]
    actual = hashlib.sha256(body).digest()
    if actual != stored:
        raise CheckpointDamagedError(
            f"{path} is damaged: the sha256 of its content ({actual.hex()[:16]}…) is not the one "
            f"written with it ({stored.hex()[:16]}…). {retrain}"
        )
    try:
        return serialization.msgpack_restore(body)
    except (ValueError, msgpack.exceptions.UnpackException) as error:  # sha256 right, format wrong
        raise CheckpointDamagedError(f"{path} cannot be decoded ({error}). {retrain}") from None
