"""IDX files (the format MNIST is published in): parse, write, and read a directory of them.

An IDX file is ``00 00 <type> <ndim>``, one big-endian uint32 per dimension, then the values
in C order, big-endian. MNIST uses type ``0x08`` (unsigned byte): images ``[N, 28, 28]``
(magic 2051) and labels ``[N]`` (magic 2049). Files may be gzipped; gzip is recognised by its
own magic bytes, not by the file name.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from jaxopt_lab.data.canonical import (
    FILE_NAMES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    MNISTArrays,
    idx_header,
)
from jaxopt_lab.data.errors import DataError, IDXFormatError
from jaxopt_lab.data.progress import status

_GZIP_MAGIC = b"\x1f\x8b"
_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


# MNIST's images are [N, 28, 28], its labels [N].
MNIST_NDIM = {TRAIN_IMAGES: 3, TEST_IMAGES: 3, TRAIN_LABELS: 1, TEST_LABELS: 1}
_WHAT = {3: "MNIST images", 1: "MNIST labels"}


def parse_idx(data: bytes, *, name: str = "<bytes>", ndim: int | None = None) -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file into an array of the stored type.

    ``ndim``, when given, is the number of dimensions the file must have; a header that says
    otherwise has a corrupt fourth byte, which would otherwise read as a wrong shape.
    """
    if len(data) < 4:
        raise IDXFormatError(f"{name}: {len(data)} bytes is too short for an IDX header")
    zero0, zero1, type_code, dims = data[:4]
    if zero0 != 0 or zero1 != 0 or type_code not in _DTYPES or dims == 0:
        magic = struct.unpack(">I", data[:4])[0]
        raise IDXFormatError(
            f"{name}: not an IDX file (magic number {magic} = 0x{magic:08x}; an IDX file starts "
            "with two zero bytes, a type code such as 0x08 and the number of dimensions, e.g. "
            "2051 for images, 2049 for labels). Check that this is the file you meant."
        )
    header_size = 4 + 4 * dims
    if len(data) < header_size:
        raise IDXFormatError(f"{name}: truncated IDX header ({len(data)} of {header_size} bytes)")
    shape = struct.unpack(f">{dims}I", data[4:header_size])
    dtype = _DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_size
    if found != expected and ndim is not None and dims != ndim:
        # A whole file of another kind (two files swapped) is left to the caller to name.
        raise IDXFormatError(
            f"{name}: the header says {dims} dimensions but {_WHAT[ndim]} have {ndim}: its "
            "fourth byte is corrupt. Download or copy the file again."
        )
    if found != expected:
        what = "truncated" if found < expected else "has trailing bytes"
        raise IDXFormatError(
            f"{name}: {what}: header says shape {shape} ({expected:,} data bytes) but the file "
            f"holds {found:,}. Download or copy the file again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str], ndim: int | None = None) -> np.ndarray:
    """Read an IDX file, gzipped or not (``ndim`` as in ``parse_idx``)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise IDXFormatError(f"{path}: cannot read ({error})") from error
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise IDXFormatError(
                f"{path}: damaged or truncated gzip ({error}). Download or copy the file again."
            ) from error
    return parse_idx(data, name=str(path), ndim=ndim)


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file, gzipped when the name ends in ``.gz``."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx writes uint8 arrays only, got {array.dtype}")
    data = idx_header(array) + array.tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        # mtime=0 makes the gzip bytes a function of the data alone.
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)


def _candidates(name: str) -> list[str]:
    # The original site's names, then the dotted variant some mirrors use
    # ("train-images.idx3-ubyte"); each raw before gzipped.
    names = [name, name.replace("-idx", ".idx")]
    return names + [n + ".gz" for n in names]


def find_mnist_files(directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Locate the four MNIST IDX files in ``directory`` (or its ``MNIST/raw`` / ``raw`` folder)."""
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise IDXFormatError(f"idx source: {root} is not a directory")
    searched = [root, root / "MNIST" / "raw", root / "raw"]
    for folder in searched:
        found = {}
        for name in FILE_NAMES:
            for candidate in _candidates(name):
                if (folder / candidate).is_file():
                    found[name] = folder / candidate
                    break
        if len(found) == len(FILE_NAMES):
            return found
    raise IDXFormatError(
        f"idx source: did not find the four MNIST files in {root} (also looked in MNIST/raw and "
        f"raw). Expected {', '.join(FILE_NAMES)}, each optionally ending in .gz."
    )


def load_idx_dir(directory: str | os.PathLike[str], *, quiet: bool = False) -> MNISTArrays:
    """Read the four MNIST IDX files of ``directory`` into the canonical arrays."""
    files = find_mnist_files(directory)
    status(f"reading IDX files from {files[FILE_NAMES[0]].parent}", quiet=quiet)
    arrays = {name: read_idx(path, ndim=MNIST_NDIM[name]) for name, path in files.items()}
    for name, array in arrays.items():
        if array.dtype != np.uint8:
            raise IDXFormatError(
                f"{files[name]}: MNIST files hold unsigned bytes, got {array.dtype}"
            )
    try:
        return MNISTArrays(*(arrays[name] for name in FILE_NAMES))
    except DataError as error:
        folder = files[FILE_NAMES[0]].parent
        raise IDXFormatError(f"IDX files in {folder}: {error} (are two files swapped?)") from error
