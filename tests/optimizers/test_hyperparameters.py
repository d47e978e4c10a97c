"""Bad hyperparameters and names are refused when the optimizer is built, with a clear message."""

from __future__ import annotations

import math

import jax.numpy as jnp
import optax
import pytest

import jaxopt_lab as jol

# name, hyperparameters, words the message must contain
BAD = [
    ("sgd", {"learning_rate": math.nan}, "learning_rate=nan"),
    ("adam", {"learning_rate": math.inf}, "learning_rate=inf"),
    ("momentum", {"learning_rate": -0.1}, "learning_rate=-0.1"),
    (
        "momentum",
        {"learning_rate": 0.1, "momentum": 1.0},
        "momentum=1.0 is invalid: it must lie in [0, 1)",
    ),
    ("nesterov", {"learning_rate": 0.1, "momentum": -0.5}, "momentum=-0.5"),
    ("adam", {"b1": 1.0}, "b1=1.0"),
    ("nadam", {"b2": 1.5}, "b2=1.5"),
    ("adamw", {"b2": -0.1}, "b2=-0.1"),
    ("adamw", {"weight_decay": -1e-2}, "weight_decay=-0.01"),
    ("rmsprop", {"learning_rate": 0.1, "decay": 1.0}, "decay=1.0"),
    ("adadelta", {"rho": 2.0}, "rho=2.0"),
    ("adagrad", {"learning_rate": 0.1, "eps": -1e-8}, "eps=-1e-08"),
    (
        "adagrad",
        {"learning_rate": 0.1, "initial_accumulator_value": -1.0},
        "initial_accumulator_value",
    ),
    ("adam", {"eps": math.nan}, "eps=nan"),
    ("lion", {"b1": 1.0}, "b1=1.0"),
    ("lion", {"b2": -0.5}, "b2=-0.5"),
    ("lion", {"weight_decay": -1.0}, "weight_decay=-1.0"),
    ("muon", {"momentum": 1.0}, "momentum=1.0"),
    ("muon", {"ns_steps": -1}, "ns_steps=-1 is invalid: it must be an integer >= 0"),
    ("muon", {"ns_steps": 5.0}, "ns_steps=5.0 is invalid: it must be an integer"),
    ("muon", {"ns_coefficients": (3.4, -4.7)}, "ns_coefficients=(3.4, -4.7) is invalid"),
    ("muon", {"ns_coefficients": (3.4, math.inf, 2.0)}, "every entry must be finite"),
    ("muon", {"eps": -1e-7}, "eps=-1e-07"),
    ("muon", {"weight_decay": math.nan}, "weight_decay=nan"),
    ("muon", {"adjust_lr": "spectral"}, "adjust_lr='spectral' is invalid: it must be one of"),
    ("muon", {"ns_dtype": "int32"}, "ns_dtype='int32' is invalid: it must be None or a float"),
    ("muon", {"nesterov": "yes"}, "nesterov='yes' is invalid: it must be True or False"),
    ("muon", {"adam_learning_rate": -1.0}, "learning_rate=-1.0"),
    ("muon", {"adam_b2": 1.0}, "b2=1.0"),
    ("muon", {"adam_eps": -1.0}, "eps=-1.0"),
    ("schedule_free_sgd", {"momentum": 0.0}, "momentum=0.0 is invalid: it must lie in (0, 1)"),
    ("schedule_free_sgd", {"momentum": 1.0}, "momentum=1.0 is invalid: it must lie in (0, 1)"),
    ("schedule_free_sgd", {"warmup_steps": -1}, "warmup_steps=-1 is invalid"),
    ("schedule_free_sgd", {"warmup_steps": 2.5}, "warmup_steps=2.5 is invalid"),
    ("schedule_free_sgd", {"r": -1.0}, "r=-1.0"),
    ("schedule_free_adamw", {"b1": 0.0}, "b1=0.0 is invalid: it must lie in (0, 1)"),
    ("schedule_free_adamw", {"b2": 1.0}, "b2=1.0"),
    ("schedule_free_adamw", {"weight_lr_power": -2.0}, "weight_lr_power=-2.0"),
    ("schedule_free_adamw", {"weight_decay": -0.1}, "weight_decay=-0.1"),
    ("ademamix", {"b3": 1.0}, "b3=1.0"),
    ("ademamix", {"alpha": -5.0}, "alpha=-5.0"),
    ("ademamix", {"b3_warmup": 0}, "b3_warmup=0 is invalid: it must be an integer >= 1"),
    ("ademamix", {"alpha_warmup": 10.5}, "alpha_warmup=10.5 is invalid"),
    ("ademamix", {"b1": -0.1}, "b1=-0.1"),
]


@pytest.mark.parametrize(("name", "hyperparameters", "words"), BAD)
def test_bad_value_is_refused_naming_parameter_value_and_range(name, hyperparameters, words):
    with pytest.raises(ValueError) as error:
        jol.get_optimizer(name, **hyperparameters)
    assert words in str(error.value)


@pytest.mark.parametrize(("name", "hyperparameters", "words"), BAD)
def test_bad_value_is_refused_by_the_constructor_itself(name, hyperparameters, words):
    with pytest.raises(ValueError, match="invalid"):
        jol.OPTIMIZERS[name](**{"learning_rate": 0.1, **hyperparameters})


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'") as error:
        jol.get_optimizer("adamax", learning_rate=0.1)
    for name in jol.OPTIMIZERS:
        assert name in str(error.value)


def test_unknown_hyperparameter_lists_the_accepted_ones():
    with pytest.raises(ValueError, match=r"no hyperparameter 'beta1'.*b1, b2, eps"):
        jol.get_optimizer("adam", learning_rate=0.1, beta1=0.9)


def test_the_registry_answers_defaults_and_the_run_config_uses_its_message():
    from jaxopt_lab.config import ConfigError, config_from_dict
    from jaxopt_lab.optimizers.registry import hyperparameter_defaults

    assert hyperparameter_defaults("adam") == {
        "learning_rate": 1e-3,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 1e-8,
        "mu_dtype": None,
        "nu_dtype": None,
    }
    with pytest.raises(ValueError) as direct:
        jol.get_optimizer("adam", beta1=0.9)
    with pytest.raises(ConfigError) as from_config:
        config_from_dict(
            {"optimizer": {"name": "adam", "learning_rate": 1e-3, "hparams": {"beta1": 0.9}}},
            source="c.yaml",
        )
    assert str(from_config.value) == f"c.yaml: optimizer.hparams.beta1: {direct.value}"


def test_non_scalar_hyperparameter_is_refused():
    with pytest.raises(ValueError, match="scalar"):
        jol.adam(learning_rate=jnp.ones(3))


def test_boundaries_are_accepted():
    jol.momentum(0.0, momentum=0.0)
    jol.adam(learning_rate=0.0, b1=0.0, b2=0.0, eps=0.0)
    jol.lion(learning_rate=0.0, b1=0.0, b2=0.0)
    jol.muon(momentum=0.0, ns_steps=0, eps=0.0, ns_dtype=jnp.bfloat16, adjust_lr="match_rms_adamw")
    jol.schedule_free_sgd(learning_rate=0.0, warmup_steps=0, r=0.0, weight_lr_power=0.0)
    jol.ademamix(b3=0.0, alpha=0.0, b3_warmup=1, alpha_warmup=1)


def test_low_precision_injected_decay_rounding_to_one_gets_a_hint():
    optimizer = optax.inject_hyperparams(jol.adam)(learning_rate=1e-3)
    with pytest.raises(ValueError, match=r"hyperparam_dtype=jnp\.float32"):
        optimizer.init({"w": jnp.ones(2, jnp.bfloat16)})


def test_every_optimizer_has_docstring_with_rule_reference_and_conventions():
    for name, factory in jol.OPTIMIZERS.items():
        module_doc = __import__(factory.__module__, fromlist=["_"]).__doc__
        assert "←" in factory.__doc__ + module_doc, name
        assert "optax" in module_doc and ("torch" in module_doc or "PyTorch" in module_doc), name
        assert "Reference" in module_doc or name == "sgd", name


def test_a_missing_required_hyperparameter_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=r"optimizer 'sgd' needs learning_rate"):
        jol.get_optimizer("sgd")


@pytest.mark.parametrize("value", [1j, "0.1", None])
def test_a_complex_or_non_numeric_hyperparameter_names_the_parameter(value):
    with pytest.raises(ValueError, match=r"learning_rate=.* is invalid: expected a real scalar"):
        jol.get_optimizer("sgd", learning_rate=value)
