"""MNIST for jaxopt_lab: sources, the verified cache, and the notebook's 50k/10k/10k split.

>>> from jaxopt_lab.data import load_mnist, normalize, flatten
>>> mnist = load_mnist()              # cache, tfds, or the package copy; see docs/data.md
>>> x = flatten(normalize(mnist.train.images))   # float32 [50000, 784] in [-1, 1]
"""

from jaxopt_lab.data.cache import cache_path, default_cache_dir, read_cache, write_cache
from jaxopt_lab.data.canonical import PUBLISHED_SHA256, MNISTArrays, digests, idx_sha256
from jaxopt_lab.data.errors import (
    CacheError,
    ChecksumError,
    DataError,
    IDXFormatError,
    InvalidDataError,
    SourceError,
    SourceUnavailableError,
    UnsafePickleError,
)
from jaxopt_lab.data.idx import load_idx_dir, read_idx, write_idx
from jaxopt_lab.data.mnist import (
    VAL_SIZE,
    Loaded,
    describe,
    label_counts,
    load_arrays,
    load_mnist,
    split_indices,
    split_mnist,
)
from jaxopt_lab.data.splits import MNIST, Split, flatten, normalize

__all__ = [
    "MNIST",
    "PUBLISHED_SHA256",
    "VAL_SIZE",
    "CacheError",
    "ChecksumError",
    "DataError",
    "IDXFormatError",
    "InvalidDataError",
    "Loaded",
    "MNISTArrays",
    "SourceError",
    "SourceUnavailableError",
    "Split",
    "UnsafePickleError",
    "cache_path",
    "default_cache_dir",
    "describe",
    "digests",
    "flatten",
    "idx_sha256",
    "label_counts",
    "load_arrays",
    "load_idx_dir",
    "load_mnist",
    "normalize",
    "read_cache",
    "read_idx",
    "split_indices",
    "split_mnist",
    "write_cache",
    "write_idx",
]
