"""Checkpoints of a run set: every array of its state, written atomically with msgpack.

One file, ``checkpoints/state.msgpack``, replaced after each checkpointed epoch. It holds the
epoch just completed and the leaves of the state pytree (parameters, optimizer states, the
diverged mask and epochs), in ``jax.tree.leaves`` order; the structure comes from the config,
which rebuilds the same state template on resume. The data order needs no saved RNG state: it is
a function of (seed, epoch) (see ``loop.epoch_order``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from jaxopt_lab.engine.outputs import atomic_write_bytes

FILENAME = "state.msgpack"
FORMAT_VERSION = 1


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the state the config describes."""


def save_checkpoint(directory: str | Path, epoch: int, state: Any) -> Path:
    """Write ``state`` (a pytree of arrays) after ``epoch`` to ``directory/state.msgpack``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(jax.device_get(state))]
    payload = {
        "format": FORMAT_VERSION,
        "epoch": epoch,
        "leaves": {str(i): leaf for i, leaf in enumerate(leaves)},
    }
    path = directory / FILENAME
    atomic_write_bytes(path, serialization.msgpack_serialize(payload))
    return path


def load_checkpoint(directory: str | Path, template: Any) -> tuple[int, Any] | None:
    """The (epoch, state) saved in ``directory``, shaped like ``template``; None if absent.

    Raises:
      CheckpointMismatchError: the file's arrays differ in number, shape or dtype from
        ``template`` (it was written for another config).
    """
    path = Path(directory) / FILENAME
    if not path.exists():
        return None
    payload = serialization.msgpack_restore(path.read_bytes())
    if payload.get("format") != FORMAT_VERSION:
        raise CheckpointMismatchError(f"{path}: unknown checkpoint format {payload.get('format')}")
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
    return int(payload["epoch"]), jax.tree.unflatten(treedef, stored)
