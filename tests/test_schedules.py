"""Schedules over the fraction of a run resolve to the optax schedules with the right steps."""

import numpy as np
import optax
import pytest

from jaxopt_lab import schedules
from jaxopt_lab.config import ConfigError, config_from_dict

STEPS = np.arange(21)


def _values(schedule):
    return np.array([float(schedule(t)) for t in STEPS])


def test_step_decays_by_the_factor_at_the_fractions_of_the_run():
    built = schedules.build("step", {}, total_steps=20)
    expected = optax.piecewise_constant_schedule(1.0, {10: 0.1, 15: 0.1})
    np.testing.assert_array_equal(_values(built), _values(expected))
    assert float(built(9)) == 1.0 and float(built(10)) == pytest.approx(0.1)


def test_cosine_and_warmup_cosine_span_the_whole_run():
    cosine = schedules.build("cosine", {}, total_steps=20)
    np.testing.assert_array_equal(
        _values(cosine), _values(optax.cosine_decay_schedule(1.0, decay_steps=20, alpha=0.0))
    )
    warm = schedules.build("warmup_cosine", {"warmup": 0.1}, total_steps=20)
    expected = optax.warmup_cosine_decay_schedule(0.0, 1.0, 2, 20, 0.0)
    np.testing.assert_array_equal(_values(warm), _values(expected))
    assert float(warm(0)) == 0.0 and float(warm(2)) == 1.0 and float(warm(20)) == 0.0


def test_constant_is_no_schedule_and_optax_names_take_absolute_kwargs():
    assert schedules.build("constant", {}, total_steps=20) is None
    built = schedules.build(
        "linear_schedule",
        {"init_value": 1.0, "end_value": 0.0, "transition_steps": 4},
        total_steps=20,
    )
    assert float(built(2)) == pytest.approx(0.5)


@pytest.mark.parametrize("name", sorted(schedules.RELATIVE))
def test_every_relative_schedule_passes_its_own_check(name):
    schedules.check(name, {})  # `constant` builds no schedule: nothing to trace


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("cosin", {}, "is not one of"),
        ("step", {"every": 2}, r"unknown options \['every'\]; it takes \['at', 'factor'\]"),
        ("linear_schedule", {}, "missing 3 required"),
    ],
)
def test_bad_schedules_are_refused_with_the_accepted_names(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        schedules.check(name, kwargs)


def test_a_run_config_accepts_a_relative_schedule_and_names_a_bad_option():
    optimizer = {"name": "adam", "learning_rate": 1e-3}
    config = config_from_dict({"optimizer": {**optimizer, "schedule": {"name": "cosine"}}})
    assert config.optimizer.schedule.name == "cosine"
    bad = {**optimizer, "schedule": {"name": "warmup_cosine", "kwargs": {"warm": 0.1}}}
    with pytest.raises(ConfigError, match=r"^s\.yaml: optimizer\.schedule\.kwargs: .*'warm'"):
        config_from_dict({"optimizer": bad}, source="s.yaml")
