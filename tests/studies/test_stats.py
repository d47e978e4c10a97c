"""The statistics of the reports against scipy and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from jaxopt_lab.studies import stats


def test_mean_ci_matches_scipy_t_interval():
    x = [0.961, 0.964, 0.958, 0.966, 0.963]
    ci = stats.mean_ci(x, 0.95)
    low, high = sps.t.interval(0.95, df=4, loc=np.mean(x), scale=sps.sem(x))
    assert ci.n == 5
    assert ci.mean == pytest.approx(np.mean(x))
    assert ci.low == pytest.approx(low, rel=1e-12)
    assert ci.high == pytest.approx(high, rel=1e-12)


def test_mean_ci_known_values():
    # mean 2, s = 1, n = 3: half-width = t_{0.975,2} / sqrt(3) = 4.302653 / 1.732051
    ci = stats.mean_ci([1.0, 2.0, 3.0])
    assert ci.half_width == pytest.approx(2.484138, abs=1e-6)


def test_mean_ci_single_value_has_no_interval():
    ci = stats.mean_ci([0.5])
    assert ci.mean == 0.5 and math.isnan(ci.half_width)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_mean_ci_rejects_empty_and_non_finite(bad):
    with pytest.raises(ValueError):
        stats.mean_ci(bad)


def test_paired_test_matches_scipy():
    rng = np.random.default_rng(3)
    a = rng.normal(0.97, 0.002, 7)
    b = a - rng.normal(0.001, 0.001, 7)
    t = stats.paired_test(a, b, "a", "b")
    ref_t = sps.ttest_rel(a, b)
    ref_w = sps.wilcoxon(a, b)
    assert t.n == 7
    assert t.mean_diff == pytest.approx(np.mean(a - b))
    assert t.t_statistic == pytest.approx(ref_t.statistic)
    assert t.t_p == pytest.approx(ref_t.pvalue)
    assert t.wilcoxon_statistic == pytest.approx(ref_w.statistic)
    assert t.wilcoxon_p == pytest.approx(ref_w.pvalue)


def test_paired_test_degenerate_cases():
    same = stats.paired_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert same.t_p == 1.0 and same.wilcoxon_p == 1.0
    one = stats.paired_test([1.0], [0.0])
    assert math.isnan(one.t_p)
    with pytest.raises(ValueError, match="non-finite"):
        stats.paired_test([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="equal length"):
        stats.paired_test([1.0, 2.0], [1.0])


def test_holm_known_values_and_order():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.06, 0.04*1) = 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # monotone: the larger p may not get a smaller adjusted value than the smaller one
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([0.2, 0.01]) == pytest.approx([0.2, 0.02])


def test_holm_leaves_nan_out_of_the_family():
    out = stats.holm([0.01, float("nan"), 0.02])
    assert out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.02)
    assert math.isnan(out[1])


def test_pairwise_tests_pair_by_common_seeds_and_correct():
    values = {
        "A": {0: 0.97, 1: 0.96, 2: 0.975, 3: 0.968},
        "B": {0: 0.95, 1: 0.945, 2: 0.955, 3: 0.951},
        "C": {0: 0.96, 2: 0.97},  # seeds 1 and 3 diverged
    }
    tests = {(t.a, t.b): t for t in stats.pairwise_tests(values)}
    assert set(tests) == {("A", "B"), ("A", "C"), ("B", "C")}
    assert tests[("A", "C")].n == 2
    ref = sps.ttest_rel([0.97, 0.975], [0.96, 0.97])
    assert tests[("A", "C")].t_p == pytest.approx(ref.pvalue)
    raw = [t.t_p for t in tests.values()]
    assert [t.t_p_holm for t in tests.values()] == pytest.approx(stats.holm(raw))


def test_min_wilcoxon_p_matches_scipy_exact_floor():
    n = 5
    floor = sps.wilcoxon(np.arange(1.0, n + 1), np.zeros(n)).pvalue
    assert stats.min_wilcoxon_p(n) == pytest.approx(floor)
