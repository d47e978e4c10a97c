"""Tiny MNIST-shaped data shared by the engine and study tests (no real data needed)."""

from __future__ import annotations

import numpy as np

from jaxopt_lab.data.splits import MNIST, Split


def synthetic_split(n: int, seed: int, template_seed: int = 1234) -> Split:
    """``n`` 28×28 uint8 images: one fixed random template per class plus noise, so a small
    MLP learns them within an epoch."""
    templates = np.random.default_rng(template_seed).integers(0, 256, (10, 28, 28))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    noise = rng.normal(0, 60, (n, 28, 28))
    images = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
    return Split(images, labels.astype(np.int64))


def synthetic_mnist(n_train: int, n_eval: int, template_seed: int = 1234) -> MNIST:
    """A train split of ``n_train`` images, validation and test splits of ``n_eval`` each."""
    return MNIST(
        train=synthetic_split(n_train, 1, template_seed),
        val=synthetic_split(n_eval, 2, template_seed),
        test=synthetic_split(n_eval, 3, template_seed),
        split_seed=0,
        source="synthetic",
    )
