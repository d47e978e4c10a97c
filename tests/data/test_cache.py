"""The converted cache: round trip, corruption detected and rebuilt, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.data import CacheError, cache_path, digests, load_arrays, read_cache, write_cache
from jaxopt_lab.data import cache as cache_module
from jaxopt_lab.data import package as package_module

from .conftest import package_payload, py2_style_pickle, write_wheel


def _write(path: Path, arrays) -> None:
    write_cache(path, arrays, source="test", sha256=digests(arrays))


def test_round_trip_keeps_arrays_and_manifest(tmp_path: Path, tiny):
    path = tmp_path / "c" / "mnist-v1.npz"
    _write(path, tiny)
    arrays, manifest = read_cache(path)
    for name, array in tiny.by_file().items():
        np.testing.assert_array_equal(arrays.by_file()[name], array)
    assert manifest["source"] == "test" and manifest["sha256"] == digests(tiny)
    assert manifest["matches_published"] is False
    assert [p.name for p in path.parent.iterdir()] == ["mnist-v1.npz"]


def test_cache_location_follows_argument_then_env(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("JAXOPT_LAB_CACHE", str(tmp_path / "env"))
    assert cache_path() == tmp_path / "env" / "mnist-v1.npz"
    assert cache_path(tmp_path / "arg") == tmp_path / "arg" / "mnist-v1.npz"
    monkeypatch.delenv("JAXOPT_LAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_path() == tmp_path / "xdg" / "jaxopt_lab" / "mnist-v1.npz"


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_cache_is_detected(tmp_path: Path, tiny, damage: str):
    path = tmp_path / "mnist-v1.npz"
    _write(path, tiny)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "flip":
        _flip_byte(path, path.stat().st_size // 3)  # inside the training images
    else:
        path.write_bytes(b"not a zip file")
    with pytest.raises(CacheError):
        read_cache(path)


def test_manifest_disagreeing_with_data_is_detected(tmp_path: Path, tiny):
    path = tmp_path / "mnist-v1.npz"
    sha = digests(tiny)
    sha["t10k-labels-idx1-ubyte"] = "0" * 64
    write_cache(path, tiny, source="test", sha256=sha)
    with pytest.raises(CacheError, match="t10k-labels-idx1-ubyte disagrees"):
        read_cache(path)


def test_corrupt_cache_is_rebuilt_from_a_source(tmp_path: Path, tiny_is_published, monkeypatch):
    wheel, wheel_sha, member_sha = write_wheel(
        tmp_path / "w.whl", py2_style_pickle(package_payload(tiny_is_published))
    )
    monkeypatch.setattr(package_module, "WHEEL_SHA256", wheel_sha)
    monkeypatch.setattr(package_module, "PICKLE_SHA256", member_sha)
    cache_dir = tmp_path / "cache"
    first = load_arrays(f"package:{wheel}", cache_dir, quiet=True)
    assert first.verified and first.cache_file == cache_path(cache_dir)
    assert load_arrays(f"package:{wheel}", cache_dir, quiet=True).source.startswith("cache")

    _flip_byte(cache_path(cache_dir), cache_path(cache_dir).stat().st_size // 3)
    rebuilt = load_arrays(f"package:{wheel}", cache_dir, quiet=True)
    assert rebuilt.source.startswith("package:")  # not served from the damaged file
    arrays, _ = read_cache(cache_path(cache_dir))  # and the file is whole again
    np.testing.assert_array_equal(arrays.train_images, tiny_is_published.train_images)


@pytest.mark.parametrize("interrupt", [OSError("disk full"), KeyboardInterrupt()])
def test_interrupted_write_leaves_no_cache_file(tmp_path: Path, tiny, monkeypatch, interrupt):
    def write_half_then_fail(stream, arrays):
        stream.write(b"PK\x03\x04" + b"\0" * 1000)
        raise interrupt

    monkeypatch.setattr(cache_module, "_serialize", write_half_then_fail)
    path = tmp_path / "mnist-v1.npz"
    with pytest.raises(type(interrupt)):
        _write(path, tiny)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_rewrite_keeps_the_previous_cache(tmp_path: Path, tiny, monkeypatch):
    path = tmp_path / "mnist-v1.npz"
    _write(path, tiny)
    before = path.read_bytes()

    def fail(stream, arrays):
        stream.write(b"partial")
        raise OSError("interrupted")

    monkeypatch.setattr(cache_module, "_serialize", fail)
    with pytest.raises(OSError):
        _write(path, tiny)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
