"""Digests of the records the engine writes, so that an edited number is never used silently.

``summary.json`` carries a ``seal``, computed when the engine writes it::

    "seal": {"records": {run: "digest of its epoch-1 record, of epoch 2, … (space-separated)"},
             "runs":    {run: digest of its entry in summary.json's "runs"},
             "rest":    digest of summary.json's other keys}

and each checkpoint carries the ``records`` part for the epochs it has trained. A digest is the
first 16 hex digits of the sha256 of the object's canonical JSON (sorted keys, no spaces), so a
record reads the same from ``metrics.jsonl`` and from a published ``metrics.jsonl.gz``, and
only a changed value (not whitespace) changes it. Resume checks ``metrics.jsonl`` against the
checkpoint; the studies' reader (reports, publishing, Findings) checks each finished run set's
records and summary against the summary's seal.

This guards against edits, not against someone who rewrites the digests too: the records stay
plain text that anyone can read, and anything recomputed by hand shows in version control.
Summaries written before seals existed have none and are read as before; publishing asks to
seal them explicitly (``jaxopt-lab publish --seal``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

SEAL = "seal"


def digest(obj: Any) -> str:
    """16 hex digits of the sha256 of ``obj``'s canonical JSON."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def records_seal(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Per run, the digests of its records in epoch order, space-separated (one line per run
    in summary.json)."""
    by_run: dict[str, list[tuple[int, str]]] = {}
    for record in records:
        by_run.setdefault(record["run"], []).append((record["epoch"], digest(record)))
    return {run: " ".join(d for _, d in sorted(entries)) for run, entries in by_run.items()}


def summary_seal(summary: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> dict:
    """The ``seal`` of ``summary`` (without one) and the records it summarises."""
    return {
        "records": records_seal(records),
        "runs": {entry["run"]: digest(entry) for entry in summary.get("runs", [])},
        "rest": digest(_rest(summary)),
    }


def summary_problems(summary: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """What in a sealed ``summary`` differs from its seal: ``(run, what)``, run None for the
    keys outside "runs"; empty when it matches or has no seal."""
    sealed = summary.get(SEAL)
    if sealed is None:
        return []
    problems: list[tuple[str | None, str]] = []
    entries = {entry.get("run"): entry for entry in summary.get("runs", [])}
    for run, expected in sealed.get("runs", {}).items():
        if run not in entries:
            problems.append((run, f"the entry of run {run} is missing"))
        elif digest(entries[run]) != expected:
            problems.append((run, f"the entry of run {run} differs from what was written"))
    for run in entries.keys() - sealed.get("runs", {}).keys():
        problems.append((run, f"the entry of run {run} was not written by the engine"))
    if digest(_rest(summary)) != sealed.get("rest"):
        keys = ", ".join(sorted(_rest(summary)))
        problems.append((None, f"its keys outside 'runs' ({keys}) differ from what was written"))
    return problems


def record_problems(
    numbered: Sequence[tuple[int, Mapping[str, Any]]],
    sealed: Mapping[str, str],
    *,
    through_epoch: int | None = None,
) -> list[tuple[int | None, str]]:
    """What in ``numbered`` (line number, record) differs from the ``records`` seal:
    ``(line, what)``, line None for a sealed record that no line holds. Only epochs up to
    ``through_epoch`` are compared when given (a checkpoint seals the epochs it trained)."""
    problems: list[tuple[int | None, str]] = []
    seen: set[tuple[str, int]] = set()
    by_run = {run: digests.split() for run, digests in sealed.items()}
    for line, record in numbered:
        run, epoch = record.get("run"), record.get("epoch")
        if through_epoch is not None and isinstance(epoch, int) and epoch > through_epoch:
            continue
        digests = by_run.get(run, []) if isinstance(run, str) else []
        if not isinstance(epoch, int) or not 1 <= epoch <= len(digests):
            problems.append((line, f"holds a record (run {run}, epoch {epoch}) never written"))
            continue
        seen.add((run, epoch))
        if digest(record) != digests[epoch - 1]:
            problems.append((line, f"(run {run}, epoch {epoch}) differs from what was written"))
    for run, digests in by_run.items():
        last = len(digests) if through_epoch is None else min(len(digests), through_epoch)
        for epoch in range(1, last + 1):
            if (run, epoch) not in seen:
                problems.append((None, f"lacks the record of run {run}, epoch {epoch}"))
    return problems


def _rest(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in ("runs", SEAL)}
