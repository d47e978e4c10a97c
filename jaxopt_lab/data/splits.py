"""The data containers and the notebook's preprocessing.

The contract other code relies on: ``MNIST.train``, ``MNIST.val`` and ``MNIST.test`` are
``Split`` objects whose ``images`` are ``[N, ...]`` samples and ``labels`` integer ``[N]``. For
MNIST the samples are uint8 ``[N, 28, 28]`` pixels; a workload's other data sets (MNIST-1D's
float32 signals ``[N, 40]``, the noisy quadratic's float32 points) use the same containers
(``jaxopt_lab.workloads``), ``Dataset`` being the general name.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import numpy as np

ArrayT = TypeVar("ArrayT")  # a NumPy or a JAX array: normalize returns the same kind


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: samples ``[N, ...]`` (uint8 pixels, or float32) and integer labels ``[N]``."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim < 2 or self.images.dtype not in (np.uint8, np.float32):
            raise ValueError(
                "Split.images must be uint8 or float32 [N, ...] samples, got "
                f"{self.images.dtype} {self.images.shape}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"Split.labels must have shape ({self.images.shape[0]},), got {self.labels.shape}"
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclasses.dataclass(frozen=True)
class MNIST:
    """Three splits (for MNIST the notebook's), and where they came from.

    ``sha256`` holds the digests of the files or arrays the splits were cut from (for MNIST the
    IDX sha256 of the four original files; empty when unknown); ``verified`` is True when they
    are those of the published data set.
    """

    train: Split
    val: Split
    test: Split
    split_seed: int
    source: str
    sha256: dict[str, str] = dataclasses.field(default_factory=dict)
    verified: bool = False


def normalize(images: ArrayT) -> ArrayT:
    """The notebook's ``ToTensor`` then ``Normalize((0.5,), (0.5,))``: x = (p/255 − 0.5)/0.5.

    One function for NumPy arrays (the engine normalises the evaluation splits once, on the
    host) and JAX arrays (training batches, gathered as uint8 and normalised inside the
    compiled step), float32 throughout. The two kinds agree to 1.2e-7 (one rounding of p/255), not
    bitwise: XLA turns the division by 255 into a multiplication by its reciprocal.
    """
    return (images.astype(np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)


Dataset = MNIST  # the general name of the container, for the workloads' other data sets


def flatten(images: np.ndarray) -> np.ndarray:
    """``[N, H, W] -> [N, H*W]`` (any ``[N, ...]`` to rows), as the notebook's ``nn.Flatten``."""
    return np.reshape(images, (images.shape[0], -1))
