"""What a run leaves when it is stopped from outside: a full disk, SIGTERM, a killed write, and
an output directory of the other script (``scripts/train.py`` vs ``scripts/compare.py``)."""

from __future__ import annotations

import errno
import os
import runpy
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.engine import outputs, train
from jaxopt_lab.engine.checkpoint import FILENAME, save_checkpoint

from .conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]
TRAIN = runpy.run_path(str(ROOT / "scripts" / "train.py"))["main"]
COMPARE = runpy.run_path(str(ROOT / "scripts" / "compare.py"))["main"]
ADAM = str(ROOT / "configs" / "adam.yaml")
SEED_TABLE = str(ROOT / "configs" / "studies" / "seed_table.yaml")
# Each script, the library call it makes (replaced in the tests) and its hint to continue.
SCRIPTS = {
    "train": (TRAIN, "train", ADAM, "continue with the same command and --resume"),
    "compare": (COMPARE, "run_study", SEED_TABLE, "run the same command again to continue"),
}


def _full_disk_on(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``os.fsync`` fails as on a full disk when it syncs the file ``name`` is written to."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1].startswith(f".{name}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_names_the_file_and_keeps_its_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    outputs.atomic_write_text(path, "old\n")
    _full_disk_on("metrics.jsonl", monkeypatch)
    with pytest.raises(OSError) as error:
        outputs.atomic_write_text(path, "new\n")
    assert (error.value.errno, error.value.filename) == (errno.ENOSPC, str(path))
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]  # no .tmp left


def test_a_full_disk_while_checkpointing_is_continued_by_resume(tmp_path, tiny_mnist, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _full_disk_on(FILENAME, patch)
        with pytest.raises(OSError) as error:
            train(tiny_config(), out, quiet=True, data=tiny_mnist)
    assert error.value.filename == str(out / "checkpoints" / FILENAME)
    assert list((out / "checkpoints").iterdir()) == []  # no .tmp left
    summary = train(tiny_config(), out, resume=True, quiet=True, data=tiny_mnist)
    assert summary["epochs_completed"] == 2


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_full_disk_error_names_the_file_and_how_to_continue(
    script, tmp_path, capsys, monkeypatch
):
    main, work, config, hint = SCRIPTS[script]
    out = tmp_path / "out"
    target = out / "checkpoints" / FILENAME

    def full(*args, **kwargs):
        target.parent.mkdir(parents=True)
        _full_disk_on(FILENAME, monkeypatch)
        outputs.atomic_write_bytes(target, b"state")

    monkeypatch.setitem(main.__globals__, work, full)
    assert main(["--config", config, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {target}: No space left on device; free some space, then: ")
    assert hint in err and err.count("\n") == 1


@pytest.mark.parametrize("script", SCRIPTS)
def test_sigterm_stops_like_ctrl_c_with_status_143(script, tmp_path, capsys, monkeypatch):
    main, work, config, hint = SCRIPTS[script]

    def unhandled(signum, frame):  # what the test sees if the script leaves SIGTERM alone
        raise RuntimeError("SIGTERM reached the default handler")

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the handler interrupts this
        raise AssertionError("SIGTERM did not stop the work")

    monkeypatch.setitem(main.__globals__, work, killed)
    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        assert main(["--config", config, "--out", str(tmp_path / "o"), "--quiet"]) == 143
        assert signal.getsignal(signal.SIGTERM) is unhandled  # restored on the way out
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    assert err.startswith("\ninterrupted; ") and hint in err


def test_a_checkpoint_write_that_was_killed_leaves_no_tmp_after_the_next(tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    stale = directory / f".{FILENAME}.k1ll3d.tmp"  # as atomic_write_bytes names it
    stale.write_bytes(b"half a checkpoint")
    other = directory / "notes.tmp"  # not a checkpoint's: left alone
    other.write_text("")
    save_checkpoint(directory, 1, {"w": np.zeros(3, np.float32)}, config={}, calls=[])
    assert sorted(p.name for p in directory.iterdir()) == ["notes.tmp", FILENAME]


def test_compare_refuses_a_train_run_directory(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    (out / outputs.CONFIG).write_text("optimizer: {name: adam}\n")
    (out / outputs.METRICS).write_text("")
    monkeypatch.setitem(COMPARE.__globals__, "run_study", _never)
    assert COMPARE(["--config", SEED_TABLE, "--out", str(out), "--quiet", "--overwrite"]) == 2
    assert capsys.readouterr().err == (
        f"error: {out} holds a jaxopt-lab train run (config.yaml, metrics.jsonl), not a study: a "
        "study written there would mix with it, even with --overwrite. Choose another --out\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [outputs.CONFIG, outputs.METRICS]


@pytest.mark.parametrize("mode", [[], ["--overwrite"], ["--resume"]])
def test_train_refuses_a_study_directory(mode, tmp_path, capsys, monkeypatch):
    out = tmp_path / "study"
    out.mkdir()
    (out / "study.yaml").write_text("study: seed_table\n")
    monkeypatch.setitem(TRAIN.__globals__, "train", _never)
    assert TRAIN(["--config", ADAM, "--out", str(out), "--quiet", *mode]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out} holds a study (study.yaml, written by jaxopt-lab compare)")
    assert err.rstrip().endswith("Choose another --out")
    assert sorted(p.name for p in out.iterdir()) == ["study.yaml"]


def _never(*args, **kwargs):
    raise AssertionError("the script wrote into a directory of the other script")
