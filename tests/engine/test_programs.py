"""The compiled programs: reused for run sets of the same shape, compiled anew otherwise."""

import logging

import jax

from jaxopt_lab.engine import runner, train
from jaxopt_lab.engine.programs import ProgramCache

from .conftest import tiny_config


def _compiles(caplog):
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling")]


def test_a_second_run_set_of_the_same_shape_compiles_nothing(
    tiny_mnist, tmp_path, caplog, monkeypatch
):
    # A cache of this test's own: another test of this process may have trained these shapes.
    monkeypatch.setattr(runner, "PROGRAMS", ProgramCache(size=8))
    train(tiny_config(train={"epochs": 1}), tmp_path / "a", quiet=True, data=tiny_mnist)
    # Other seeds and learning rates, same counts: the values are arguments of the programs.
    other = tiny_config(optimizer={"learning_rate": 3e-3}, train={"epochs": 1, "seeds": [7]})
    with caplog.at_level(logging.WARNING), jax.log_compiles():
        train(other, tmp_path / "b", quiet=True, data=tiny_mnist)
    assert _compiles(caplog) == []
    with caplog.at_level(logging.WARNING), jax.log_compiles():
        config = tiny_config(train={"epochs": 1, "seeds": [0, 1]})
        train(config, tmp_path / "c", quiet=True, data=tiny_mnist)
    assert any("epoch_fn" in message for message in _compiles(caplog))  # two seeds: new shapes


def test_the_cache_keeps_the_most_recently_used_programs():
    cache = ProgramCache(size=2)
    compiled = []

    def get(key):
        return cache.get(key, lambda: compiled.append(key) or f"programs {key}")

    assert get("a") == "programs a"
    get("b")
    assert get("a") == "programs a"  # a hit: not compiled again, now the most recent
    get("c")  # drops b, the least recently used
    get("a")
    get("b")
    assert compiled == ["a", "b", "c", "b"]
