"""MNIST as its four original files: 60,000 training and 10,000 test images with labels.

Every source (cache, tensorflow-datasets, the package copy, a user's IDX files) delivers this
same canonical form, in the original files' order. A digest of each array is the sha256 of the
uncompressed IDX file it would be written as, so it can be compared with the published sha256
of the original MNIST files whatever copy the data came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct

import numpy as np

from jaxopt_lab.data.errors import InvalidDataError

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILE_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# sha256 of the original, uncompressed MNIST files (checked against a byte-for-byte rebuild of
# the package copy; see docs/data.md).
PUBLISHED_SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# IDX: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then one
# big-endian uint32 per dimension.
IDX_UBYTE = 0x08


@dataclasses.dataclass(frozen=True)
class MNISTArrays:
    """The four original MNIST arrays: uint8 images ``[N, 28, 28]``, uint8 labels ``[N]``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def __post_init__(self) -> None:
        for images, labels, part in (
            (self.train_images, self.train_labels, "train"),
            (self.test_images, self.test_labels, "test"),
        ):
            if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
                raise InvalidDataError(
                    f"{part} images must be uint8 [N, 28, 28], got {images.dtype} {images.shape}"
                )
            if labels.dtype != np.uint8 or labels.shape != (images.shape[0],):
                raise InvalidDataError(
                    f"{part} labels must be uint8 [{images.shape[0]}], "
                    f"got {labels.dtype} {labels.shape}"
                )
            if labels.size and int(labels.max()) > 9:
                raise InvalidDataError(f"{part} labels must lie in 0..9, found {int(labels.max())}")

    def by_file(self) -> dict[str, np.ndarray]:
        """The arrays keyed by the original file names."""
        return {
            TRAIN_IMAGES: self.train_images,
            TRAIN_LABELS: self.train_labels,
            TEST_IMAGES: self.test_images,
            TEST_LABELS: self.test_labels,
        }


def idx_header(array: np.ndarray) -> bytes:
    """The IDX header of a uint8 array: ``00 00 08 ndim`` then each dimension as big-endian u32."""
    return struct.pack(f">BBBB{array.ndim}I", 0, 0, IDX_UBYTE, array.ndim, *array.shape)


def idx_sha256(array: np.ndarray) -> str:
    """sha256 of the uncompressed IDX file holding the uint8 ``array``, without writing it."""
    digest = hashlib.sha256(idx_header(array))
    digest.update(memoryview(np.ascontiguousarray(array, dtype=np.uint8)).cast("B"))
    return digest.hexdigest()


def digests(arrays: MNISTArrays) -> dict[str, str]:
    """The IDX sha256 of each of the four arrays, keyed by file name."""
    return {name: idx_sha256(array) for name, array in arrays.by_file().items()}


def matches_published(sha256: dict[str, str]) -> bool:
    """Whether the four digests are those of the original MNIST files."""
    return sha256 == PUBLISHED_SHA256
