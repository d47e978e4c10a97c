"""Tiny MNIST-shaped data and configs for the engine tests (no real data needed)."""

from __future__ import annotations

import pytest

from jaxopt_lab.config import config_from_dict
from jaxopt_lab.data.splits import MNIST
from tests.synthetic import synthetic_mnist


@pytest.fixture(scope="session")
def tiny_mnist() -> MNIST:
    """300 training images (9·32 + 12: the last batch is partial), 64 val, 64 test."""
    return synthetic_mnist(300, 64)


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
