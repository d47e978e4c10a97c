"""MNIST through tensorflow-datasets' ``data_source`` (random access, NumPy, no TensorFlow).

Reading data that is already prepared (ArrayRecord files under tfds' ``data_dir``) needs only
tensorflow-datasets. Preparing it (the download) needs the internet *and* TensorFlow, because
tfds' MNIST builder reads the downloaded files through ``tf.io.gfile``; offline, tfds retries
for minutes before it gives up, so a download is attempted only after a quick reachability check.

tfds stores examples sorted by ``md5(split_name + str(index))`` (its shuffling), not in the
original files' order. ``file_order`` undoes that, so tfds yields the same canonical arrays as
every other source; the caller's sha256 check against the published files confirms it.
tensorflow_datasets is imported inside the functions: importing jaxopt_lab stays fast.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import socket
import threading
from urllib.parse import urlparse

import numpy as np

from jaxopt_lab.data.canonical import MNISTArrays
from jaxopt_lab.data.errors import SourceError
from jaxopt_lab.data.progress import status, track

DATASET = "mnist"
# Where tfds' MNIST builder downloads from (its URL attribute), if it cannot be read.
DEFAULT_HOST = "storage.googleapis.com"
REACHABILITY_TIMEOUT_S = 2.0


def download_host() -> str:
    """The host tfds' MNIST builder downloads from."""
    try:
        import tensorflow_datasets as tfds

        return urlparse(tfds.builder_cls(DATASET).URL).hostname or DEFAULT_HOST
    except Exception:  # any failure here only means we use the known default
        return DEFAULT_HOST


def reachable(host: str, *, port: int = 443, timeout_s: float = REACHABILITY_TIMEOUT_S) -> str:
    """``""`` if a TCP connection to ``host`` opens within ``timeout_s``, else why not."""
    outcome: list[str] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                outcome.append("")
        except OSError as error:
            outcome.append(f"{host}:{port} unreachable ({error})")

    # The socket timeout does not bound the DNS lookup, which can hang far longer offline; a
    # daemon thread does, whatever the resolver does.
    thread = threading.Thread(target=connect, name="jaxopt_lab-reachable", daemon=True)
    thread.start()
    thread.join(timeout_s)
    return outcome[0] if outcome else f"{host}:{port} did not answer within {timeout_s:g} s"


def tensorflow_available() -> bool:
    """Whether TensorFlow is installed (needed by tfds to prepare MNIST, not to read it)."""
    return importlib.util.find_spec("tensorflow") is not None


def file_order(size: int, split: str) -> np.ndarray:
    """``order[j]`` = index in the original file of the ``j``-th example tfds stores.

    tfds' writer keys MNIST's ``i``-th example by ``i`` and stores examples sorted by the
    128-bit ``md5(split + str(i))`` (``tfds.core.hashing.Hasher`` salted with the split name).
    """
    salted = hashlib.md5(split.encode())
    keys = []
    for index in range(size):
        digest = salted.copy()
        digest.update(str(index).encode())
        keys.append(int(digest.hexdigest(), 16))
    return np.array(sorted(range(size), key=keys.__getitem__), dtype=np.int64)


def _read_split(source: object, split: str, *, quiet: bool) -> tuple[np.ndarray, np.ndarray]:
    size = len(source)  # type: ignore[arg-type]
    images = np.empty((size, 28, 28), np.uint8)
    labels = np.empty((size,), np.uint8)
    # One example at a time: batched __getitems__ is not available everywhere (tfds' mock).
    for position in track(range(size), total=size, desc=f"tfds {split}", quiet=quiet):
        example = source[position]  # type: ignore[index]
        images[position] = np.asarray(example["image"]).reshape(28, 28)
        labels[position] = example["label"]
    original = np.empty_like(images), np.empty_like(labels)
    order = file_order(size, split)
    original[0][order] = images
    original[1][order] = labels
    return original


def load_tfds(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = False,
    quiet: bool = False,
) -> MNISTArrays:
    """MNIST from tfds' ``data_source``, in the original files' order.

    ``data_dir`` defaults to tfds' own (``TFDS_DATA_DIR`` or ``~/tensorflow_datasets``). With
    ``download=False`` only already prepared data is read; with ``download=True`` tfds may
    download and prepare it (internet and TensorFlow needed).
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise SourceError(
            f"tensorflow-datasets is not importable ({error}); install the extra: "
            "pip install 'jaxopt_lab[data]'"
        ) from error
    data_dir = None if data_dir is None else os.fspath(data_dir)
    splits = {}
    # Probing for prepared data makes tfds log warnings about the folders it looked in; the
    # SourceError below says the same once.
    absl_logger = logging.getLogger("absl")
    absl_level = absl_logger.level
    if not download:
        absl_logger.setLevel(logging.ERROR)
    try:
        for split in ("train", "test"):
            source = tfds.data_source(DATASET, split=split, data_dir=data_dir, download=download)
            if split == "train":
                status(f"reading MNIST from tensorflow-datasets ({len(source):,})", quiet=quiet)
            splits[split] = _read_split(source, split, quiet=quiet)
    except Exception as error:  # tfds raises many types; each means "no usable data here"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        where = data_dir or "tfds' default data_dir"
        action = "download/prepare" if download else "read prepared data"
        raise SourceError(
            f"tfds could not {action} under {where}: {type(error).__name__}: {first_line}"
        ) from error
    finally:
        absl_logger.setLevel(absl_level)
    return MNISTArrays(*splits["train"], *splits["test"])
