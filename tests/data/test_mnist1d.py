"""MNIST-1D: generated offline once per module (about 2 s), then read from a tmp_path cache."""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.data import mnist1d
from jaxopt_lab.data.errors import CacheError, DataError, SourceUnavailableError
from jaxopt_lab.data.mnist1d import (
    CACHE_FILE,
    PUBLISHED_SHA256,
    TRAIN_LABEL_COUNTS,
    VAL_SIZE,
    load_mnist1d,
    read_cache,
)
from jaxopt_lab.data.splits import MNIST

pytest.importorskip("mnist1d", reason="needs the [workloads] extra (mnist1d)")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mnist1d-cache")


@pytest.fixture(scope="module")
def generated(cache_dir: Path) -> MNIST:
    """The first load: generated, then written to ``cache_dir``."""
    return load_mnist1d(cache_dir, quiet=True)


@pytest.fixture(scope="module")
def stored(generated: MNIST, cache_dir: Path) -> dict[str, np.ndarray]:
    """The four arrays as cached (float64 / int64, as generated)."""
    arrays, _ = read_cache(cache_dir / CACHE_FILE)
    return arrays


def _rows_sorted(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort(images.T[::-1])
    return images[order], labels[order]


def _block_mnist1d(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import mnist1d`` (and ``mnist1d.data``) fail as if the package were missing."""
    for name in [name for name in sys.modules if name.split(".")[0] == "mnist1d"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)


def test_shapes_dtypes_and_sizes(generated: MNIST, cache_dir: Path) -> None:
    for part, size in ((generated.train, 4_000 - VAL_SIZE), (generated.val, VAL_SIZE)):
        assert part.images.shape == (size, 40) and part.images.dtype == np.float32
        assert part.labels.shape == (size,) and part.labels.dtype == np.int32
    assert generated.test.images.shape == (1_000, 40)
    assert generated.test.images.dtype == np.float32
    assert generated.test.labels.dtype == np.int32
    assert generated.split_seed == 0
    assert generated.verified is True
    assert generated.sha256 == PUBLISHED_SHA256
    assert generated.source.startswith("mnist1d-generator:0.0.2.post1")
    assert [p.name for p in cache_dir.iterdir()] == [CACHE_FILE]  # no temporary file left


def test_generated_arrays_and_class_counts(stored: dict[str, np.ndarray]) -> None:
    assert stored["x"].dtype == np.float64 and stored["x"].shape == (4_000, 40)
    assert stored["y"].dtype == np.int64 and stored["y_test"].shape == (1_000,)
    assert np.bincount(stored["y"], minlength=10).tolist() == list(TRAIN_LABEL_COUNTS)
    assert TRAIN_LABEL_COUNTS == (398, 396, 411, 394, 394, 402, 401, 404, 402, 398)
    assert mnist1d.digests(stored) == PUBLISHED_SHA256
    # The generator centres the data and scales it to standard deviation 1 (train and test).
    both = np.concatenate([stored["x"], stored["x_test"]])
    assert abs(both.mean()) < 1e-12 and abs(both.std() - 1) < 1e-12


def test_second_load_reads_the_cache_and_is_identical(generated: MNIST, cache_dir: Path) -> None:
    again = load_mnist1d(cache_dir, quiet=True)
    assert again.source == "cache (mnist1d-generator:0.0.2.post1)"
    assert again.verified and again.sha256 == generated.sha256
    for name in ("train", "val", "test"):
        first, second = getattr(generated, name), getattr(again, name)
        np.testing.assert_array_equal(first.images, second.images)
        np.testing.assert_array_equal(first.labels, second.labels)


def test_split_seed_changes_val_but_train_and_val_are_the_4000(
    generated: MNIST, cache_dir: Path, stored: dict[str, np.ndarray]
) -> None:
    other = load_mnist1d(cache_dir, split_seed=1, quiet=True)
    assert other.split_seed == 1
    assert not np.array_equal(other.val.images, generated.val.images)
    expected = _rows_sorted(stored["x"].astype(np.float32), stored["y"].astype(np.int32))
    for data in (generated, other):
        images = np.concatenate([data.train.images, data.val.images])
        labels = np.concatenate([data.train.labels, data.val.labels])
        found = _rows_sorted(images, labels)
        np.testing.assert_array_equal(found[0], expected[0])
        np.testing.assert_array_equal(found[1], expected[1])
    np.testing.assert_array_equal(other.test.images, generated.test.images)
    np.testing.assert_array_equal(generated.test.images, stored["x_test"].astype(np.float32))


def test_val_size_and_argument_checks(cache_dir: Path, generated: MNIST, tmp_path: Path) -> None:
    data = load_mnist1d(cache_dir, val_size=1_000, quiet=True)
    assert (len(data.train), len(data.val), len(data.test)) == (3_000, 1_000, 1_000)
    empty = tmp_path / "never-written"
    for kwargs in ({"val_size": 0}, {"val_size": 4_000}, {"split_seed": -1}):
        with pytest.raises(ValueError):
            load_mnist1d(empty, quiet=True, **kwargs)
    assert not empty.exists()  # the arguments are checked before any generation


def _tampered_copy(cache_dir: Path, target: Path, *, update_manifest: bool) -> Path:
    """A copy of the cache whose ``x[0, 0]`` moved by 0.5, manifest kept or rewritten to match."""
    target.mkdir()
    with np.load(cache_dir / CACHE_FILE) as stored:
        entries = {name: stored[name] for name in stored.files}
    entries["x"] = entries["x"].copy()
    entries["x"][0, 0] += 0.5
    if update_manifest:
        manifest = json.loads(str(entries["manifest"]))
        manifest["sha256_exact"] = mnist1d._exact_digests(entries)
        manifest["sha256"] = mnist1d.digests(entries)
        entries["manifest"] = np.array(json.dumps(manifest))
    np.savez(target / CACHE_FILE, **entries)
    return target


def test_a_modified_cache_raises_and_names_the_fix(
    generated: MNIST, cache_dir: Path, tmp_path: Path
) -> None:
    modified = _tampered_copy(cache_dir, tmp_path / "modified", update_manifest=False)
    with pytest.raises(CacheError, match=r"sha256 of x disagrees with its manifest") as info:
        load_mnist1d(modified, quiet=True)
    message = str(info.value)
    assert message.startswith(f"MNIST-1D cache {modified / CACHE_FILE}: sha256 of x")
    assert "it was not used" in message and "refresh=True" in message and "Delete" in message

    consistent = _tampered_copy(cache_dir, tmp_path / "consistent", update_manifest=True)
    with pytest.raises(CacheError, match=r"x not those of the published MNIST-1D"):
        load_mnist1d(consistent, quiet=True)

    truncated = tmp_path / "truncated"
    truncated.mkdir()
    data = (cache_dir / CACHE_FILE).read_bytes()
    (truncated / CACHE_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheError, match=r"unreadable.*refresh=True"):
        load_mnist1d(truncated, quiet=True)


def test_refresh_regenerates_identically_and_keeps_the_global_rng(
    generated: MNIST, cache_dir: Path, tmp_path: Path
) -> None:
    folder = _tampered_copy(cache_dir, tmp_path / "bad", update_manifest=False)
    # The generator seeds NumPy's legacy global generator and Python's: both must come back.
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    expected = (np.random.random(), random.random())  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    fresh = load_mnist1d(folder, quiet=True, refresh=True)
    assert (np.random.random(), random.random()) == expected  # noqa: NPY002
    assert fresh.verified and fresh.source == "mnist1d-generator:0.0.2.post1"
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(fresh, name).images, getattr(generated, name).images)
        np.testing.assert_array_equal(getattr(fresh, name).labels, getattr(generated, name).labels)
    assert (folder / CACHE_FILE).read_bytes() == (cache_dir / CACHE_FILE).read_bytes()


def test_missing_package_names_the_extra(
    generated: MNIST, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _block_mnist1d(monkeypatch)
    with pytest.raises(SourceUnavailableError) as info:
        load_mnist1d(tmp_path / "empty", quiet=True)
    assert "pip install 'jaxopt_lab[workloads]'" in str(info.value)
    assert str(info.value).startswith("cannot generate MNIST-1D: the `mnist1d` package")
    assert info.value.attempts and info.value.attempts[0][0] == "mnist1d-generator"
    assert isinstance(info.value, DataError)
    # A verified cache needs no generator.
    assert load_mnist1d(cache_dir, quiet=True).verified


def test_unpinned_generation_is_unverified_and_not_cached(
    generated: MNIST, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist1d, "PUBLISHED_SHA256", {**PUBLISHED_SHA256, "x": "0" * 64})
    data = load_mnist1d(tmp_path / "other", quiet=True)
    assert data.verified is False
    assert data.source.endswith("(not the published MNIST-1D)")
    assert not (tmp_path / "other" / CACHE_FILE).exists()
    np.testing.assert_array_equal(data.train.images, generated.train.images)


def test_cache_copied_elsewhere_still_loads(
    generated: MNIST, cache_dir: Path, tmp_path: Path
) -> None:
    shutil.copy(cache_dir / CACHE_FILE, tmp_path / CACHE_FILE)
    assert load_mnist1d(tmp_path, quiet=True).verified
