"""Time to target, its bootstrap interval and performance profiles, against hand examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxopt_lab.studies import stats, targets
from jaxopt_lab.studies.runs import RunCurve

INF = math.inf


def _run(acc, seed=0, seconds=(2.0, 3.0, 4.0)):
    acc = np.array(acc, dtype=float)
    return RunCurve(
        row="A",
        run=f"A/lr=0.1/seed={seed}",
        optimizer="sgd",
        seed=seed,
        hparams={"learning_rate": 0.1},
        epochs=np.arange(1, acc.size + 1),
        curves={"train_loss": acc, "val_loss": acc, "val_accuracy": acc},
        test_accuracy=None,
        test_loss=None,
        diverged_epoch=None,
        seconds=None if seconds is None else np.array(seconds[: acc.size]),
    )


def test_a_run_is_timed_at_the_end_of_the_epoch_that_reaches_the_target():
    t = targets.run_time(_run([0.5, 0.8, 0.9]), 0.8, steps_per_epoch=10)
    assert (t.epoch, t.steps, t.seconds, t.reached) == (2, 20.0, 5.0, True)


def test_a_run_that_never_reaches_the_target_is_not_reached_never_a_number():
    t = targets.run_time(_run([0.5, 0.8, 0.9]), 0.95, steps_per_epoch=10)
    assert t.epoch is None and not t.reached
    assert t.steps == INF and t.seconds == INF


def test_the_median_counts_unreached_seeds_last():
    assert targets.median_time([30.0, 10.0, 20.0]) == 20.0
    assert targets.median_time([10.0, INF, 20.0]) == 20.0
    assert targets.median_time([10.0, INF, INF]) == INF
    assert targets.median_time([10.0, INF]) == INF  # half unreached: not reached
    assert targets.median_time([]) == INF


def test_an_arm_reaching_in_too_few_seeds_is_not_reached_with_an_open_interval():
    runs = [_run([0.9, 0.9, 0.9], 0), _run([0.5, 0.9, 0.9], 1)]
    runs += [_run([0.5, 0.5, 0.5], s) for s in (2, 3, 4)]
    arm = targets.arm_time(runs, 0.85, 10, resamples=500, seed=3)
    assert (arm.reached, arm.n) == (2, 5)
    assert arm.steps == INF and arm.seconds == INF
    assert arm.steps_ci[0] == 10.0 and arm.steps_ci[1] == INF
    # the interval is seeded: the same call gives the same interval
    assert targets.arm_time(runs, 0.85, 10, resamples=500, seed=3) == arm


def test_an_arm_that_reaches_everywhere_has_a_finite_median_and_interval():
    runs = [_run([0.9, 0.9, 0.9], 0), _run([0.5, 0.9, 0.9], 1), _run([0.5, 0.5, 0.9], 2)]
    arm = targets.arm_time(runs, 0.85, 10)
    assert (arm.steps, arm.seconds) == (20.0, 5.0)
    assert 10.0 <= arm.steps_ci[0] <= arm.steps_ci[1] <= 30.0
    no_clock = targets.arm_time([_run([0.9], seconds=None)], 0.85, 10)
    assert no_clock.steps == 10.0 and math.isnan(no_clock.seconds)


def test_bootstrap_intervals_are_reproducible_and_keep_infinity():
    values = [1.0, 2.0, 3.0, 4.0, INF]
    a = stats.bootstrap_ci(values, np.median, resamples=300, seed=7)
    assert a == stats.bootstrap_ci(values, np.median, resamples=300, seed=7)
    assert a[0] >= 1.0 and a[1] == INF
    assert stats.bootstrap_ci([5.0, 5.0], np.median) == (5.0, 5.0)


def test_performance_profile_of_a_hand_example():
    # targets are the problems; B is fastest on two of three, A on one, C reaches none
    times = {"A": [10.0, 20.0, INF], "B": [20.0, 10.0, 30.0], "C": [INF, INF, INF]}
    ratios = targets.profile_ratios(times)
    assert ratios["A"].tolist() == [1.0, 2.0, INF]
    assert ratios["B"].tolist() == [2.0, 1.0, 1.0]
    assert ratios["C"].tolist() == [INF, INF, INF]
    taus = [1.0, 1.5, 2.0, 100.0]
    assert targets.profile(ratios["A"], taus) == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert targets.profile(ratios["B"], taus) == pytest.approx([2 / 3, 2 / 3, 1.0, 1.0])
    assert targets.profile(ratios["C"], taus).tolist() == [0.0] * 4
    assert targets.profile_taus(ratios).tolist() == [1.0, 2.0, 2.5]
    # a target no one reaches gives every solver infinity, not a division by infinity
    nobody = targets.profile_ratios({"A": [INF], "B": [INF]})
    assert nobody["A"].tolist() == [INF] and nobody["B"].tolist() == [INF]
