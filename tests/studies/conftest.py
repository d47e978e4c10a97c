"""Tiny MNIST-shaped data for the study tests (no real data, a few hundred images)."""

from __future__ import annotations

import numpy as np
import pytest

from jaxopt_lab.data.splits import MNIST, Split

# Overrides that shrink any engine study to seconds on the tiny data.
TINY = ["train.epochs=2", "train.seeds=[0,1]", "model.hidden_sizes=[16]"]


def synthetic_split(n: int, seed: int) -> Split:
    """``n`` images: a fixed random template per class plus noise (learnable in an epoch)."""
    templates = np.random.default_rng(99).integers(0, 256, (10, 28, 28))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = np.clip(templates[labels] + rng.normal(0, 60, (n, 28, 28)), 0, 255)
    return Split(images.astype(np.uint8), labels.astype(np.int64))


@pytest.fixture(scope="session")
def tiny_mnist() -> MNIST:
    """320 training images (10 batches of 32), 96 validation, 96 test."""
    return MNIST(
        train=synthetic_split(320, 1),
        val=synthetic_split(96, 2),
        test=synthetic_split(96, 3),
        split_seed=0,
        source="synthetic",
    )
