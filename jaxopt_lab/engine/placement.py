"""A run set's data on the device(s): the three splits, the seeds and the learning rates.

Samples travel as rows ``[N, D]``. Training samples stay as the workload stores them (MNIST's
uint8 pixels: 4× less memory than float32; each batch is gathered and preprocessed by the
workload's ``inputs`` inside the compiled step), replicated so that every device gathers its
part of a batch. The validation and test splits are preprocessed once here, on the host:
normalising 10,000 images at every evaluation cost more than the forward pass. They are split
by rows over a mesh.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxopt_lab.config import Config
from jaxopt_lab.data.splits import MNIST, Split, flatten
from jaxopt_lab.engine.mesh import Placement
from jaxopt_lab.workloads import get as get_workload

Splits = dict[str, tuple[jax.Array, jax.Array]]  # "train" / "val" / "test": (images, labels)


def load_data(config: Config, data: MNIST | None, *, warn: bool = True) -> MNIST:
    """``data``, or the workload's data loaded as ``config.data`` says; loaded files that are
    not the published data set (your own MNIST IDX files) are allowed, with a warning on stderr
    when ``warn``."""
    if data is not None:
        return data
    workload = get_workload(config.workload.name)
    loaded = workload.load(config.data)
    if warn and not loaded.verified:
        digests = ", ".join(f"{name} {digest[:12]}…" for name, digest in loaded.sha256.items())
        print(
            f"warning: training on {loaded.source}, whose files are not the published data of "
            f"workload {workload.name} (sha256 {digests}); summary.json records this",
            file=sys.stderr,
        )
    return loaded


def data_provenance(data: MNIST) -> dict[str, Any]:
    """summary.json's ``data``: where the splits came from and whether their IDX sha256s are
    those of the published MNIST."""
    return {
        "source": data.source,
        "split_seed": data.split_seed,
        "verified": data.verified,
        "sha256": dict(data.sha256),
    }


def device_splits(config: Config, data: MNIST, place: Placement) -> Splits:
    """Samples as rows ``[N, D]`` and int32 labels of each split of ``data`` on the device(s):
    training samples as stored, validation and test preprocessed (the workload's ``inputs``);
    ``data.train_size`` keeps the first training images.

    Raises:
      ValueError: ``data.train_size`` exceeds the training images, or ``train.batch_size``
        exceeds the training set (an epoch would be one batch, mostly padding).
    """
    train = data.train
    if config.data.train_size is not None:
        size = config.data.train_size
        if size > len(train):
            raise ValueError(f"data.train_size={size} exceeds the {len(train)} training images")
        train = Split(train.images[:size], train.labels[:size])
    batch_size, n = config.train.batch_size, len(train)
    if batch_size > n:
        epoch = (
            f"every epoch would be one step on a batch padded with {batch_size - n} empty samples"
            if config.train.last_batch == "mask"
            else "an epoch would have no full batch (train.last_batch=drop) and train nothing"
        )
        fixes = f"set train.batch_size to at most {n} ({n} is full-batch training)"
        if config.data.train_size is not None and batch_size <= len(data.train):
            fixes += f" or data.train_size to at least {batch_size}"
        kept = "" if config.data.train_size is None else f" (data.train_size={n})"
        raise ValueError(
            f"train.batch_size={batch_size} exceeds the {n} training images{kept}: {epoch}; {fixes}"
        )

    inputs = get_workload(config.workload.name).inputs

    def put(split: Split, preprocessed: bool) -> tuple[jax.Array, jax.Array]:
        images = flatten(np.asarray(split.images))
        labels = np.asarray(split.labels, np.int32)
        if preprocessed:
            images = np.asarray(inputs(images), np.float32)
            return place.put_rows(images), place.put_rows(labels)
        return place.put(images), place.put(labels)

    return {"train": put(train, False), "val": put(data.val, True), "test": put(data.test, True)}


def device_runs(
    configs: Mapping[str, Config], place: Placement
) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """The seeds (int32 ``[S]``, shared by every group) and each group's learning rates
    (float32 ``[L_g]``), split as the runs are (else replicated): the values the compiled
    programs take as arguments."""
    first = next(iter(configs.values()))
    seeds = place.put_seeds(np.asarray(first.train.seeds, np.int32))
    rates = tuple(
        place.put_rates(np.asarray(c.optimizer.learning_rates, np.float32))
        for c in configs.values()
    )
    return seeds, rates
