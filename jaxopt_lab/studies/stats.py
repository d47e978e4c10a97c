"""Statistics over seeds: confidence intervals, paired tests, multiple-comparison correction.

Every optimizer is trained with the same seeds (same initialisation and batch order for a
given seed), so two optimizers are compared *paired by seed*: the test is on the differences
d_s = a_s − b_s, which removes the seed-to-seed variance both share.

- Mean ± 95% t-interval: x̄ ± t_{0.975, n−1} · s / √n, with s the sample standard deviation.
- Paired t-test: t = d̄ / (s_d / √n), two-sided, n − 1 degrees of freedom
  (``scipy.stats.ttest_rel``).
- Wilcoxon signed-rank test on d (``scipy.stats.wilcoxon``, two-sided, exact for small n). With
  n seeds its smallest possible p is 2 / 2ⁿ (0.0625 for n = 5), so it is a robustness check
  that needs n ≥ 6 to reach 5 %.
- Percentile bootstrap of a statistic over seeds (``bootstrap_ci``): resample the n values
  with replacement B times (NumPy's ``default_rng(seed)``, so the interval is reproducible),
  and take the (1 − c)/2 and (1 + c)/2 quantiles of the B statistics as order statistics
  (``inverted_cdf``), so an infinite value ("not reached") stays infinite and never turns
  into a NaN by interpolation.
- Holm's step-down correction over the m comparisons of one metric: sort p ascending,
  p̃_(i) = max_{j≤i} min(1, (m − j + 1) · p_(j)). It controls the family-wise error rate
  without assuming independence and is uniformly more powerful than Bonferroni.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as sps


@dataclasses.dataclass(frozen=True)
class MeanCI:
    """Mean of ``n`` values and the half-width of its t-interval (nan when ``n < 2``)."""

    mean: float
    half_width: float
    n: int
    confidence: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width


@dataclasses.dataclass(frozen=True)
class PairedTest:
    """One paired comparison ``a`` vs ``b`` over the seeds both have.

    ``mean_diff`` is mean(a − b); p-values are two-sided. ``*_p_holm`` are filled by
    :func:`pairwise_tests` after Holm's correction over the family.
    """

    a: str
    b: str
    n: int
    mean_diff: float
    t_statistic: float
    t_p: float
    wilcoxon_statistic: float
    wilcoxon_p: float
    t_p_holm: float = math.nan
    wilcoxon_p_holm: float = math.nan


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> MeanCI:
    """Mean and Student-t confidence half-width ``t_{(1+c)/2, n−1} · s/√n`` of finite values.

    Raises ``ValueError`` on an empty input or a non-finite value: callers drop diverged runs
    first and report them separately, so a NaN never enters a mean.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value; drop the metric or the row instead")
    if not np.all(np.isfinite(x)):
        raise ValueError(
            f"mean_ci got non-finite values {x.tolist()}; exclude diverged runs before averaging"
        )
    n = int(x.size)
    if n < 2:
        return MeanCI(float(x[0]), math.nan, n, confidence)
    sem = float(np.std(x, ddof=1)) / math.sqrt(n)
    t = float(sps.t.ppf(0.5 + confidence / 2.0, df=n - 1))
    return MeanCI(float(np.mean(x)), t * sem, n, confidence)


def paired_test(a: Sequence[float], b: Sequence[float], name_a: str = "a", name_b: str = "b"):
    """Paired t-test and Wilcoxon signed-rank test of ``a`` against ``b`` (same seed order).

    Degenerate cases get defined answers rather than scipy warnings: fewer than two pairs give
    nan; all differences zero give statistic 0 and p = 1 (no evidence of a difference).
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"paired_test needs two 1-D arrays of equal length, got {x.shape}, {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("paired_test got non-finite values; pair only the seeds where both ran")
    n = int(x.size)
    d = x - y
    mean_diff = float(np.mean(d)) if n else math.nan
    if n < 2:
        return PairedTest(name_a, name_b, n, mean_diff, math.nan, math.nan, math.nan, math.nan)
    if np.all(d == 0.0):
        return PairedTest(name_a, name_b, n, 0.0, 0.0, 1.0, 0.0, 1.0)
    if np.all(d == d[0]):
        # Constant non-zero differences: zero variance, the t statistic is infinite.
        t_stat, t_p = math.copysign(math.inf, d[0]), 0.0
    else:
        res = sps.ttest_rel(x, y)
        t_stat, t_p = float(res.statistic), float(res.pvalue)
    w = sps.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
    return PairedTest(
        name_a, name_b, n, mean_diff, t_stat, t_p, float(w.statistic), float(w.pvalue)
    )


def bootstrap_ci(
    values: Sequence[float],
    statistic: Callable[[np.ndarray], float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval ``(low, high)`` of ``statistic`` over ``values`` (which
    may be ``inf``); ``statistic`` maps a 1-D array to a number."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"bootstrap_ci needs a non-empty 1-D array, got shape {x.shape}")
    rng = np.random.default_rng(seed)
    draws = x[rng.integers(0, x.size, size=(resamples, x.size))]
    stats_ = np.array([statistic(row) for row in draws])
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats_, [tail, 1.0 - tail], method="inverted_cdf")
    return float(low), float(high)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order; nan entries stay nan and are not counted."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return out.tolist()
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def pairwise_tests(values: Mapping[str, Mapping[int, float]]) -> list[PairedTest]:
    """All pairs of arms, paired on the seeds both have finite values for, Holm-corrected.

    ``values`` maps arm name → {seed: value}; diverged seeds are simply absent. The family for
    the correction is all pairs of this one metric.
    """
    tests = []
    for a, b in itertools.combinations(values, 2):
        seeds = sorted(set(values[a]) & set(values[b]))
        tests.append(
            paired_test([values[a][s] for s in seeds], [values[b][s] for s in seeds], a, b)
        )
    t_adj = holm([t.t_p for t in tests])
    w_adj = holm([t.wilcoxon_p for t in tests])
    return [
        dataclasses.replace(t, t_p_holm=tp, wilcoxon_p_holm=wp)
        for t, tp, wp in zip(tests, t_adj, w_adj, strict=True)
    ]


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided exact Wilcoxon p-value reachable with ``n`` pairs: 2 / 2ⁿ."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    return min(1.0, 2.0 / 2.0**n)
