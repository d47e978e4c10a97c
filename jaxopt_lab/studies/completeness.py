"""Whether a study's run sets reached their planned epochs, and how a report says they did not.

A run set is *complete* when every run's last record is the epoch its ``config.yaml`` plans
(``train.epochs``) and its ``summary.json`` was written for those epochs (the engine writes it
last, after the final test evaluation). An interrupted study (Ctrl-C, a crash, a job killed
mid-run) leaves run sets that stopped at an earlier epoch, or never started. Their "final"
numbers are those of the last epoch reached, so a report built from them must say so: the
report refuses by default (``IncompleteStudyError``) and, when a partial report is asked for,
opens with :func:`warning_lines`.

Pure functions over :class:`RunSetProgress`, which :mod:`jaxopt_lab.studies.store` reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from jaxopt_lab.engine.outputs import SUMMARY


@dataclasses.dataclass(frozen=True)
class RunSetProgress:
    """How far one run set got.

    ``where``: its directory relative to the study's; ``rows``: the rows it trains;
    ``planned``: ``train.epochs`` of its ``config.yaml`` (None: not started, no config yet);
    ``reached``: each run's last recorded epoch; ``summarized``: whether its ``summary.json``
    was written for the planned epochs.
    """

    where: str
    rows: tuple[str, ...]
    planned: int | None
    reached: Mapping[str, int]
    summarized: bool

    @property
    def complete(self) -> bool:
        return (
            self.planned is not None
            and bool(self.reached)
            and all(epoch == self.planned for epoch in self.reached.values())
            and self.summarized
        )

    @property
    def lost_records(self) -> bool:
        """Finished (its summary was written for the planned epochs) yet short of records: lines
        were deleted or the file cut short, which no resume can put back."""
        return self.summarized and not self.complete


def incomplete(progress: Sequence[RunSetProgress]) -> list[RunSetProgress]:
    """The run sets of ``progress`` that are not complete."""
    return [p for p in progress if not p.complete]


def describe(progress: Sequence[RunSetProgress]) -> list[str]:
    """One sentence per row (per group of its runs at one epoch) of the incomplete run sets,
    e.g. ``SGD (run set runs/): 3 of 3 runs at epoch 1 of 3``."""
    out = []
    for p in incomplete(progress):
        where = f"run set {p.where}/"
        rows = f"{', '.join(p.rows)} ({where})" if p.rows else where
        if p.lost_records:
            out.append(
                f"{rows}: its {SUMMARY} says it finished {p.planned} epochs, but its metrics lack "
                "records (lines deleted, or a copy cut short), which no resume puts back: "
                "that run set must be retrained"
            )
            continue
        if not p.reached:
            planned = "" if p.planned is None else f" (0 of {p.planned} epochs)"
            out.append(f"{rows}: not started{planned}")
            continue
        if all(epoch == p.planned for epoch in p.reached.values()):
            out.append(
                f"{rows}: epoch {p.planned} of {p.planned} reached, but no {SUMMARY} for it "
                "(training stopped before the final test evaluation)"
            )
            continue
        for row in p.rows:
            runs = {run: e for run, e in p.reached.items() if run.split("/", 1)[0] == row}
            for epoch in sorted(set(runs.values()) - {p.planned}):
                at = sorted(run for run, e in runs.items() if e == epoch)
                which = "" if len(at) == len(runs) else f": {', '.join(at)}"
                out.append(
                    f"{row} ({where}): {len(at)} of {len(runs)} runs at epoch {epoch} of "
                    f"{p.planned}{which}"
                )
    return out


def error_message(run_dir: str, progress: Sequence[RunSetProgress], command: str) -> str:
    """Why a report of ``run_dir`` is refused, and the two ways on (``command``: the study's
    ``jaxopt-lab compare`` command line)."""
    lines = "; ".join(describe(progress))
    return (
        f"{run_dir} is an incomplete study (its final metrics would be those of earlier "
        f"epochs): {lines}. {_finish(progress)} `{command}` (it resumes interrupted run sets from "
        "their last checkpoint and keeps finished ones), or build a partial report, marked "
        "as such, with jaxopt-lab report --allow-incomplete"
    )


def warning_lines(progress: Sequence[RunSetProgress], command: str) -> list[str]:
    """The markdown block that opens a partial report: what stopped where, and the command
    that finishes it."""
    return [
        "> **⚠ Partial report: this study is incomplete.** Some runs stopped before their "
        "planned epochs: their *final* numbers below are those of the last epoch they reached "
        "(marked *partial* in the table), they have no final test evaluation, and every "
        "comparison and conclusion below is provisional.",
        ">",
        *(f"> - {line}" for line in describe(progress)),
        ">",
        f"> {_finish(progress)} `{command}` (it resumes interrupted run sets from their last "
        "checkpoint), then rebuild this report.",
        "",
    ]


def _finish(progress: Sequence[RunSetProgress]) -> str:
    if any(p.lost_records for p in progress):
        return "Delete the directories of the run sets that must be retrained, then finish it with"
    return "Finish it with"
