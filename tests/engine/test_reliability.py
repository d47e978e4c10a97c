"""What the engine refuses so that no result is lost or silently wrong: damaged checkpoints,
config/checkpoint/metrics that disagree, a second writer, provenance written before its checks.
Each test reproduces a failure seen before the engine checked it."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from jaxopt_lab.engine import train
from jaxopt_lab.engine.checkpoint import CheckpointDamagedError
from jaxopt_lab.engine.lock import LOCK_FILE, OutputLock, OutputLockedError
from jaxopt_lab.engine.outputs import DamagedOutputError
from jaxopt_lab.engine.resume import ResumeMismatchError

from .conftest import tiny_config

CHECKPOINT = os.path.join("checkpoints", "state.msgpack")


def _lines(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def _without_seconds(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture()
def one_epoch(tiny_mnist, tmp_path):
    """A two-epoch run interrupted after epoch 1 (its checkpoint and metrics hold epoch 1)."""
    train(tiny_config(train={"epochs": 1}), tmp_path, quiet=True, data=tiny_mnist)
    return tmp_path


def test_flipped_bits_in_a_checkpoint_are_refused_naming_the_file(one_epoch, tiny_mnist):
    path = one_epoch / CHECKPOINT
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointDamagedError, match=r"state\.msgpack is damaged: the sha256"):
        train(tiny_config(), one_epoch, resume=True, quiet=True, data=tiny_mnist)
    with pytest.raises(CheckpointDamagedError, match="--overwrite"):
        train(tiny_config(), one_epoch, resume=True, quiet=True, data=tiny_mnist)


def test_a_truncated_checkpoint_is_refused(one_epoch, tiny_mnist):
    path = one_epoch / CHECKPOINT
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointDamagedError, match="not a jaxopt_lab checkpoint"):
        train(tiny_config(), one_epoch, resume=True, quiet=True, data=tiny_mnist)


@pytest.mark.parametrize("damage", ["delete", "empty"])
def test_without_config_yaml_the_checkpoint_still_names_a_changed_learning_rate(
    one_epoch, tiny_mnist, damage
):
    config_file = one_epoch / "config.yaml"
    config_file.unlink() if damage == "delete" else config_file.write_text("")
    other = tiny_config(optimizer={"learning_rate": 0.05})
    with pytest.raises(
        ResumeMismatchError, match=r"optimizer\.learning_rate: was 0\.001, now 0\.05"
    ):
        train(other, one_epoch, resume=True, quiet=True, data=tiny_mnist)
    assert [r["epoch"] for r in _lines(one_epoch)] == [1]


@pytest.mark.parametrize("damage", ["empty", "drop_first"])
def test_metrics_missing_epochs_of_the_checkpoint_are_refused(one_epoch, tiny_mnist, damage):
    metrics = one_epoch / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text("" if damage == "empty" else "".join(lines[1:]))
    with pytest.raises(
        ResumeMismatchError, match=r"lacks records of them \(adam/lr=0.001/seed=0: "
    ):
        train(tiny_config(), one_epoch, resume=True, quiet=True, data=tiny_mnist)


def test_a_refused_resume_leaves_config_yaml_as_it_was(tiny_mnist, tmp_path):
    train(tiny_config(), tmp_path, quiet=True, data=tiny_mnist)
    before = (tmp_path / "config.yaml").read_text()
    with pytest.raises(ResumeMismatchError, match="already at epoch 2"):
        train(tiny_config(train={"epochs": 1}), tmp_path, resume=True, data=tiny_mnist)
    assert (tmp_path / "config.yaml").read_text() == before


def test_a_run_that_failed_before_its_first_epoch_needs_no_overwrite(tiny_mnist, tmp_path):
    with pytest.raises(ValueError, match="exceeds the 300 training images"):
        train(tiny_config(data={"train_size": 10_000}), tmp_path, quiet=True, data=tiny_mnist)
    assert not (tmp_path / "config.yaml").exists()  # nothing claims a run that never ran
    # A run killed during its first epoch leaves only its config.yaml: no results to protect.
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"left": "behind"}))
    summary = train(tiny_config(train={"epochs": 1}), tmp_path, quiet=True, data=tiny_mnist)
    assert summary["epochs_completed"] == 1
    assert "left" not in yaml.safe_load((tmp_path / "config.yaml").read_text())


def test_wall_seconds_add_up_over_resumed_calls(tiny_mnist, tmp_path):
    first = train(tiny_config(train={"epochs": 1}), tmp_path, quiet=True, data=tiny_mnist)
    second = train(tiny_config(), tmp_path, resume=True, quiet=True, data=tiny_mnist)
    assert [c["epochs"] for c in second["calls"]] == [[1, 1], [2, 2]]
    assert second["calls"][0]["wall_seconds"] <= first["wall_seconds"]
    assert second["wall_seconds"] == pytest.approx(sum(c["wall_seconds"] for c in second["calls"]))
    assert second["wall_seconds"] > second["calls"][1]["wall_seconds"]


def test_summary_records_the_data_and_whether_it_is_verified(tiny_mnist, tmp_path):
    summary = train(tiny_config(train={"epochs": 1}), tmp_path, quiet=True, data=tiny_mnist)
    assert summary["data"]["verified"] is False
    assert summary["data"]["source"] == tiny_mnist.source


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    with OutputLock(tmp_path):
        holder = json.loads((tmp_path / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid()
        with pytest.raises(OutputLockedError, match=rf"PID {os.getpid()} .*another --out"):
            OutputLock(tmp_path).__enter__()
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capfd):
    script = textwrap.dedent(
        f"""
        import os
        from jaxopt_lab.engine.lock import OutputLock
        OutputLock({str(tmp_path)!r}).__enter__()
        os._exit(0)  # dies holding the lock: the file stays, the flock goes
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    assert (tmp_path / LOCK_FILE).exists()
    with OutputLock(tmp_path):
        pass
    assert "no longer running" in capfd.readouterr().err


def test_a_concurrent_train_on_the_same_directory_is_refused(tiny_mnist, tmp_path):
    with OutputLock(tmp_path), pytest.raises(OutputLockedError):
        train(tiny_config(), tmp_path, overwrite=True, quiet=True, data=tiny_mnist)


def test_a_torn_metrics_line_is_named_by_file_and_line_on_resume(one_epoch, tiny_mnist):
    metrics = one_epoch / "metrics.jsonl"
    metrics.write_text(metrics.read_text()[:-20])
    with pytest.raises(DamagedOutputError, match=rf"{metrics}:1 is not JSON .*--overwrite"):
        train(tiny_config(), one_epoch, resume=True, quiet=True, data=tiny_mnist)


def test_a_saved_config_that_is_not_yaml_is_named(one_epoch, tiny_mnist):
    (one_epoch / "config.yaml").write_text("model: [unclosed\n")
    with pytest.raises(DamagedOutputError, match=r"config\.yaml is not valid YAML"):
        train(tiny_config(), one_epoch, resume=True, quiet=True, data=tiny_mnist)


def test_idx_files_that_are_not_the_published_mnist_train_with_a_warning(tmp_path, capsys):
    from jaxopt_lab.engine.placement import data_provenance, load_data
    from tests.data.conftest import make_arrays, write_idx_dir

    folder = write_idx_dir(tmp_path / "idx", make_arrays(), gz=False)
    config = tiny_config(data={"source": f"idx:{folder}", "cache_dir": str(tmp_path / "c")})
    mnist = load_data(config, None)
    err = capsys.readouterr().err
    assert f"warning: training on idx:{folder}" in err and "not the published MNIST" in err
    recorded = data_provenance(mnist)
    assert recorded["verified"] is False and recorded["source"].startswith(f"idx:{folder}")
    assert set(recorded["sha256"]) == {
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    }


def _edit_first_record(out_dir, key, value):
    metrics = out_dir / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    record = json.loads(lines[0])
    record[key] = value
    lines[0] = json.dumps(record) + "\n"
    metrics.write_text("".join(lines))


def test_an_edited_metric_is_refused_on_resume_naming_the_line(one_epoch, tiny_mnist):
    """Editing a training metric and resuming carried the edit into summary.json's ``best``."""
    summary_before = (one_epoch / "summary.json").read_text()
    _edit_first_record(one_epoch, "val_accuracy", 0.9964)
    metrics = one_epoch / "metrics.jsonl"
    with pytest.raises(
        ResumeMismatchError,
        match=rf"{metrics}:1 \(run adam/lr=0.001/seed=0, epoch 1\) differs from what was "
        r"written, by the digests .*state\.msgpack \(epoch 1\) holds.*--overwrite",
    ):
        train(tiny_config(), one_epoch, resume=True, quiet=True, data=tiny_mnist)
    assert (one_epoch / "summary.json").read_text() == summary_before


def test_whitespace_in_the_metrics_is_not_an_edit(one_epoch, tiny_mnist):
    metrics = one_epoch / "metrics.jsonl"
    metrics.write_text(metrics.read_text().replace(", ", ",  "))
    summary = train(tiny_config(), one_epoch, resume=True, quiet=True, data=tiny_mnist)
    assert summary["epochs_completed"] == 2


def test_summary_json_seals_itself_and_the_metrics(tiny_mnist, tmp_path):
    from jaxopt_lab.engine.outputs import EditedOutputError, read_sealed_metrics, read_summary

    train(tiny_config(), tmp_path, quiet=True, data=tiny_mnist)
    summary = read_summary(tmp_path)
    assert len(read_sealed_metrics(tmp_path, summary)) == 2
    path = tmp_path / "summary.json"
    text = path.read_text()
    edited = json.loads(text)
    edited["runs"][0]["test_accuracy"] = 0.9999
    path.write_text(json.dumps(edited, indent=1))
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if '"run": "adam' in t)
    with pytest.raises(EditedOutputError, match=rf"summary\.json:{line} the entry of run adam"):
        read_summary(tmp_path)
    path.write_text(text)
    _edit_first_record(tmp_path, "train_loss", 0.001)
    with pytest.raises(
        EditedOutputError,
        match=r"metrics\.jsonl:1 \(run adam.*epoch 1\) differs .*summary\.json holds",
    ):
        read_sealed_metrics(tmp_path, read_summary(tmp_path))
