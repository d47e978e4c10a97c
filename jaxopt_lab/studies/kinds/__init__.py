"""Study kinds: one module per kind, and the one table of them.

A kind's module defines:

- ``Settings``: the dataclass of its own study section (in the YAML under the kind's name, e.g.
  ``tuning:``), or None when it has none;
- ``check(spec, where)``: validation of that section and of the rows, raising ``ConfigError``
  through ``where`` (so the error names the key and the file, or ``--set``);
- ``run(spec, store, *, overwrite, quiet, data, on_set)``: trains or computes, writing through
  the store (``jaxopt_lab.studies.store``);
- ``report(spec, store) -> ReportParts``: pure; it reads through the store and returns the
  report's lines, headline, tables and figures, which the store writes;
- either ``plan(spec, store)``: the phases it trains with the engine (``runsets.Phase``), from
  which its run sets and its replays follow, or ``replays(spec)``: the replays of a kind with
  its own loop (``jaxopt_lab.studies.replays``), and ``USES_DATA``: whether it reads MNIST;
- optionally ``GROWS_BY_ROWS``: each row trains in run sets of its own, so a rerun may append
  rows and keep every finished run set (``runner.check_same_study``), with ``row_run_sets(name)``
  (where a row's run sets live: a rerun may withdraw appended rows that have none yet) and
  ``REPORT_KEYS``: the keys of its section that only its report reads, which a rerun may change.

Adding a kind is a module here and its entry in ``KINDS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType

from jaxopt_lab._typed_yaml import Where
from jaxopt_lab.studies.kinds import compare, field, landscapes, second_order, tuning, workloads
from jaxopt_lab.studies.replays import Replay
from jaxopt_lab.studies.runsets import Plan
from jaxopt_lab.studies.sections import ReportParts
from jaxopt_lab.studies.spec import StudySpec
from jaxopt_lab.studies.store import Store


@dataclasses.dataclass(frozen=True)
class Kind:
    """What the spec, the runner and the report need of a study kind."""

    settings: type | None
    check: Callable[[StudySpec, Where], None]
    run: Callable[..., None]
    report: Callable[[StudySpec, Store], ReportParts]
    plan: Plan | None = None
    replays: Callable[[StudySpec], dict[str, Replay]] | None = None
    uses_data: bool = True
    grows_by_rows: bool = False
    row_run_sets: Callable[[str], list[str]] | None = None
    report_keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, module: ModuleType) -> Kind:
        return cls(
            module.Settings,
            module.check,
            module.run,
            module.report,
            plan=getattr(module, "plan", None),
            replays=getattr(module, "replays", None),
            uses_data=getattr(module, "USES_DATA", True),
            grows_by_rows=getattr(module, "GROWS_BY_ROWS", False),
            row_run_sets=getattr(module, "row_run_sets", None),
            report_keys=getattr(module, "REPORT_KEYS", ()),
        )


KINDS: dict[str, Kind] = {
    "compare": Kind.of(compare),
    "tuning": Kind.of(tuning),
    "landscapes": Kind.of(landscapes),
    "second_order": Kind.of(second_order),
    "field": Kind.of(field),
    "workloads": Kind.of(workloads),
}
