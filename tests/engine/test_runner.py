"""``engine.train``: output files, divergence reporting, resume and overwrite rules."""

import json

import pytest
import yaml

from jaxopt_lab.engine import OutputExistsError, train, train_many

from .conftest import tiny_config

RECORD_KEYS = {
    "run",
    "optimizer",
    "seed",
    "hparams",
    "epoch",
    "train_loss",
    "val_loss",
    "val_accuracy",
    "seconds",
    "diverged",
}
SUMMARY_RUN_KEYS = {
    "run",
    "optimizer",
    "seed",
    "hparams",
    "final",
    "best",
    "test_loss",
    "test_accuracy",
    "diverged",
    "diverged_epoch",
}


def _lines(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def _without_seconds(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture(scope="module")
def uninterrupted(tiny_mnist, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    summary = train(tiny_config(train={"seeds": [0, 1]}), out, quiet=True, data=tiny_mnist)
    return out, summary


def test_outputs_are_complete_and_a_diverged_run_reports_nulls(tiny_mnist, tmp_path):
    config = tiny_config(
        optimizer={"name": "sgd", "learning_rate": [0.05, 1e8]},
        train={"eval_test_every_epoch": True},
    )
    summary = train(config, tmp_path, quiet=True, data=tiny_mnist)
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["optimizer"]["name"] == "sgd"
    records = _lines(tmp_path)
    assert len(records) == 2 * 2  # runs × epochs
    for record in records:
        assert set(record) == RECORD_KEYS | {"test_loss", "test_accuracy"}
    ok = [r for r in records if r["run"] == "sgd/lr=0.05/seed=0"]
    bad = [r for r in records if r["run"] == "sgd/lr=1e+08/seed=0"]
    assert [r["epoch"] for r in ok] == [1, 2]
    assert all(not r["diverged"] and 0 < r["val_accuracy"] <= 1 for r in ok)
    assert ok[0]["hparams"] == {"learning_rate": 0.05}
    assert all(r["diverged"] and r["train_loss"] is None and r["test_loss"] is None for r in bad)

    on_disk = json.loads((tmp_path / "summary.json").read_text())
    sealed = on_disk.pop("seal")  # the digests reading checks (engine/seal.py)
    assert on_disk == summary
    assert set(sealed) == {"records", "runs", "rest"} and len(sealed["runs"]) == 2
    assert set(summary) == {
        "runs",
        "wall_seconds",
        "calls",
        "compile_seconds",
        "device",
        "epochs_completed",
        "data",
        "optimizers",
    }
    assert summary["optimizers"]["sgd"]["factory"] == "jaxopt_lab.optimizers.sgd.sgd"
    assert summary["epochs_completed"] == 2 and summary["compile_seconds"] > 0
    by_run = {r["run"]: r for r in summary["runs"]}
    assert all(set(r) == SUMMARY_RUN_KEYS for r in summary["runs"])
    good = by_run["sgd/lr=0.05/seed=0"]
    assert good["final"]["val_accuracy"] == ok[-1]["val_accuracy"]
    assert good["best"]["val_accuracy"] == max(r["val_accuracy"] for r in ok)
    assert good["test_accuracy"] == ok[-1]["test_accuracy"]
    assert good["diverged"] is False and good["diverged_epoch"] is None
    diverged = by_run["sgd/lr=1e+08/seed=0"]
    assert diverged["diverged"] is True and diverged["diverged_epoch"] == 1
    assert diverged["final"]["val_loss"] is None and diverged["test_accuracy"] is None
    assert (tmp_path / "checkpoints" / "state.msgpack").exists()


def test_training_learns_the_tiny_task(uninterrupted):
    _, summary = uninterrupted
    for run in summary["runs"]:
        assert run["final"]["val_accuracy"] > 0.5  # 10 classes: chance is 0.1


def test_resume_after_an_interruption_equals_the_uninterrupted_run(
    uninterrupted, tiny_mnist, tmp_path
):
    config = tiny_config(train={"seeds": [0, 1]})

    def crash(progress):
        if progress.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, quiet=True, data=tiny_mnist, on_epoch=crash)
    assert {r["epoch"] for r in _lines(tmp_path)} == {1}
    summary = train(config, tmp_path, resume=True, quiet=True, data=tiny_mnist)
    reference_dir, reference = uninterrupted
    assert _without_seconds(_lines(tmp_path)) == _without_seconds(_lines(reference_dir))
    assert summary["runs"] == reference["runs"]


def test_resume_can_extend_the_number_of_epochs(uninterrupted, tiny_mnist, tmp_path):
    train(tiny_config(train={"seeds": [0, 1], "epochs": 1}), tmp_path, quiet=True, data=tiny_mnist)
    config = tiny_config(train={"seeds": [0, 1]})
    summary = train(config, tmp_path, resume=True, quiet=True, data=tiny_mnist)
    reference_dir, reference = uninterrupted
    assert _without_seconds(_lines(tmp_path)) == _without_seconds(_lines(reference_dir))
    assert summary["runs"] == reference["runs"]


def test_an_existing_output_is_never_silently_overwritten(uninterrupted, tiny_mnist):
    out, _ = uninterrupted
    before = (out / "metrics.jsonl").read_text()
    with pytest.raises(OutputExistsError, match=r"--resume .* --overwrite"):
        train(tiny_config(train={"seeds": [0, 1]}), out, quiet=True, data=tiny_mnist)
    with pytest.raises(ValueError, match="differs from this config"):
        train(tiny_config(), out, resume=True, quiet=True, data=tiny_mnist)
    with pytest.raises(ValueError, match="not both"):
        train(tiny_config(), out, resume=True, overwrite=True, quiet=True, data=tiny_mnist)
    assert (out / "metrics.jsonl").read_text() == before


def test_overwrite_replaces_the_outputs(tiny_mnist, tmp_path):
    train(tiny_config(train={"epochs": 2}), tmp_path, quiet=True, data=tiny_mnist)
    train(tiny_config(train={"epochs": 1}), tmp_path, overwrite=True, quiet=True, data=tiny_mnist)
    assert {r["epoch"] for r in _lines(tmp_path)} == {1}


def test_train_many_labels_runs_and_requires_shared_sections(tiny_mnist, tmp_path):
    sgd = tiny_config(optimizer={"name": "sgd", "learning_rate": 0.05}, train={"epochs": 1})
    adam = tiny_config(train={"epochs": 1})
    summary = train_many({"sgd": sgd, "adam": adam}, tmp_path, quiet=True, data=tiny_mnist)
    assert [r["run"] for r in summary["runs"]] == ["sgd/lr=0.05/seed=0", "adam/lr=0.001/seed=0"]
    assert set(yaml.safe_load((tmp_path / "config.yaml").read_text())) == {"sgd", "adam"}
    with pytest.raises(ValueError, match="differ in 'train'"):
        train_many({"sgd": sgd, "adam": tiny_config()}, tmp_path / "x", data=tiny_mnist)


COSINE = {"schedule": {"name": "cosine"}}  # s(t) = ½ (1 + cos(π t / T)), T the run's steps


@pytest.fixture(scope="module")
def cosine_one_epoch(tiny_mnist, tmp_path_factory):
    """One epoch (T = 10 steps) under the relative cosine: compiled before the two-epoch runs
    below, so these also check that T is part of the compiled program's identity."""
    out = tmp_path_factory.mktemp("cosine_one_epoch")
    train(tiny_config(optimizer=COSINE, train={"epochs": 1}), out, quiet=True, data=tiny_mnist)
    return out


def test_a_relative_schedule_equals_its_optax_schedule_over_the_run(
    cosine_one_epoch, tiny_mnist, tmp_path
):
    # 300 images in batches of 32, the last partial one kept: 10 steps per epoch, 20 in all.
    absolute = {
        "schedule": {
            "name": "cosine_decay_schedule",
            "kwargs": {"init_value": 1.0, "decay_steps": 10 * 2, "alpha": 0.0},
        }
    }
    relative = train(tiny_config(optimizer=COSINE), tmp_path / "rel", quiet=True, data=tiny_mnist)
    optax_run = train(
        tiny_config(optimizer=absolute), tmp_path / "abs", quiet=True, data=tiny_mnist
    )
    assert _without_seconds(_lines(tmp_path / "rel")) == _without_seconds(_lines(tmp_path / "abs"))
    assert relative["runs"] == optax_run["runs"]


def test_resume_refuses_new_epochs_under_a_relative_schedule(cosine_one_epoch, tiny_mnist):
    before = (cosine_one_epoch / "metrics.jsonl").read_text()
    with pytest.raises(ValueError, match="its schedule is relative to the run length"):
        train(tiny_config(optimizer=COSINE), cosine_one_epoch, resume=True, data=tiny_mnist)
    assert (cosine_one_epoch / "metrics.jsonl").read_text() == before
    # The same run length resumes (nothing left to train here).
    config = tiny_config(optimizer=COSINE, train={"epochs": 1})
    summary = train(config, cosine_one_epoch, resume=True, quiet=True, data=tiny_mnist)
    assert summary["epochs_completed"] == 1
