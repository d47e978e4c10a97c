"""Several processes (hosts) training one run set: joining them, and process 0's part.

The processes form one mesh (``mesh.py``) through ``jax.distributed``. ``initialize`` joins
them before anything starts JAX's backend, once they have met at the coordinator's address
(``rendezvous.py``). Only process 0 writes outputs (``is_writer``); what it alone reads, such
as a checkpoint and its metric records on resume, reaches the others through ``broadcast`` and
``broadcast_json``, so hosts need no shared disk.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxopt_lab.config import DistributedConfig
from jaxopt_lab.engine.rendezvous import (  # noqa: F401  (the errors initialize raises)
    ENV_ADDRESS,
    ENV_PROCESS_ID,
    ENV_PROCESSES,
    CoordinatorUnreachableError,
    PeersMissingError,
    rendezvous,
)


def process_settings(config: DistributedConfig) -> tuple[str, int, int] | None:
    """(coordinator address, process count, process id) from the config, each missing value
    from the environment (``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
    ``JAX_PROCESS_ID``); None when neither names a coordinator (one process).

    Raises:
      ValueError: a coordinator is named but the count or the id is missing or out of range.
    """
    address = config.coordinator_address or os.environ.get(ENV_ADDRESS) or None
    count = config.num_processes
    if count is None and os.environ.get(ENV_PROCESSES):
        count = _env_int(ENV_PROCESSES)
    index = config.process_id
    if index is None and os.environ.get(ENV_PROCESS_ID):
        index = _env_int(ENV_PROCESS_ID)
    if address is None:
        if count not in (None, 1):
            raise ValueError(
                f"{count} processes but no coordinator address; set "
                f"distributed.coordinator_address (or {ENV_ADDRESS}) to host:port of process 0"
            )
        return None
    if count is None or index is None:
        raise ValueError(
            f"coordinator {address} is set but the process count or id is missing; set "
            f"distributed.num_processes and distributed.process_id (or {ENV_PROCESSES} and "
            f"{ENV_PROCESS_ID})"
        )
    if not 0 <= index < count:
        raise ValueError(f"distributed.process_id={index} must be in 0 … {count - 1}")
    return address, count, index


def initialize(config: DistributedConfig) -> bool:
    """Join the processes named by ``config``/the environment; False for a single process.

    Must run before anything initialises JAX's backend (the engine's ``train`` does this first).
    The processes first meet at the coordinator's address (``rendezvous``), each waiting at most
    ``initialization_timeout`` seconds, and only then start ``jax.distributed`` there: a
    ``jax.distributed`` start-up that times out aborts the whole process with a C++ check
    failure (on process 0 as on the others), where this raises an error naming the address and
    the missing processes. CPU collectives between processes use gloo.

    Raises:
      CoordinatorUnreachableError: nothing answered at the address in time.
      PeersMissingError: not every process joined in time.
      ValueError: the processes disagree on their count, two share an id, or the port is taken.
      RuntimeError: the backend was already initialised, or ``jax.distributed`` was already
        initialised with other settings.
    """
    settings = process_settings(config)
    if settings is None:
        return False
    address, count, index = settings
    if jax.distributed.is_initialized():
        if (jax.process_count(), jax.process_index()) != (count, index):
            raise RuntimeError(
                f"jax.distributed is already initialised as process {jax.process_index()} of "
                f"{jax.process_count()}, not {index} of {count}"
            )
        return True
    # Checked before meeting: once met, the others start jax.distributed and would wait for
    # this process until they abort.
    if _backend_started():
        raise RuntimeError(_too_late(address, "JAX's backend is already initialised."))
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    timeout = config.initialization_timeout
    rendezvous(address, count, index, timeout)
    try:
        jax.distributed.initialize(address, count, index, initialization_timeout=timeout)
    except RuntimeError as error:
        raise RuntimeError(_too_late(address, str(error))) from None
    return True


def _backend_started() -> bool:
    """Whether JAX's backend is initialised. jax has no public test for it; where this private
    one is gone, ``jax.distributed.initialize`` still refuses, only after the meeting."""
    from jax._src import xla_bridge

    started = getattr(xla_bridge, "backends_are_initialized", None)
    return started is not None and started()


def _too_late(address: str, reason: str) -> str:
    return (
        f"cannot join the processes at {address}: {reason} Start training (engine.train or "
        "jaxopt-lab train) before any other JAX call in this process."
    )


def broadcast(tree: Any) -> Any:
    """Process 0's values of a pytree of NumPy arrays, on every process."""
    if jax.process_count() == 1:
        return tree
    return jax.tree.map(np.asarray, multihost_utils.broadcast_one_to_all(tree))


def broadcast_json(value: Any) -> Any:
    """Process 0's JSON-able ``value`` (e.g. metric records) on every process."""
    if jax.process_count() == 1:
        return value
    data = np.frombuffer(json.dumps(value).encode(), np.uint8) if is_writer() else None
    size = int(broadcast(np.asarray(0 if data is None else data.size, np.int64)))
    received = broadcast(np.zeros(size, np.uint8) if data is None else data)
    return json.loads(received.tobytes())


def is_writer() -> bool:
    """Only process 0 writes outputs and shows progress."""
    return jax.process_index() == 0


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} must be an integer") from None
