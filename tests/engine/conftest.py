"""Tiny MNIST-shaped data and configs for the engine tests (no real data needed)."""

from __future__ import annotations

import numpy as np
import pytest

from jaxopt_lab.config import config_from_dict
from jaxopt_lab.data.splits import MNIST, Split


def synthetic_split(n: int, seed: int) -> Split:
    """``n`` 28×28 uint8 images: one fixed random template per class plus noise, so a small
    MLP learns them within an epoch."""
    templates = np.random.default_rng(1234).integers(0, 256, (10, 28, 28))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    noise = rng.normal(0, 60, (n, 28, 28))
    images = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
    return Split(images, labels.astype(np.int64))


@pytest.fixture(scope="session")
def tiny_mnist() -> MNIST:
    """300 training images (9·32 + 12: the last batch is partial), 64 val, 64 test."""
    return MNIST(
        train=synthetic_split(300, 1),
        val=synthetic_split(64, 2),
        test=synthetic_split(64, 3),
        split_seed=0,
        source="synthetic",
    )


def tiny_config(**sections):
    """A config for the tiny data: adam, 2 epochs, one seed; ``sections`` update each section."""
    raw = {
        "model": {"hidden_sizes": [32]},
        "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "train": {"epochs": 2, "batch_size": 32, "seeds": [0]},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_from_dict(raw, source="tiny_config")
