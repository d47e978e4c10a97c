"""Random search: a declared search space, and reproducible points drawn from it.

A search space maps hyperparameter names to one distribution each (the field study's row
``search:``)::

    learning_rate: {log_uniform: [1.0e-4, 1.0e-1]}   # log x uniform in [a, b]
    b1: {one_minus_log_uniform: [0.8, 0.99]}         # log(1 − x) uniform: β's, momentum
    weight_decay: {log_uniform: [1.0e-5, 1.0e-2]}
    alpha: {uniform: [2.0, 10.0]}                    # x uniform in [a, b]
    warmup_steps: {choice: [0, 500, 2000]}           # one of the values, equal chances

The learning rate is required and at most ``MAX_EXTRA`` other names may be searched, so every
optimizer gets the same budget over a space of comparable size. β's and momentum are drawn
with 1 − x log-uniform because their effect is through the averaging time 1/(1 − β): 0.9 →
0.99 is as large a step as 0.99 → 0.999 (as in Choi et al. 2019, "On Empirical Comparisons of
Optimizers for Deep Learning", and AlgoPerf's baselines).

Points are drawn with NumPy's ``default_rng((seed, crc32(stream)))`` — ``stream`` is the
row's name, so one row's trials do not depend on the others — one uniform number per dimension
per trial, the learning rate first and the others in sorted order. The same seed gives the same
points, and the first k of n points are those of a budget of k. Each value is rounded to 4
significant digits, so the printed point is exactly the one that ran.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

LAWS = ("log_uniform", "uniform", "one_minus_log_uniform", "choice")
MAX_EXTRA = 2  # dimensions besides the learning rate
LEAD = "learning_rate"
DIGITS = 4  # significant digits of a drawn value


class SearchSpaceError(ValueError):
    """A malformed search space: ``key`` (e.g. ``.b1.uniform``) and what is wrong."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"search{key}: {message}")
        self.key, self.message = key, message


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One hyperparameter of a search space and its distribution (one of ``LAWS``)."""

    name: str
    law: str
    values: tuple[Any, ...]

    def draw(self, u: float) -> Any:
        """The value at quantile ``u`` ∈ [0, 1), rounded to 4 significant digits."""
        if self.law == "choice":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        a, b = (float(v) for v in self.values)
        if self.law == "uniform":
            x = a + u * (b - a)
        elif self.law == "log_uniform":
            x = math.exp(math.log(a) + u * (math.log(b) - math.log(a)))
        else:  # one_minus_log_uniform: 1 − x log-uniform in [1 − b, 1 − a]
            hi, lo = math.log(1.0 - a), math.log(1.0 - b)
            x = 1.0 - math.exp(hi + u * (lo - hi))
        return float(f"{x:.{DIGITS}g}")

    def describe(self) -> str:
        """``log-uniform in [0.0001, 0.1]``, ``one of 0, 500, 2000``…"""
        if self.law == "choice":
            return f"one of {', '.join(map(str, self.values))}"
        a, b = self.values
        words = {
            "log_uniform": "log-uniform",
            "uniform": "uniform",
            "one_minus_log_uniform": "1 − x log-uniform",
        }
        return f"{words[self.law]} in [{a:g}, {b:g}]"


def parse(raw: Mapping[str, Any] | None) -> list[Dimension]:
    """The dimensions of a search space, the learning rate first, the others sorted by name.

    Raises:
      SearchSpaceError: no learning rate, too many names, an unknown law, bad bounds.
    """
    raw = raw or {}
    if LEAD not in raw:
        raise SearchSpaceError(f".{LEAD}", "missing: every optimizer searches its learning rate")
    extra = sorted(k for k in raw if k != LEAD)
    if len(extra) > MAX_EXTRA:
        raise SearchSpaceError(
            "",
            f"searches {extra} besides the learning rate; at most {MAX_EXTRA}, so that every "
            "optimizer's budget covers a space of the same size",
        )
    dims = [_dimension(name, raw[name]) for name in [LEAD, *extra]]
    if dims[0].law == "choice" or (dims[0].law == "uniform" and float(dims[0].values[0]) <= 0):
        raise SearchSpaceError(f".{LEAD}", "needs a range of positive rates (log_uniform)")
    return dims


def _dimension(name: str, law: Any) -> Dimension:
    key = f".{name}"
    if not isinstance(law, Mapping) or len(law) != 1 or next(iter(law)) not in LAWS:
        forms = ", ".join(f"{{{k}: [...]}}" for k in LAWS)
        raise SearchSpaceError(key, f"expected one of {forms}; got {law!r}")
    kind, values = next(iter(law.items()))
    key += f".{kind}"
    if not isinstance(values, list) or not values:
        raise SearchSpaceError(key, f"expected a non-empty list, got {values!r}")
    if kind == "choice":
        return Dimension(name, kind, tuple(values))
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if len(values) != 2 or not numbers:
        raise SearchSpaceError(key, f"expected [low, high], got {values!r}")
    a, b = (float(v) for v in values)
    need = {
        "uniform": ("low < high", a < b),
        "log_uniform": ("0 < low < high", 0 < a < b),
        "one_minus_log_uniform": ("low < high < 1", a < b < 1),
    }[kind]
    if not need[1]:
        raise SearchSpaceError(key, f"needs {need[0]}, got {values!r}")
    return Dimension(name, kind, (a, b))


def sample(dims: list[Dimension], n: int, seed: int, stream: str) -> list[dict[str, Any]]:
    """``n`` points, reproducible from ``(seed, stream)`` (see the module docstring)."""
    rng = np.random.default_rng([seed, zlib.crc32(stream.encode())])
    return [{d.name: d.draw(float(rng.random())) for d in dims} for _ in range(n)]
