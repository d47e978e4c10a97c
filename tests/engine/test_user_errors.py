"""Mistakes in the user's optimizer or config end in one ``error:`` line that names them and
the fix, never in an "unexpected … report it" that blames the project."""

from __future__ import annotations

import functools
import runpy
import sys
import textwrap
from pathlib import Path

import jax.numpy as jnp
import optax
import pytest

from jaxopt_lab.engine import loop, train
from jaxopt_lab.engine.transform import OptimizerError
from jaxopt_lab.optimizers import registry
from tests.engine.conftest import tiny_config

ROOT = Path(__file__).resolve().parents[2]
TRAIN = runpy.run_path(str(ROOT / "scripts" / "train.py"))["main"]

MODULE = """
import jax
import jax.numpy as jnp
import optax


def _step(updates, learning_rate):
    return jax.tree.map(lambda g: -learning_rate * g, updates)


def growing(learning_rate):
    # an int32 counter that update turns into float32
    def init(params):
        return jnp.zeros((), jnp.int32)

    def update(updates, state, params=None):
        return _step(updates, learning_rate), state + 0.5

    return optax.GradientTransformation(init, update)


def boom(learning_rate):
    raise RuntimeError("boom")


def missing_key(learning_rate):
    return {}["b3"]
"""


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """The working directory holds ``bad_opts.py`` and ``run.yaml`` (which names adam)."""
    (tmp_path / "bad_opts.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "run.yaml").write_text(
        "model: {hidden_sizes: [32]}\n"
        "optimizer: {name: adam, learning_rate: 0.1}\n"
        "train: {epochs: 1, batch_size: 32, seeds: [0]}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "bad_opts", raising=False)
    monkeypatch.setattr(registry, "_REGISTERED", {})
    yield tmp_path
    sys.modules.pop("bad_opts", None)


@pytest.fixture
def train_py(user_folder, tiny_mnist, monkeypatch, capsys):
    """``scripts/train.py`` (its main) on the tiny data: (argv overrides) -> (status, stderr)."""
    monkeypatch.setitem(TRAIN.__globals__, "train", functools.partial(train, data=tiny_mnist))

    def run(*overrides: str) -> tuple[int, str]:
        argv = ["--config", "run.yaml", "--out", "out", "--quiet", "--set", *overrides]
        status = TRAIN(argv)
        return status, capsys.readouterr().err

    return run


def _one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "unexpected" not in err and "report it" not in err
    return lines[0]


def test_a_state_that_changes_dtype_names_the_optimizer_and_check_optimizer(train_py):
    """It was JAX's scan error on the carry, "(unexpected; … report it)"."""
    status, err = train_py("optimizer.name=bad_opts:growing")
    line = _one_error_line(err)
    assert status == 2
    assert line == (
        "error: the optimizer 'bad_opts:growing' (optimizer.name) failed in training: its "
        "update returned a state of another shape/dtype than init: state was int32[] and "
        "became float32[]. Each step must return the state as init made it (structure, shapes "
        "and dtypes) and updates shaped like the parameters. Find and fix it with: "
        "jaxopt-lab check bad_opts:growing --set learning_rate=0.1"
    )


@pytest.mark.parametrize(
    ("factory", "raised"), [("boom", "RuntimeError: boom"), ("missing_key", "KeyError: 'b3'")]
)
def test_a_factory_that_raises_is_named_with_check_optimizer(train_py, factory, raised):
    """It was "error: boom" with no optimizer named, or KeyError as "unexpected"."""
    status, err = train_py(f"optimizer.name=bad_opts:{factory}")
    line = _one_error_line(err)
    assert status == 2
    assert line == (
        f"error: --set optimizer.name (config run.yaml): optimizer.name: the optimizer "
        f"'bad_opts:{factory}' failed when built with learning_rate=0.1: its factory raised "
        f"{raised}. Find and fix it with: jaxopt-lab check bad_opts:{factory} "
        "--set learning_rate=0.1"
    )


def _registered(name, init, update):
    def factory(learning_rate):
        return optax.GradientTransformation(init, update)

    return registry.register_optimizer(name, factory)


def _train(user_folder, tiny_mnist, name, **optimizer):
    config = tiny_config(optimizer={"name": name, "learning_rate": [0.1, 0.2], **optimizer})
    return train(config, user_folder / "out", quiet=True, data=tiny_mnist)


def test_a_state_that_changes_structure_names_the_registered_optimizer(user_folder, tiny_mnist):
    name = _registered(
        "restructured", lambda p: (jnp.zeros(()),), lambda u, s, p=None: (u, (s[0], s[0]))
    )
    with pytest.raises(OptimizerError) as error:
        _train(user_folder, tiny_mnist, name, clipping={"method": "value", "threshold": 1.0})
    assert str(error.value) == (
        "the optimizer 'restructured' (optimizer.name) failed in training: its update returned "
        "a state of another structure than init: PyTreeDef((*, *)) instead of PyTreeDef((*,)). "
        "Each step must return the state as init made it (structure, shapes and dtypes) and "
        "updates shaped like the parameters. Find and fix it with: "
        "jaxopt_lab.testing.check_optimizer('restructured') in the process that registered it"
    )


def test_updates_not_shaped_like_the_parameters_are_named(user_folder, tiny_mnist):
    name = _registered(
        "flat", lambda p: optax.EmptyState(), lambda u, s, p=None: ([jnp.zeros(3)], s)
    )
    with pytest.raises(OptimizerError, match="its update returned updates not shaped like the"):
        _train(user_folder, tiny_mnist, name)


@pytest.mark.parametrize("where", ["init", "update"])
def test_an_init_or_update_that_raises_is_named(user_folder, tiny_mnist, where):
    def fails(*args):
        raise RuntimeError(f"boom in {where}")

    name = _registered(
        "fragile",
        fails if where == "init" else (lambda p: optax.EmptyState()),
        fails if where == "update" else (lambda u, s, p=None: (u, s)),
    )
    with pytest.raises(OptimizerError) as error:
        _train(user_folder, tiny_mnist, name)
    assert str(error.value).startswith(
        f"the optimizer 'fragile' (optimizer.name) failed in training: its {where} raised "
        f"RuntimeError: boom in {where}. Find and fix it with: "
    )
    assert isinstance(error.value.__cause__, RuntimeError)  # --debug shows the user's frame


def test_an_engine_bug_under_a_users_optimizer_is_still_unexpected(train_py, monkeypatch):
    """Only the user's code and a state the loop cannot carry are put on the optimizer."""

    def broken_step(*args):
        raise TypeError("engine bug")

    monkeypatch.setattr(loop, "train_step", broken_step)
    status, err = train_py("optimizer.name=optax.sgd", "optimizer.hparams={}")
    assert status == 2
    assert err.startswith("error: TypeError: engine bug (unexpected; run again with --debug")


def test_a_batch_larger_than_the_training_set_is_refused_naming_both(train_py):
    """It trained one mostly padded batch per epoch without a word."""
    status, err = train_py("data.train_size=20")
    assert status == 2
    assert _one_error_line(err) == (
        "error: train.batch_size=32 exceeds the 20 training images (data.train_size=20): every "
        "epoch would be one step on a batch padded with 12 empty samples; set train.batch_size "
        "to at most 20 (20 is full-batch training) or data.train_size to at least 32"
    )


def test_a_batch_larger_than_all_training_images_is_refused(user_folder, tiny_mnist):
    config = tiny_config(train={"batch_size": 512, "last_batch": "drop"})
    with pytest.raises(ValueError) as error:
        train(config, user_folder / "out", quiet=True, data=tiny_mnist)
    assert str(error.value) == (
        "train.batch_size=512 exceeds the 300 training images: an epoch would have no full "
        "batch (train.last_batch=drop) and train nothing; set train.batch_size to at most 300 "
        "(300 is full-batch training)"
    )
