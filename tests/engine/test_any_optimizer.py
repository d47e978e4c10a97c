"""The engine trains any optimizer reference like a built-in: optax's, a module's, a factory."""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap

import optax
import pytest

from jaxopt_lab.config import ConfigError, load_config
from jaxopt_lab.engine import train
from jaxopt_lab.engine.outputs import read_config
from jaxopt_lab.optimizers import registry
from tests.engine.conftest import tiny_config


@pytest.fixture
def study_folder(tmp_path, monkeypatch):
    """A folder holding ``folder_opts.py`` and a config that names ``folder_opts:plain_sgd``."""
    (tmp_path / "folder_opts.py").write_text(
        textwrap.dedent(
            """
            import optax

            def plain_sgd(learning_rate):
                return optax.sgd(learning_rate)

            def fixed_rate(momentum=0.9):
                return optax.sgd(0.1, momentum=momentum)
            """
        )
    )
    (tmp_path / "run.yaml").write_text(
        "model: {hidden_sizes: [32]}\n"
        "optimizer: {name: 'folder_opts:plain_sgd', learning_rate: [0.05, 0.1]}\n"
        "train: {epochs: 2, batch_size: 32, seeds: [0]}\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "folder_opts", raising=False)
    monkeypatch.setattr(registry, "_REGISTERED", {})
    yield tmp_path
    sys.modules.pop("folder_opts", None)


def test_a_module_next_to_the_config_trains_a_sweep_exactly_like_the_built_in(
    study_folder, tiny_mnist
):
    """optax.sgd through a user module and jol.sgd compute −η·g alike: bitwise the same runs."""
    config = load_config(study_folder / "run.yaml")
    mine = train(config, study_folder / "mine", quiet=True, data=tiny_mnist)
    builtin = train(
        load_config(study_folder / "run.yaml", ["optimizer.name=sgd"]),
        study_folder / "builtin",
        quiet=True,
        data=tiny_mnist,
    )
    assert [r["final"] for r in mine["runs"]] == [r["final"] for r in builtin["runs"]]
    assert [r["run"] for r in mine["runs"]] == [
        "folder_opts:plain_sgd/lr=0.05/seed=0",
        "folder_opts:plain_sgd/lr=0.1/seed=0",
    ]
    module = study_folder / "folder_opts.py"
    described = mine["optimizers"]["folder_opts:plain_sgd"]
    assert described["sha256"] == hashlib.sha256(module.read_bytes()).hexdigest()
    on_disk = json.loads((study_folder / "mine" / "summary.json").read_text())
    assert on_disk["optimizers"] == mine["optimizers"]
    text = (study_folder / "mine" / "config.yaml").read_text()
    assert text.startswith("# optimizer folder_opts:plain_sgd: folder_opts:plain_sgd = ")
    assert described["sha256"] in text.splitlines()[0]
    assert read_config(study_folder / "mine")["optimizer"]["name"] == "folder_opts:plain_sgd"


def test_optax_lion_trains_a_sweep_with_its_hyperparameters(tmp_path, tiny_mnist):
    config = tiny_config(
        optimizer={"name": "optax.lion", "learning_rate": [1e-4, 3e-4], "hparams": {"b1": 0.95}}
    )
    summary = train(config, tmp_path, quiet=True, data=tiny_mnist)
    assert [r["hparams"]["learning_rate"] for r in summary["runs"]] == [1e-4, 3e-4]
    assert all(r["hparams"]["b1"] == 0.95 and r["hparams"]["b2"] == 0.99 for r in summary["runs"])
    assert summary["optimizers"]["optax.lion"]["version"] == optax.__version__
    losses = [r["final"]["train_loss"] for r in summary["runs"]]
    assert losses[0] != losses[1] and all(loss < 2.3 for loss in losses)


def test_cautious_wraps_any_optimizer_and_on_lion_is_cautious_lion(tmp_path, tiny_mnist):
    """optimizer.cautious: true masks the step where it disagrees in sign with the gradient: on
    Lion without decay, the rule of the built-in cautious_lion (the same mask and rescale)."""
    lion = {"learning_rate": 3e-4, "hparams": {"weight_decay": 0.0}}
    configs = {
        "wrapped": tiny_config(optimizer={"name": "lion", "cautious": True, **lion}),
        "built_in": tiny_config(optimizer={"name": "cautious_lion", **lion}),
        "plain": tiny_config(optimizer={"name": "lion", **lion}),
        "optax": tiny_config(optimizer={"name": "optax.lion", "cautious": True, **lion}),
    }
    runs = {
        key: train(config, tmp_path / key, quiet=True, data=tiny_mnist)["runs"][0]
        for key, config in configs.items()
    }
    assert runs["wrapped"]["run"] == "cautious(lion)/lr=0.0003/seed=0"
    assert runs["wrapped"]["optimizer"] == "cautious(lion)"
    assert read_config(tmp_path / "wrapped")["optimizer"]["cautious"] is True
    wrapped, built_in, plain = (runs[k]["final"] for k in ("wrapped", "built_in", "plain"))
    assert wrapped == pytest.approx(built_in, rel=1e-5)
    assert wrapped["train_loss"] != plain["train_loss"]
    assert runs["optax"]["final"] == pytest.approx(wrapped, rel=1e-4)  # optax's Lion, wrapped


def test_a_factory_object_is_stored_as_its_reference(tmp_path, tiny_mnist, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTERED", {})

    def notebook_sgd(learning_rate):
        return optax.sgd(learning_rate)

    config = tiny_config(optimizer={"name": notebook_sgd, "learning_rate": 0.1})
    assert config.optimizer.name == "notebook_sgd"
    summary = train(config, tmp_path, quiet=True, data=tiny_mnist)
    assert summary["runs"][0]["run"] == "notebook_sgd/lr=0.1/seed=0"
    assert "source_sha256" in summary["optimizers"]["notebook_sgd"] or (
        "file" in summary["optimizers"]["notebook_sgd"]
    )


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        (
            {"name": "folder_opts:fixed_rate", "learning_rate": 0.1},
            r"optimizer\.name: optimizer 'folder_opts:fixed_rate' is refused .*no learning_rate",
        ),
        (
            {"name": "optax.scale_by_adam", "learning_rate": 0.1},
            r"optimizer\.name: optimizer 'optax\.scale_by_adam' takes no learning_rate.*sweeps",
        ),
        (
            {"name": "optax.lion", "learning_rate": 0.1, "hparams": {"beta1": 0.9}},
            r"optimizer\.hparams\.beta1: optimizer 'optax\.lion' has no hyperparameter 'beta1'",
        ),
        (
            {"name": "optax.lion", "learning_rate": 0.1, "hparams": {"b1": {"a": 1}}},
            r"optimizer\.hparams\.b1: expected a number, a bool, a string, null or a list",
        ),
        (
            {"name": "folder_opts:nothing", "learning_rate": 0.1},
            r"optimizer\.name: optimizer 'folder_opts:nothing': folder_opts has no 'nothing'",
        ),
        ({"name": "lionn", "learning_rate": 0.1}, r"optimizer\.name: unknown optimizer 'lionn'"),
    ],
)
def test_a_bad_optimizer_is_a_config_error_naming_the_key(study_folder, optimizer, message):
    registry.add_module_folder(study_folder)
    with pytest.raises(ConfigError, match=message):
        tiny_config(optimizer=optimizer)


def test_a_schedule_free_run_is_validated_and_tested_at_its_average_x(tiny_mnist):
    """The engine trains y but reports the metrics of x = jol.eval_params(state, y)."""
    import jax
    import numpy as np

    import jaxopt_lab as jol
    from jaxopt_lab.engine.loop import evaluate_runs
    from jaxopt_lab.engine.mesh import Placement
    from jaxopt_lab.engine.placement import device_splits
    from jaxopt_lab.engine.programs import (
        compile_run_set,
        evaluate_test,
        initial_states,
        run_epoch,
    )

    config = tiny_config(
        optimizer={"name": "schedule_free_adamw", "learning_rate": [0.01, 0.02]},
        train={"seeds": [0, 1]},
    )
    place = Placement()
    run_set = compile_run_set({"sf": config}, device_splits(config, tiny_mnist, place), place)
    states, metrics = run_epoch(run_set, initial_states(run_set), 1)
    (state,) = states
    x = jax.vmap(jax.vmap(jol.eval_params))(state.opt_state, state.params)
    spec = run_set.programs.spec

    def at(params, split):
        return evaluate_runs(spec, params, (), *run_set.splits[split])

    # x computed inside the epoch's program or outside it: the same up to float32 rounding
    np.testing.assert_allclose(metrics[0]["val_loss"], at(x, "val")[0], rtol=1e-5)
    assert not np.allclose(metrics[0]["val_loss"], at(state.params, "val")[0], rtol=1e-2)
    ((test_loss, _),) = evaluate_test(run_set, states)
    np.testing.assert_allclose(test_loss, at(x, "test")[0], rtol=1e-5)
