"""``load_mnist1d``: MNIST-1D, generated offline, pinned by digest, split train/val/test.

MNIST-1D (Greydanus 2020, "Scaling down deep learning", arXiv:2011.14439) is a procedurally
generated, one-dimensional analogue of MNIST: each sample is one of ten hand-drawn 12-point
templates (the digits 0-9), padded, scaled, sheared and translated at random, smoothed with
correlated noise, given i.i.d. noise, and resampled to 40 points. Small enough to train on a
CPU in minutes, it still separates linear models (~32 % test accuracy in the paper), MLPs
(~68 %) and CNNs (~94 %).

Generation. The data is made by the ``mnist1d`` package (``mnist1d==0.0.2.post1``, the
``[workloads]`` extra) with ``mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())``:
the published defaults, 5,000 samples, seed 42, ``train_split`` 0.8, length 40. It runs offline
in about 1 s (plus 1 s to import the package). ``mnist1d.data.get_dataset`` is never called:
it downloads the frozen pickle from a code host. The generator seeds NumPy's and Python's
global random state; ``load_mnist1d`` restores both afterwards.

The generated arrays equal the paper's frozen ``mnist1d_data.pkl`` (greydanus/mnist1d):
labels identically, ``x`` and ``x_test`` within 8.9e-16 (the last bits of about 1 value in 3
differ, so a digest of the raw float64 bytes depends on the platform and is not pinned).
Their float32 casts, and their values rounded to 6 decimals, are identical.

Digests. ``PUBLISHED_SHA256`` pins the data: for the labels (``y``, ``y_test``) the sha256 of
their int64 little-endian bytes (exact); for the signals (``x``, ``x_test``) the sha256 of
``np.round(x, 6)`` as float64 little-endian bytes (no value lies within 1.9e-12 of a rounding
boundary, so one-ulp differences do not change it). The same four digests are computed for the
frozen pickle and for fresh generation. They are ``Dataset.sha256``; ``Dataset.verified`` is
True when they equal ``PUBLISHED_SHA256``.

The cache. ``mnist1d-v1.npz`` in the MNIST cache folder (``jaxopt_lab.data.cache
.default_cache_dir()``, or ``cache_dir``) holds the four generated arrays as generated (``x``
float64 ``[4000, 40]``, ``y`` int64 ``[4000]``, ``x_test`` float64 ``[1000, 40]``, ``y_test``
int64 ``[1000]``, 1.6 MB) plus a JSON ``manifest``: format, source, the generator's arguments,
the sha256 of each stored array's exact bytes and the pinned digests. Every read recomputes
both kinds of digest: a truncated, corrupt, modified or unpinned cache raises ``CacheError``
(delete the file, or pass ``refresh=True``) and is never used. Only verified data is written,
atomically (temporary file in the same folder, then ``os.replace``).

The split. The paper trains on the 4,000 training samples and reports test accuracy on the
1,000 test samples; it has no validation split. This module departs from it only by carving a
validation split out of the 4,000 training samples, as ``jaxopt_lab.data.mnist`` does for
MNIST's 60,000: ``perm = argsort(PCG64(split_seed).random_raw(4000))`` (stable; the bit
generator of ``numpy.random.default_rng(split_seed)``, raw draws that NumPy keeps identical
across versions), ``train = perm[:-val_size]`` (3,500 by default), ``val = perm[-val_size:]``
(``VAL_SIZE`` = 500), each in permuted order. ``test`` is the package's 1,000 test samples, in
the generator's order. Samples are float32 ``[N, 40]`` (the float64 values cast once), labels
int32 ``[N]``; the data is already centred and scaled to standard deviation 1 by the
generator, so it needs no further normalisation.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from jaxopt_lab.data.cache import default_cache_dir, write_npz
from jaxopt_lab.data.errors import CacheError, InvalidDataError, SourceUnavailableError
from jaxopt_lab.data.mnist import split_indices
from jaxopt_lab.data.progress import status
from jaxopt_lab.data.splits import MNIST, Dataset, Split

GENERATOR = "mnist1d"
GENERATOR_VERSION = "0.0.2.post1"
REQUIREMENT = f"{GENERATOR}=={GENERATOR_VERSION}"
INSTALL_HINT = "install it with `pip install 'jaxopt_lab[workloads]'` (pins " + REQUIREMENT + ")"
CACHE_FILE = "mnist1d-v1.npz"
FORMAT = "jaxopt_lab/mnist1d/v1"

NUM_TRAIN = 4_000
NUM_TEST = 1_000
LENGTH = 40
NUM_CLASSES = 10
VAL_SIZE = 500
KEYS = ("x", "y", "x_test", "y_test")
DECIMALS = 6  # the signals' digest is taken after np.round(x, DECIMALS)

# The class counts of the 4,000 generated training samples (and so of train + val).
TRAIN_LABEL_COUNTS = (398, 396, 411, 394, 394, 402, 401, 404, 402, 398)

# The data set's digests (see the module docstring), computed from mnist1d 0.0.2.post1's
# make_dataset(get_dataset_args()) with NumPy 2.4 / SciPy 1.17, and identical for the paper's
# frozen mnist1d_data.pkl.
PUBLISHED_SHA256 = {
    "x": "a628c903554582c85cd522460f0ac9376d8f2c1daf90d5ea251968c8de2fc707",
    "y": "d97dc7aecec8ad6b5d8f143ba3e9c4bd7e25c420d7dfc2eb990591cfc0ed3e15",
    "x_test": "40736dec6f794f2e52a879797628fb8f41ae44a628489bf5cd8d19ef39a28d42",
    "y_test": "8de99be3ff9dab15ae0dc072c3d6ced7cf6b33d365888ce4a386fc944489452c",
}

_SHAPES = {
    "x": (NUM_TRAIN, LENGTH),
    "y": (NUM_TRAIN,),
    "x_test": (NUM_TEST, LENGTH),
    "y_test": (NUM_TEST,),
}


def cache_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The MNIST-1D cache file inside ``cache_dir`` (default: the MNIST cache folder)."""
    folder = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    return folder / CACHE_FILE


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def check_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Raise ``InvalidDataError`` unless ``arrays`` has the generator's four arrays and layout:
    finite float64 signals ``[N, 40]`` and int64 labels ``[N]`` in 0..9, 4,000 + 1,000."""
    missing = [key for key in KEYS if key not in arrays]
    if missing:
        raise InvalidDataError(f"MNIST-1D arrays miss {missing}")
    for key in KEYS:
        array, dtype = arrays[key], np.float64 if key.startswith("x") else np.int64
        if array.dtype != dtype or array.shape != _SHAPES[key]:
            raise InvalidDataError(
                f"MNIST-1D {key} must be {np.dtype(dtype)} {_SHAPES[key]}, "
                f"got {array.dtype} {array.shape}"
            )
    for key in ("x", "x_test"):
        if not np.isfinite(arrays[key]).all():
            raise InvalidDataError(f"MNIST-1D {key} holds non-finite values")
    for key in ("y", "y_test"):
        labels = arrays[key]
        if labels.min() < 0 or labels.max() >= NUM_CLASSES:
            raise InvalidDataError(f"MNIST-1D {key} must lie in 0..{NUM_CLASSES - 1}")


def digests(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """The pinned kind of digest of each array: labels exact (int64 little-endian bytes),
    signals after ``np.round(x, 6)`` (float64 little-endian bytes)."""
    out = {}
    for key in KEYS:
        if key.startswith("x"):
            out[key] = _sha256(np.round(arrays[key].astype("<f8"), DECIMALS))
        else:
            out[key] = _sha256(arrays[key].astype("<i8"))
    return out


def _exact_digests(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """sha256 of each stored array's exact bytes: the cache's integrity check."""
    return {key: _sha256(arrays[key]) for key in KEYS}


def _generator_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(GENERATOR)
    except PackageNotFoundError:
        return "unknown"


def generate(*, quiet: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The four arrays from ``mnist1d.data.make_dataset(get_dataset_args())``, and those
    arguments (less the download URL). Offline; NumPy's and Python's global random states are
    restored afterwards.

    Raises ``SourceUnavailableError`` if the ``mnist1d`` package cannot be imported.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:  # also a missing dependency of mnist1d (scipy, matplotlib, …)
        reason = f"{type(error).__name__}: {error}"
        raise SourceUnavailableError(
            f"cannot generate MNIST-1D: the `{GENERATOR}` package is not available ({reason}); "
            f"{INSTALL_HINT}.",
            [(f"{GENERATOR}-generator", reason)],
        ) from error
    args = get_dataset_args()
    status("generating MNIST-1D with the mnist1d package (a few seconds)", quiet=quiet)
    # make_dataset seeds the legacy global generators (np.random.seed, random.seed): put them back.
    numpy_state, python_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    start = time.perf_counter()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)
    status(f"generated MNIST-1D in {time.perf_counter() - start:.1f} s", quiet=quiet)
    arrays = {
        key: np.ascontiguousarray(data[key], dtype="<f8" if key.startswith("x") else "<i8")
        for key in KEYS
    }
    check_arrays(arrays)
    settings = {key: value for key, value in vars(args).items() if key != "url"}
    return arrays, json.loads(json.dumps(settings))  # JSON-safe (lists, not tuples)


def write_cache(
    path: str | os.PathLike[str],
    arrays: dict[str, np.ndarray],
    *,
    source: str,
    settings: dict[str, Any],
) -> None:
    """Write ``arrays`` and their manifest to ``path`` atomically (``write_npz``)."""
    path = Path(path)
    manifest = {
        "format": FORMAT,
        "source": source,
        "generator_args": settings,
        "sha256_exact": _exact_digests(arrays),
        "sha256": digests(arrays),
    }
    write_npz(path, {key: arrays[key] for key in KEYS}, manifest)


def read_cache(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and manifest stored at ``path``, after checking both kinds of digest.

    Raises ``FileNotFoundError`` if there is no cache, ``CacheError`` if it cannot be trusted
    (its message ends with the fix: delete the file or pass ``refresh=True``).
    """
    path = Path(path)
    fix = f"Delete {path} or call load_mnist1d(refresh=True) to regenerate it."

    def bad(problem: str) -> CacheError:
        return CacheError(f"MNIST-1D cache {path}: {problem}; it was not used. {fix}")

    if not path.is_file():
        raise FileNotFoundError(f"no MNIST-1D cache at {path}")
    try:
        with np.load(path, allow_pickle=False) as stored:
            missing = sorted({*KEYS, "manifest"} - set(stored.files))
            if missing:
                raise bad(f"missing entries {missing}")
            manifest = json.loads(str(stored["manifest"]))
            arrays = {key: stored[key] for key in KEYS}
    except CacheError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise bad(f"unreadable ({type(error).__name__}: {error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise bad(f"not a {FORMAT} cache")
    try:
        check_arrays(arrays)
    except InvalidDataError as error:
        raise bad(str(error)) from error
    exact = _exact_digests(arrays)
    recorded = manifest.get("sha256_exact") or {}
    changed = [key for key in KEYS if exact[key] != recorded.get(key)]
    if changed:
        raise bad(
            f"sha256 of {', '.join(changed)} disagrees with its manifest "
            "(the file is corrupt or was modified)"
        )
    pinned = digests(arrays)
    unpinned = [key for key in KEYS if pinned[key] != PUBLISHED_SHA256[key]]
    if unpinned or manifest.get("sha256") != pinned:
        names = ", ".join(unpinned) or "the manifest's digests"
        raise bad(f"{names} not those of the published MNIST-1D (PUBLISHED_SHA256)")
    return arrays, manifest


def split_mnist1d(
    arrays: dict[str, np.ndarray],
    split_seed: int = 0,
    *,
    val_size: int = VAL_SIZE,
    source: str = "arrays",
    sha256: dict[str, str] | None = None,
    verified: bool = False,
) -> Dataset:
    """The train/val/test ``Dataset`` (float32 ``[N, 40]``, int32 labels) from the four arrays."""
    train_index, val_index = split_indices(NUM_TRAIN, split_seed, val_size)
    x, y = arrays["x"].astype(np.float32), arrays["y"].astype(np.int32)
    return MNIST(
        train=Split(x[train_index], y[train_index]),
        val=Split(x[val_index], y[val_index]),
        test=Split(arrays["x_test"].astype(np.float32), arrays["y_test"].astype(np.int32)),
        split_seed=int(split_seed),
        source=source,
        sha256=dict(sha256 or {}),
        verified=verified,
    )


def load_arrays(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    quiet: bool = False,
    refresh: bool = False,
) -> tuple[dict[str, np.ndarray], str, dict[str, str], bool]:
    """``(arrays, source, sha256, verified)``: the cache, else generated (and then cached).

    ``refresh=True`` skips reading the cache and rewrites it. A cache that fails a check raises
    ``CacheError`` (never regenerated silently). Generated data whose digests are not
    ``PUBLISHED_SHA256`` (another generator version) is returned unverified and not cached.
    """
    path = cache_path(cache_dir)
    if not refresh:
        try:
            arrays, manifest = read_cache(path)
        except FileNotFoundError:
            pass
        else:
            return arrays, f"cache ({manifest.get('source', 'unknown')})", manifest["sha256"], True
    arrays, settings = generate(quiet=quiet)
    source = f"{GENERATOR}-generator:{_generator_version()}"
    sha256 = digests(arrays)
    if sha256 != PUBLISHED_SHA256:
        status(
            f"{source} generated data whose digests are not the published MNIST-1D's "
            f"(expected {REQUIREMENT}); using it unverified and not caching it",
            quiet=quiet,
        )
        return arrays, f"{source} (not the published MNIST-1D)", sha256, False
    try:
        write_cache(path, arrays, source=source, settings=settings)
    except OSError as error:  # a read-only home must not stop training: the data is in memory
        status(f"could not write the MNIST-1D cache {path}: {error}", quiet=quiet)
    else:
        status(f"cached verified MNIST-1D at {path}", quiet=quiet)
    return arrays, source, sha256, True


def load_mnist1d(
    cache_dir: str | os.PathLike[str] | None = None,
    split_seed: int = 0,
    *,
    val_size: int = VAL_SIZE,
    quiet: bool = False,
    refresh: bool = False,
) -> Dataset:
    """MNIST-1D: ``.train`` 3,500, ``.val`` 500 (``val_size``), ``.test`` 1,000 samples.

    Samples are float32 ``[N, 40]``, labels int32 ``[N]``; ``split_seed`` picks the validation
    samples among the paper's 4,000 training samples (see the module docstring). The result
    records the source, the pinned digests (``sha256``) and ``verified``.

    Raises:
      ValueError: ``split_seed`` < 0 or not an integer, ``val_size`` outside 1..3999.
      CacheError: the cache exists but fails a check (delete it or pass ``refresh=True``).
      SourceUnavailableError: generation is needed and the ``mnist1d`` package is missing.
    """
    split_indices(NUM_TRAIN, split_seed, val_size)  # check the arguments before generating
    arrays, source, sha256, verified = load_arrays(cache_dir, quiet=quiet, refresh=refresh)
    return split_mnist1d(
        arrays, split_seed, val_size=val_size, source=source, sha256=sha256, verified=verified
    )
