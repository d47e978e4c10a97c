"""The IDX parser on files written by hand: raw and gzipped, truncated, wrong magic."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.data import IDXFormatError, idx_sha256, read_idx, write_idx
from jaxopt_lab.data.idx import find_mnist_files, load_idx_dir

from .conftest import idx_bytes, write_idx_dir


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (7, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_decodes_raw_and_gzipped_files(tmp_path: Path, images: np.ndarray, gz: bool):
    data = idx_bytes(images, magic=2051)
    path = tmp_path / "images"
    path.write_bytes(gzip.compress(data) if gz else data)
    out = read_idx(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_read_idx_decodes_labels_and_big_endian_types(tmp_path: Path):
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    (tmp_path / "labels").write_bytes(idx_bytes(labels, magic=2049))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)
    ints = np.array([[1, -2], [300000, 7]], ">i4")
    (tmp_path / "ints").write_bytes(bytes([0, 0, 0x0C, 2]) + b"\0\0\0\2\0\0\0\2" + ints.tobytes())
    out = read_idx(tmp_path / "ints")
    np.testing.assert_array_equal(out, ints.astype(np.int32))
    assert out.dtype == np.int32


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_file_is_a_clear_error(tmp_path: Path, images: np.ndarray, gz: bool):
    data = idx_bytes(images)
    cut = data[: len(data) - 100]
    path = tmp_path / "cut"
    # A gzip stream cut short, or a whole gzip of a file cut short: both must be refused.
    path.write_bytes(gzip.compress(data)[:-40] if gz else cut)
    with pytest.raises(IDXFormatError, match="truncated") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_header_size_mismatch_reports_expected_and_found_bytes(tmp_path: Path, images: np.ndarray):
    path = tmp_path / "short"
    path.write_bytes(idx_bytes(images)[:-1])
    with pytest.raises(IDXFormatError, match=r"5,488 data bytes.*holds 5,487"):
        read_idx(path)


def test_trailing_bytes_are_refused(tmp_path: Path, images: np.ndarray):
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(images) + b"\0")
    with pytest.raises(IDXFormatError, match="trailing bytes"):
        read_idx(path)


@pytest.mark.parametrize("magic", [0x1F8C0000, 0x00000803 | 0x01000000, 0x0000FF03, 0x00000800])
def test_wrong_magic_number_is_a_clear_error(tmp_path: Path, images: np.ndarray, magic: int):
    path = tmp_path / "bad"
    path.write_bytes(idx_bytes(images, magic=magic))
    with pytest.raises(IDXFormatError, match="not an IDX file"):
        read_idx(path)


def test_write_idx_round_trips_and_matches_idx_sha256(tmp_path: Path, images: np.ndarray):
    write_idx(tmp_path / "a", images)
    write_idx(tmp_path / "a.gz", images)
    assert (tmp_path / "a").read_bytes() == idx_bytes(images)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), images)
    assert idx_sha256(images) == hashlib.sha256(idx_bytes(images)).hexdigest()
    with pytest.raises(ValueError, match="uint8"):
        write_idx(tmp_path / "f", images.astype(np.float32))


def test_torchvision_layout_and_dotted_names_are_found(tmp_path: Path, tiny):
    write_idx_dir(tmp_path / "root" / "MNIST" / "raw", tiny, gz=True)
    found = find_mnist_files(tmp_path / "root")
    assert all(path.parent.name == "raw" and path.suffix == ".gz" for path in found.values())
    dotted = tmp_path / "dotted"
    dotted.mkdir()
    for name, array in tiny.by_file().items():
        (dotted / name.replace("-idx", ".idx")).write_bytes(idx_bytes(array))
    loaded = load_idx_dir(dotted, quiet=True)
    np.testing.assert_array_equal(loaded.test_labels, tiny.test_labels)


def test_missing_file_names_what_was_expected(tmp_path: Path, tiny):
    folder = write_idx_dir(tmp_path / "idx", tiny, gz=False)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(IDXFormatError, match="t10k-labels-idx1-ubyte"):
        load_idx_dir(folder, quiet=True)
    with pytest.raises(IDXFormatError, match="not a directory"):
        load_idx_dir(tmp_path / "nowhere", quiet=True)


def test_swapped_files_are_refused(tmp_path: Path, tiny):
    folder = write_idx_dir(tmp_path / "idx", tiny, gz=False)
    images, labels = folder / "t10k-images-idx3-ubyte", folder / "t10k-labels-idx1-ubyte"
    data = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    labels.write_bytes(data)
    with pytest.raises(IDXFormatError, match=r"uint8 \[N, 28, 28\].*swapped"):
        load_idx_dir(folder, quiet=True)


@pytest.mark.parametrize("ndim", [1, 2, 4])
def test_a_corrupt_ndim_byte_is_named(tmp_path: Path, tiny, ndim: int):
    folder = write_idx_dir(tmp_path / "idx", tiny, gz=False)
    images = folder / "t10k-images-idx3-ubyte"
    data = bytearray(images.read_bytes())
    data[3] = ndim
    images.write_bytes(bytes(data))
    with pytest.raises(
        IDXFormatError, match=rf"header says {ndim} dimensions.*MNIST images have 3"
    ):
        load_idx_dir(folder, quiet=True)
