"""Runs and batches over devices, with JAX's own sharding: the mesh and where arrays live.

The run set's programs are the single-device ones (``loop.py``), compiled for a 2-D device mesh
``runs × data`` of R × D devices:

- ``runs`` splits the run set: its seeds when R divides their count (each device trains S/R
  seeds through the single-device code, under ``jax.shard_map``), else the learning rates of
  every group when R divides each group's count (XLA partitions the vmap over them). Runs are
  independent, so this axis needs no communication at all.
- ``data`` splits every batch: with batch size B, device d of a row computes the forward and
  backward pass of samples d·B/D … (d+1)·B/D − 1, and XLA inserts the all-reduce of

      ∇ℓ(θ) = Σ_d Σ_{i∈d} wᵢ ∇CE_i(θ) / Σ_d Σ_{i∈d} wᵢ

  so every device of a row holds the same gradient and takes the same optimizer step.

Parameters and optimizer states ``[S, L, …]`` are split along their run axis over ``runs`` and
replicated over ``data``; the data set is replicated. Results equal the single-device ones up
to the order of float32 sums (≈1e-6 relative): XLA:CPU's threaded matmuls round differently
with another number of runs per device.

With several processes (``distributed.py``) the mesh spans the devices of every process; each
process puts only the shards of its own devices (``jax.make_array_from_callback``), so each
feeds its part of every batch's indices and holds only its runs' states. Every process holds
the whole data set (MNIST is 39 MB as uint8): the batch is gathered on the device from the
process's replica.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"
RUNS = "runs"
RUN_AXES = ("seeds", "rates")  # what the "runs" mesh axis splits


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the run set's arrays live: one device (``mesh`` None) or a ``runs × data`` mesh
    whose ``runs`` axis splits the run set's ``run_axis`` (``"seeds"``, ``"rates"``, or None
    when that axis has one device)."""

    mesh: Mesh | None = None
    run_axis: str | None = None

    def __post_init__(self) -> None:
        if self.run_axis not in (None, *RUN_AXES):
            raise ValueError(f"run_axis must be one of {RUN_AXES} or None, got {self.run_axis!r}")

    @property
    def device_count(self) -> int:
        return 1 if self.mesh is None else self.mesh.devices.size

    @property
    def run_devices(self) -> int:
        """R: the devices the run set is split over (1 when it is not)."""
        return 1 if self.mesh is None else self.mesh.shape[RUNS]

    @property
    def replicated(self) -> NamedSharding | None:
        return None if self.mesh is None else NamedSharding(self.mesh, PartitionSpec())

    @property
    def batch(self) -> NamedSharding | None:
        """A batch's leading (sample) axis split over the ``data`` axis."""
        return None if self.mesh is None else NamedSharding(self.mesh, PartitionSpec(AXIS))

    @property
    def seed_mesh(self) -> Mesh | None:
        """The mesh when its ``runs`` axis splits the seeds (``loop.over_seeds``), else None."""
        return self.mesh if self.run_axis == "seeds" else None

    @property
    def runs(self) -> NamedSharding | None:
        """Arrays whose leading axes are a group's ``[S, L]`` (states, metrics): split along
        the seed or the learning-rate axis over ``runs``, replicated over ``data``."""
        if self.mesh is None:
            return None
        return NamedSharding(self.mesh, PartitionSpec(*self._run_spec(2)))

    def _run_spec(self, rank: int) -> tuple[str | None, ...]:
        """The ``runs`` axis at position 0 (seeds) or 1 (rates) of ``rank`` leading axes."""
        spec: list[str | None] = [None] * rank
        if self.run_axis is not None:
            spec[RUN_AXES.index(self.run_axis)] = RUNS
        return tuple(spec)

    def put(self, tree: Any) -> Any:
        """Host arrays → replicated device arrays (``jax.device_put`` on one device)."""
        if self.mesh is None:
            return jax.device_put(tree)
        return jax.tree.map(lambda a: _global(a, self.replicated), tree)

    def put_runs(self, tree: Any) -> Any:
        """A pytree of ``[S, L, …]`` leaves (group states) → device arrays split as ``runs``."""
        if self.mesh is None:
            return jax.device_put(tree)
        return jax.tree.map(lambda a: _global(a, self.runs), tree)

    def put_seeds(self, seeds: np.ndarray) -> jax.Array:
        """The seeds ``[S]``, split over ``runs`` when it splits the seeds."""
        return self._put_axis(seeds, "seeds")

    def put_rates(self, rates: np.ndarray) -> jax.Array:
        """A group's learning rates ``[L]``, split over ``runs`` when it splits the rates."""
        return self._put_axis(rates, "rates")

    def _put_axis(self, array: np.ndarray, axis: str) -> jax.Array:
        if self.mesh is None or self.run_axis != axis:
            return self.put(array)
        return _global(array, NamedSharding(self.mesh, PartitionSpec(RUNS)))

    def put_rows(self, array: np.ndarray) -> jax.Array:
        """An evaluation split: rows split over the devices when they divide evenly."""
        if self.mesh is None:
            return jax.device_put(array)
        if array.shape[0] % self.device_count:
            return _global(array, self.replicated)
        return _global(array, self.batch)

    def put_order(self, order: tuple[np.ndarray, np.ndarray]) -> tuple[jax.Array, jax.Array]:
        """An epoch's order (indices ``[S, steps, B]``, weights ``[steps, B]``), split along B:
        each device gathers and trains only its part of every batch."""
        if self.mesh is None:
            return jax.device_put(order)
        indices, weights = order
        seeds = self._run_spec(1)[0] if self.run_axis == "seeds" else None
        return (
            _global(indices, NamedSharding(self.mesh, PartitionSpec(seeds, None, AXIS))),
            _global(weights, NamedSharding(self.mesh, PartitionSpec(None, AXIS))),
        )

    def to_host(self, tree: Any) -> Any:
        """Device arrays → NumPy; a replicated array is read from this process's first shard
        (``jax.device_get`` refuses arrays that span other processes' devices)."""
        return jax.tree.map(_host, tree)

    @property
    def layout(self) -> str:
        """The mesh, e.g. ``runs 2 × data 1, by seed``; ``1 device`` without one."""
        if self.mesh is None:
            return "1 device"
        text = f"runs {self.run_devices} × data {self.mesh.shape[AXIS]}"
        if self.run_axis is None:
            return text
        return f"{text}, by {'seed' if self.run_axis == 'seeds' else 'learning rate'}"

    def describe(self, device: str) -> str:
        """``cpu`` on one device, else e.g. ``cpu × 4 (2 processes)`` or, with the runs split,
        ``gpu: … × 8 (runs 8 × data 1, by seed)``."""
        if self.mesh is None:
            return device
        processes = jax.process_count()
        text = f"{device} × {self.device_count}"
        notes = [] if processes == 1 else [f"{processes} processes"]
        if self.run_axis is not None:
            notes.append(self.layout)
        return f"{text} ({', '.join(notes)})" if notes else text


def placement(
    requested: int | None,
    batch_size: int,
    run_devices: int | None = None,
    seeds: int = 1,
    rates: tuple[int, ...] = (1,),
) -> Placement:
    """The devices a run set of ``seeds`` seeds and groups of ``rates`` learning rates uses,
    as a ``runs × data`` mesh of R × D devices.

    ``requested`` (``train.devices``) is R·D, by default every device; ``run_devices``
    (``train.run_devices``) is R, by default the most devices (of R·D) that split the seeds, or
    else every group's learning rates, evenly. D, the rest, must divide ``batch_size``; when
    neither count is set, the default takes the most devices that divide it. One device is the
    single-device path (no mesh, the programs exactly as before). With several processes the
    mesh always spans every device of every process.

    Raises:
      ValueError: more devices asked than exist, ``run_devices`` that divides neither the
        seeds nor every group's learning rates (or not the devices), or a batch size not
        divisible by the devices it is split over.
    """
    devices = jax.devices()
    available = len(devices)
    processes = jax.process_count()
    for name, value in (("devices", requested), ("run_devices", run_devices)):
        if value is not None and value > available:
            raise ValueError(
                f"train.{name}={value} but only {available} device(s) are visible "
                f"({jax.default_backend()}); set train.{name} ≤ {available} or null"
            )
    if processes > 1 and requested not in (None, available):
        raise ValueError(
            f"train.devices={requested}: with {processes} processes the engine uses all "
            f"{available} devices; set train.devices to null or {available}"
        )
    count = available if requested is None else requested
    if run_devices is not None and count % run_devices:
        raise ValueError(
            f"train.run_devices={run_devices} does not divide the {count} devices in use; "
            f"set train.run_devices to a divisor of {count} or null"
        )
    splits = lambda r: seeds % r == 0 or all(n % r == 0 for n in rates)  # noqa: E731
    if run_devices is None:
        runs = max(r for r in range(1, count + 1) if count % r == 0 and splits(r))
    elif splits(run_devices):
        runs = run_devices
    else:
        raise ValueError(
            f"train.run_devices={run_devices} divides neither the {seeds} seed(s) nor every "
            f"group's learning rates ({', '.join(map(str, rates))}); use a divisor of one of "
            "them, or 1 to split only the batch"
        )
    data = count // runs
    if requested is None and run_devices is None and processes == 1:
        data = max(d for d in range(1, data + 1) if data % d == 0 and batch_size % d == 0)
    if batch_size % data:
        raise ValueError(
            f"train.batch_size={batch_size} is not divisible by the {data} devices it is "
            f"split over; use a batch size that is a multiple of {data} (e.g. "
            f"{batch_size + data - batch_size % data}) or set train.devices (and "
            f"train.run_devices) so that devices / run_devices divides {batch_size}"
        )
    if runs * data == 1:
        return Placement()
    run_axis = None if runs == 1 else ("seeds" if seeds % runs == 0 else "rates")
    mesh = Mesh(np.array(devices[: runs * data]).reshape(runs, data), (RUNS, AXIS))
    return Placement(mesh, run_axis)


def _global(array: Any, sharding: NamedSharding) -> jax.Array:
    array = np.asarray(array)
    return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def _host(array: Any) -> np.ndarray:
    if isinstance(array, jax.Array) and not array.is_fully_addressable:
        if array.is_fully_replicated:
            return np.asarray(array.addressable_data(0))
        return np.asarray(multihost_utils.process_allgather(array, tiled=True))
    return np.asarray(array)
