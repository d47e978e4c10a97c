"""Optimizer references: every form resolves, every bad one says what is wrong and the fix."""

from __future__ import annotations

import hashlib
import sys
import textwrap

import optax
import pytest

import jaxopt_lab as jol
from jaxopt_lab.optimizers import registry
from jaxopt_lab.optimizers.describe import describe


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module ``user_opts`` in a fresh folder that ``add_module_folder`` makes importable."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "user_opts.py").write_text(
        textwrap.dedent(
            """
            import optax

            def my_sgd(learning_rate, scale=1.0):
                return optax.sgd(learning_rate * scale)

            def no_rate(momentum=0.9):
                return optax.sgd(0.1, momentum=momentum)

            def not_a_transformation(learning_rate):
                return (lambda p: p, lambda u, s, p=None: (u, s))

            def any_kwargs(**hyperparameters):
                return optax.sgd(**hyperparameters)

            from logging import basicConfig

            NOT_CALLABLE = 3
            """
        )
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "user_opts", raising=False)
    registry.add_module_folder(folder)
    yield folder / "user_opts.py"
    sys.modules.pop("user_opts", None)


@pytest.fixture(autouse=True)
def _fresh_registrations(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTERED", {})


def test_every_form_resolves_to_its_factory(user_module):
    import user_opts

    assert registry.resolve("adam") is jol.adam
    assert registry.resolve("optax.lion") is optax.lion
    assert registry.resolve("optax.contrib.muon") is optax.contrib.muon
    assert registry.resolve("optax.muon") is optax.contrib.muon
    assert registry.resolve("user_opts:my_sgd") is user_opts.my_sgd
    registry.register_optimizer("mine", user_opts.my_sgd)
    assert registry.resolve("mine") is user_opts.my_sgd
    assert registry.resolve(optax.adam) is optax.adam


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("adamm", r"unknown optimizer 'adamm'; give a registry name \(sgd, .*soap\), an "),
        ("optax.lionn", r"neither optax nor optax\.contrib has 'lionn'"),
        ("no_such_module:f", r"cannot import the module of optimizer .*No module named"),
        ("user_opts:missing", r"user_opts has no 'missing'; its public callables: .*my_sgd"),
        ("user_opts:NOT_CALLABLE", r"is a int, not a factory"),
    ],
)
def test_a_bad_reference_names_itself_and_the_fix(user_module, reference, message):
    with pytest.raises(ValueError, match=message):
        registry.resolve(reference)


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("logging:basicConfig", r"logging is a module of Python's standard library"),
        ("subprocess:run", r"subprocess is a module of Python's standard library"),
        ("builtins:open", r"builtins is a module of Python's standard library"),
        ("os.path:join", r"os\.path is a module of Python's standard library"),
        ("user_opts:basicConfig", r"it is logging\.basicConfig, from Python's standard library"),
        ("user_opts:any_kwargs", r"its signature names no learning_rate parameter"),
        ("user_opts:no_rate", r"its signature names no learning_rate parameter"),
        ("numpy:save", r"its signature names no learning_rate parameter"),
    ],
)
def test_a_reference_may_not_call_anything_but_an_optimizer_factory(
    user_module, tmp_path, reference, why
):
    """A text reference is refused before it is called: the hyperparameters a config gives
    would otherwise reach ``logging.basicConfig(filename=…, filemode='w')``, which truncates."""
    victim = tmp_path / "victim.txt"
    victim.write_text("kept\n")
    hyperparameters = {"filename": str(victim), "filemode": "w", "file": str(victim), "arr": []}
    with pytest.raises(ValueError, match=rf"is refused before anything is called: {why}"):
        jol.get_optimizer(reference, learning_rate=0.1, **hyperparameters)
    with pytest.raises(ValueError, match=r"may name only an optimizer factory"):
        registry.find(reference)
    assert victim.read_text() == "kept\n"


def test_the_trust_rule_leaves_factories_numpy_rules_and_python_callers_alone(user_module):
    import user_opts

    assert registry.resolve("user_opts:my_sgd") is user_opts.my_sgd
    assert registry.find("tests.reference:reference_adam").__name__ == "reference_adam"
    assert registry.resolve(user_opts.no_rate) is user_opts.no_rate  # a Python caller's own code
    jol.register_optimizer("mine", user_opts.any_kwargs)
    assert registry.resolve("mine") is user_opts.any_kwargs


def test_a_module_that_fails_to_import_gives_its_error_first_line(tmp_path, monkeypatch):
    (tmp_path / "broken_opts.py").write_text("raise RuntimeError('half-written\\nsecond line')\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(tmp_path)])
    with pytest.raises(ValueError, match=r"half-written\. Put its folder on sys\.path") as error:
        registry.resolve("broken_opts:f")
    assert "second line" not in str(error.value)


def test_a_built_transformation_and_a_non_transformation_factory_are_refused(user_module):
    with pytest.raises(ValueError, match=r"give its factory \(e\.g\. optax\.adam, not"):
        registry.resolve(optax.adam(1e-3))
    with pytest.raises(ValueError, match=r"returned tuple, not an optax\.GradientTransformation"):
        jol.get_optimizer("user_opts:not_a_transformation", learning_rate=0.1)


def test_get_optimizer_checks_hyperparameters_against_the_signature(user_module):
    assert isinstance(jol.get_optimizer("optax.lion", learning_rate=1e-4, b1=0.95), tuple)
    with pytest.raises(ValueError, match=r"'optax\.lion' has no hyperparameter 'beta1'.*b1, b2"):
        jol.get_optimizer("optax.lion", learning_rate=1e-4, beta1=0.9)
    with pytest.raises(ValueError, match=r"'user_opts:my_sgd' needs learning_rate"):
        jol.get_optimizer("user_opts:my_sgd")


def test_a_factory_becomes_the_reference_configs_store(user_module):
    import user_opts

    assert registry.reference_of(jol.adam) == "adam"
    assert registry.reference_of(optax.lion) == "optax.lion"
    assert registry.reference_of(optax.contrib.muon) == "optax.contrib.muon"
    assert registry.reference_of(user_opts.my_sgd) == "user_opts:my_sgd"

    def notebook_adam(learning_rate):
        return optax.adam(learning_rate)

    assert registry.reference_of(notebook_adam) == "notebook_adam"  # registered in passing
    assert registry.resolve("notebook_adam") is notebook_adam
    with pytest.raises(ValueError, match=r"register it first, jol\.register_optimizer"):
        registry.reference_of(lambda learning_rate: optax.sgd(learning_rate))


def test_registration_refuses_built_in_names_and_the_reference_forms():
    with pytest.raises(ValueError, match=r"'adam': that is a built-in's name"):
        jol.register_optimizer("adam", optax.adam)
    for name in ("optax.adam", "m:f", "a/b", ""):
        with pytest.raises(ValueError, match=r"use a Python identifier"):
            jol.register_optimizer(name, optax.adam)
    jol.register_optimizer("mine", optax.adam)
    jol.register_optimizer("mine", optax.sgd)  # a re-run notebook cell replaces it
    assert registry.resolve("mine") is optax.sgd
    with pytest.raises(ValueError, match=r"give a registry name \(sgd, .*, mine\)"):
        registry.resolve("minee")


def test_describe_gives_the_package_version_or_the_file_and_its_sha256(user_module):
    assert describe("optax.lion") == {
        "reference": "optax.lion",
        "factory": "optax._src.alias.lion",
        "package": "optax",
        "version": optax.__version__,
    }
    assert describe("adam")["package"] == "jaxopt_lab"
    described = describe("user_opts:my_sgd")
    assert described["file"] == str(user_module.resolve())
    assert described["sha256"] == hashlib.sha256(user_module.read_bytes()).hexdigest()
