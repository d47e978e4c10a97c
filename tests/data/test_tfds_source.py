"""The tfds source under ``tfds.testing.mock_data`` (offline, no TensorFlow), and its order."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core import shuffle

from jaxopt_lab.data import SourceError, SourceUnavailableError, canonical, digests, load_arrays
from jaxopt_lab.data.tfds_source import file_order, load_tfds, reachable

N = 24


@pytest.mark.parametrize("split", ["train", "test"])
def test_file_order_inverts_tfds_own_shuffler(tmp_path: Path, split: str):
    shuffler = shuffle.Shuffler(dirpath=tmp_path, hash_salt=split)
    for index in range(300):
        shuffler.add(index, str(index).encode())
    stored = [int(data) for _, data in shuffler]
    assert stored != sorted(stored)  # tfds really does reorder
    np.testing.assert_array_equal(file_order(300, split), stored)


def test_mock_data_source_is_read_and_restored_to_file_order():
    with tfds.testing.mock_data(num_examples=N):
        arrays = load_tfds(quiet=True)
        stored = tfds.data_source("mnist", split="train")
        order = file_order(N, "train")
        for position in (0, 5, N - 1):
            example = stored[position]
            np.testing.assert_array_equal(
                arrays.train_images[order[position]], example["image"][..., 0]
            )
            assert arrays.train_labels[order[position]] == example["label"]
    assert arrays.train_images.shape == (N, 28, 28) and arrays.test_images.shape == (N, 28, 28)
    assert arrays.train_images.dtype == np.uint8 and arrays.test_labels.dtype == np.uint8


def test_tfds_data_must_match_the_published_digests(tmp_path: Path, monkeypatch):
    with tfds.testing.mock_data(num_examples=N):
        with pytest.raises(SourceUnavailableError, match="not those of the published"):
            load_arrays("tfds", tmp_path, quiet=True)
        mock_digests = digests(load_tfds(quiet=True))
        monkeypatch.setattr(canonical, "PUBLISHED_SHA256", mock_digests)
        loaded = load_arrays("tfds", tmp_path, quiet=True)
    assert loaded.verified and loaded.source == "tfds (prepared)"
    assert loaded.cache_file == tmp_path / "mnist-v1.npz"
    again = load_arrays("tfds", tmp_path, quiet=True)  # outside the mock: from the cache
    assert again.source == "cache (tfds (prepared))" and again.sha256 == mock_digests


def test_missing_prepared_data_fails_fast_without_downloading(tmp_path: Path):
    start = time.perf_counter()
    with pytest.raises(SourceError, match="could not read prepared data"):
        load_tfds(tmp_path / "empty", download=False, quiet=True)
    assert time.perf_counter() - start < 10


def test_reachability_check_answers_quickly_both_ways():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert reachable("127.0.0.1", port=server.getsockname()[1]) == ""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    start = time.perf_counter()
    assert "unreachable" in reachable("127.0.0.1", port=port, timeout_s=0.5)
    assert time.perf_counter() - start < 2


def test_reachability_check_is_bounded_even_when_the_lookup_hangs(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(5)  # then fail as a lookup would, so the left-over thread ends cleanly
        raise OSError("name resolution timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    assert "did not answer within 0.2 s" in reachable("example.invalid", timeout_s=0.2)
    assert time.perf_counter() - start < 1
