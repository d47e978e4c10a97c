"""TensorBoard event files: the hand-written encoding, read back by TensorBoard's own reader, on a
real training run, across a resume that retrains epochs, and not in published results."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab.engine import outputs, train, train_many
from jaxopt_lab.engine import tensorboard as tb
from jaxopt_lab.studies.store import Store
from tests.studies.fake_runs import fake_study

from .conftest import tiny_config

try:
    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
except ImportError:  # CI installs it through the [test] extra
    event_file_loader = None

needs_reader = pytest.mark.skipif(
    event_file_loader is None,
    reason="tensorboard is not installed (pip install 'jaxopt_lab[tensorboard]')",
)
RUN = "adam/lr=0.001/seed=0"


def _records(epochs, changes=None, run=RUN):
    """Records of ``run`` for ``epochs``, 1.5 s each; ``changes``: epoch → values to set."""
    out = []
    for epoch in epochs:
        record = {
            "run": run,
            "epoch": epoch,
            "train_loss": 1 / epoch,
            "val_loss": 1.5 / epoch,
            "val_accuracy": 0.5 + epoch / 100,
            "seconds": 1.5,
            "diverged": False,
        }
        record.update((changes or {}).get(epoch, {}))
        out.append(record)
    return out


def _metrics(out_dir):
    return [json.loads(line) for line in (out_dir / outputs.METRICS).read_text().splitlines()]


def _run_dir(out_dir, run):
    return Path(out_dir, outputs.TENSORBOARD, *tb.run_path(run))


def _events(run_dir):
    """Every event of every event file in ``run_dir``, in file order, as TensorBoard parses
    them (its loader stops at a record that fails its CRC)."""
    files = sorted(run_dir.glob(f"{tb.FILE_PREFIX}*"))
    return [e for f in files for e in event_file_loader.LegacyEventFileLoader(str(f)).Load()]


def _scalar_steps(run_dir):
    """(step, {tag: value}) of the events with a summary, over all files."""
    return [
        (e.step, {v.tag: v.simple_value for v in e.summary.value})
        for e in _events(run_dir)
        if e.HasField("summary")
    ]


def _expected(records):
    """What the events of ``records`` must hold: float32 metrics, tagged, nulls left out."""
    return [
        (r["epoch"], {tag: np.float32(v) for tag, v in tb.scalars(r).items()})
        for r in records
        if tb.scalars(r)
    ]


def test_crc32c_matches_known_vectors_and_frames_a_record():
    assert tb.crc32c(b"123456789") == 0xE3069283
    assert tb.crc32c(b"") == 0
    assert tb.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4
    assert tb.crc32c(bytes(range(32))) == 0x46DD794E
    crc = 0xE3069283
    masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32
    assert tb.masked_crc32c(b"123456789") == masked
    framed = tb.tfrecord(b"123456789")
    assert framed[:8] == struct.pack("<Q", 9)
    assert framed[8:12] == struct.pack("<I", tb.masked_crc32c(framed[:8]))
    assert framed[12:21] == b"123456789"
    assert framed[21:] == struct.pack("<I", masked)


@needs_reader
def test_the_masked_crc_equals_tensorboards():
    for data in (b"", b"123456789", bytes(range(256)) * 3):
        assert tb.masked_crc32c(data) == masked_crc32c(data)


@needs_reader
def test_the_writers_events_parse_with_tensorboards_reader(tmp_path):
    records = _records([1, 2, 3], {3: {"val_loss": None, "test_loss": 0.25}})
    data = tb.event_file(records, start=1000.0)
    (tmp_path / tb.file_name(1000, "host")).write_bytes(data)
    version, start, *epochs = _events(tmp_path)
    assert version.file_version == tb.FILE_VERSION and version.wall_time == 1000.0
    assert start.session_log.status == start.session_log.START
    assert [(e.step, e.wall_time) for e in epochs] == [(1, 1001.5), (2, 1003.0), (3, 1004.5)]
    assert _scalar_steps(tmp_path) == _expected(records)
    assert "val/loss" not in _scalar_steps(tmp_path)[2][1]  # null: not written
    assert _scalar_steps(tmp_path)[2][1]["test/loss"] == 0.25
    assert tb.start_time(data) == 1000.0
    assert tb.start_time(data[:20]) is None and tb.start_time(b"x" * 40) is None


def test_run_paths_are_safe_directory_names():
    assert tb.run_path("adam/lr=0.001/seed=0") == ("adam", "lr=0.001", "seed=0")
    assert tb.run_path("my opt: v2/lr=1e-05/seed=3") == ("my_opt__v2", "lr=1e-05", "seed=3")
    assert tb.run_path("../lr=1/seed=0")[0] == "_"
    assert tb.tag("val_accuracy") == "val/accuracy" and tb.tag("seconds") is None


@pytest.fixture(scope="module")
def trained(tiny_mnist, tmp_path_factory):
    """Two optimizers × two learning rates × two seeds, 2 epochs, test metrics each epoch; one
    SGD learning rate diverges at once."""
    out = tmp_path_factory.mktemp("tensorboard")
    train_section = {"seeds": [0, 1], "eval_test_every_epoch": True}
    configs = {
        "adam": tiny_config(optimizer={"learning_rate": [1e-3, 3e-3]}, train=train_section),
        "sgd": tiny_config(
            optimizer={"name": "sgd", "learning_rate": [0.05, 1e8]}, train=train_section
        ),
    }
    train_many(configs, out, quiet=True, data=tiny_mnist)
    return out


@needs_reader
def test_every_run_is_a_tensorboard_run_named_by_optimizer_learning_rate_and_seed(trained):
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(trained))
    multiplexer.Reload()
    runs = {r["run"] for r in _metrics(trained)}
    assert len(runs) == 8
    assert set(multiplexer.Runs()) == {f"{outputs.TENSORBOARD}/{run}" for run in runs}


@needs_reader
def test_the_curves_equal_metrics_jsonl_as_float32_at_step_epoch(trained):
    records = _metrics(trained)
    for run in {r["run"] for r in records}:
        history = sorted((r for r in records if r["run"] == run), key=lambda r: r["epoch"])
        run_dir = _run_dir(trained, run)
        assert _scalar_steps(run_dir) == _expected(history), run
        accumulator = EventAccumulator(str(run_dir)).Reload()
        if run.startswith("sgd/lr=1e+08/"):
            assert accumulator.Tags()["scalars"] == []  # diverged in epoch 1: no values
            continue
        tags = {"train/loss", "val/loss", "val/accuracy", "test/loss", "test/accuracy"}
        assert set(accumulator.Tags()["scalars"]) == tags
        curve = accumulator.Scalars("val/accuracy")
        assert [s.step for s in curve] == [1, 2]
        assert [s.value for s in curve] == [np.float32(r["val_accuracy"]) for r in history]


def test_an_interrupted_and_resumed_run_has_each_epoch_once(tiny_mnist, tmp_path):
    config = tiny_config(train={"epochs": 4, "checkpoint_every": 2, "seeds": [0, 1]})

    def crash(progress):
        if progress.epoch == 3:  # metrics hold epoch 3, the checkpoint epoch 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, quiet=True, data=tiny_mnist, on_epoch=crash)
    run_dir = _run_dir(tmp_path, "adam/lr=0.001/seed=0")
    (before,) = run_dir.iterdir()
    train(config, tmp_path, resume=True, quiet=True, data=tiny_mnist)
    files = sorted(run_dir.iterdir())
    # the epoch-3 events of the interrupted call are not the retrained epoch 3's (its seconds
    # differ), so a new file holds the history and the old one is emptied
    assert [f.stat().st_size == 0 for f in files] == [True, False] and files[0] == before
    if event_file_loader is None:
        return
    records = _metrics(tmp_path)
    for run in ("adam/lr=0.001/seed=0", "adam/lr=0.001/seed=1"):
        history = [r for r in records if r["run"] == run]
        assert [r["epoch"] for r in history] == [1, 2, 3, 4]
        assert _scalar_steps(_run_dir(tmp_path, run)) == _expected(history)
        curve = EventAccumulator(str(_run_dir(tmp_path, run))).Reload().Scalars("train/loss")
        assert [s.step for s in curve] == [1, 2, 3, 4]


@needs_reader
def test_stale_epochs_are_replaced_and_a_later_epoch_is_appended(tmp_path):
    outputs.write_tensorboard(tmp_path, _records([1, 2, 3]))
    run_dir = _run_dir(tmp_path, RUN)
    (first,) = run_dir.iterdir()
    retrained = _records([1, 2, 3], {3: {"train_loss": 7.0}})  # e.g. on other devices
    outputs.write_tensorboard(tmp_path, retrained)
    assert _scalar_steps(run_dir) == _expected(retrained)
    assert first.stat().st_size == 0
    outputs.write_tensorboard(tmp_path, [*retrained, *_records([4])])
    assert len(list(run_dir.iterdir())) == 2  # appended, no third file
    assert [step for step, _ in _scalar_steps(run_dir)] == [1, 2, 3, 4]
    curve = EventAccumulator(str(run_dir)).Reload().Scalars("train/loss")
    assert [(s.step, s.value) for s in curve][2] == (3, 7.0)


@needs_reader
def test_a_torn_append_is_completed_in_place(tmp_path):
    outputs.write_tensorboard(tmp_path, _records([1, 2]))
    (path,) = _run_dir(tmp_path, RUN).iterdir()
    path.write_bytes(path.read_bytes()[:-7])  # the last record cut short
    assert len(_scalar_steps(path.parent)) == 1
    outputs.write_tensorboard(tmp_path, _records([1, 2, 3]))
    assert list(path.parent.iterdir()) == [path]
    assert _scalar_steps(path.parent) == _expected(_records([1, 2, 3]))


def test_the_same_records_leave_the_files_as_they_are(tmp_path):
    outputs.write_tensorboard(tmp_path, _records([1, 2]))
    (path,) = _run_dir(tmp_path, RUN).iterdir()
    data = path.read_bytes()
    outputs.write_tensorboard(tmp_path, _records([2, 1]))  # order of the records is no matter
    assert list(path.parent.iterdir()) == [path] and path.read_bytes() == data


def test_a_failed_write_warns_once_and_training_goes_on(tiny_mnist, tmp_path, capsys):
    def block(progress):  # a file where the directory goes: every later write fails
        if progress.epoch == 1:
            shutil.rmtree(tmp_path / outputs.TENSORBOARD)
            (tmp_path / outputs.TENSORBOARD).write_text("")

    summary = train(
        tiny_config(train={"epochs": 3}), tmp_path, quiet=True, data=tiny_mnist, on_epoch=block
    )
    assert summary["epochs_completed"] == 3
    assert len(_metrics(tmp_path)) == 3
    err = capsys.readouterr().err
    assert err.count("warning: TensorBoard files of") == 1, err
    assert f"warning: TensorBoard files of {tmp_path} not written" in err


def test_overwrite_removes_the_old_runs(tiny_mnist, tmp_path):
    train(tiny_config(train={"epochs": 1}), tmp_path, quiet=True, data=tiny_mnist)
    config = tiny_config(optimizer={"learning_rate": 3e-3}, train={"epochs": 1})
    train(config, tmp_path, overwrite=True, quiet=True, data=tiny_mnist)
    assert [p.name for p in (tmp_path / outputs.TENSORBOARD / "adam").iterdir()] == ["lr=0.003"]


def test_published_records_hold_no_event_files(tmp_path):
    fake_study(tmp_path / "src", [{"name": "Adam", "optimizer": "adam", "level": 0.9}])
    row = tmp_path / "src" / "adam"
    outputs.write_tensorboard(row, outputs.read_metrics(row))
    assert list((row / outputs.TENSORBOARD).rglob(f"{tb.FILE_PREFIX}*"))
    Store(tmp_path / "src").copy_records(Store(tmp_path / "dst"), compress=True, only=None)
    copied = [p.relative_to(tmp_path / "dst").as_posix() for p in (tmp_path / "dst").rglob("*")]
    assert "adam/metrics.jsonl.gz" in copied
    assert not [p for p in copied if outputs.TENSORBOARD in p or "tfevents" in p], copied
