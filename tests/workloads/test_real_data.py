"""The workloads on their real data (MNIST from the cache, MNIST-1D generated): the splits each
reference uses, and its preprocessing on them."""

import numpy as np
import pytest

from jaxopt_lab import workloads
from jaxopt_lab.config import DataConfig
from jaxopt_lab.data import load_arrays


@pytest.mark.real_data
def test_algoperf_splits_the_training_file_in_order_and_normalises_raw_pixels():
    data = workloads.get("algoperf_mnist").load(DataConfig())
    arrays = load_arrays(quiet=True).arrays
    np.testing.assert_array_equal(data.train.images, arrays.train_images[:50_000])
    np.testing.assert_array_equal(data.val.labels, arrays.train_labels[50_000:])
    np.testing.assert_array_equal(data.test.images, arrays.test_images)
    assert data.verified and "in-order" in data.source
    inputs = workloads.get("algoperf_mnist").inputs(data.val.images[:100].reshape(100, -1))
    # AlgoPerf's (p − 0.1307)/0.3081 on raw pixels: a white pixel is 827, not 2.8.
    assert inputs.max() == pytest.approx((255 - 0.1307) / 0.3081)


@pytest.mark.real_data
@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_cnn", "mnist_logreg"])
def test_the_mnist_workloads_share_the_notebooks_split(name):
    data = workloads.get(name).load(DataConfig())
    reference = workloads.get("mnist_mlp").load(DataConfig())
    assert (len(data.train), len(data.val), len(data.test)) == (50_000, 10_000, 10_000)
    np.testing.assert_array_equal(data.val.labels, reference.val.labels)
    rows = data.train.images[:10].reshape(10, -1)
    low, high = {"mnist_mlp": (-1, 1), "mnist_cnn": (0, 1), "mnist_logreg": (0, 1)}[name]
    x = workloads.get(name).inputs(rows)
    assert x.min() == low and x.max() == high


def test_mnist1d_workloads_train_on_the_generated_data():
    data = workloads.get("mnist1d_cnn").load(DataConfig())
    assert data.verified and data.train.images.shape == (3_500, 40)
    assert len(data.test) == 1_000
    assert workloads.get("mnist1d_mlp").train_size == len(data.train)
