"""The outcome of a conformance check: one line per property, PASS, FAIL or SKIP with why.

A property returns an ``Outcome`` through ``passed``, ``failed`` or ``skipped``; the check names
it and collects the results into a ``Report``. A failure's message says what went wrong and
how to fix it, so that the line alone is enough to act on.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

Status = Literal["PASS", "FAIL", "SKIP"]


class Outcome(NamedTuple):
    """What a property found: its status and a one-line message."""

    status: Status
    message: str


def passed(detail: str = "") -> Outcome:
    """The property holds; ``detail`` says what was checked (e.g. the learning rate that worked)."""
    return Outcome("PASS", detail)


def failed(what: str, fix: str) -> Outcome:
    """The property does not hold: ``what`` went wrong and the ``fix``."""
    return Outcome("FAIL", f"{what.rstrip('.')}. Fix: {fix}")


def skipped(why: str) -> Outcome:
    """The property cannot be checked for this optimizer, and why."""
    return Outcome("SKIP", why)


@dataclasses.dataclass(frozen=True)
class PropertyResult:
    """One property's line of the report."""

    name: str
    status: Status
    message: str

    def __str__(self) -> str:
        return f"{self.status}  {self.name:<20} {self.message}".rstrip()


@dataclasses.dataclass(frozen=True)
class Report:
    """The results of ``check_optimizer`` for one optimizer, in the order they were checked.

    ``print(report)`` shows a header and one line per property; ``report.assert_ok()`` raises
    ``AssertionError`` with that text when a property failed (for pytest).
    """

    label: str
    results: tuple[PropertyResult, ...]

    @property
    def ok(self) -> bool:
        """True when no property failed (skipped ones do not count against it)."""
        return not self.failed

    @property
    def failed(self) -> list[str]:
        """The names of the failed properties."""
        return [r.name for r in self.results if r.status == "FAIL"]

    @property
    def skipped(self) -> list[str]:
        """The names of the skipped properties."""
        return [r.name for r in self.results if r.status == "SKIP"]

    def __getitem__(self, name: str) -> PropertyResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no property {name!r} in this report; it has {self._names()}")

    def __str__(self) -> str:
        counts = ", ".join(
            f"{sum(r.status == s for r in self.results)} {word}"
            for s, word in (("PASS", "passed"), ("FAIL", "failed"), ("SKIP", "skipped"))
        )
        return "\n".join([f"{self.label}: {counts}", *map(str, self.results)])

    def assert_ok(self) -> None:
        """``AssertionError`` with the whole report unless every property passed or was skipped."""
        if not self.ok:
            raise AssertionError(f"{', '.join(self.failed)} failed:\n{self}")

    def _names(self) -> str:
        return ", ".join(r.name for r in self.results)
