"""Build a study's report from its stored files only: ``report.md``, tables (CSV/JSON) and
figures in the run directory.

Every number and sentence comes from ``study.yaml`` (the resolved study) and the files the
study's run wrote (the engine's metrics and summaries, or ``results.json`` for the kinds that
run their own loop), so ``jaxopt-lab report RUN_DIR`` rebuilds the same report without
training. The kind composes the report (``jaxopt_lab.studies.kinds``); the store writes it.

An interrupted study (a run set short of its planned epochs, or not started) is refused:
its "final" numbers would be those of earlier epochs (``IncompleteStudyError``, naming what
stopped where and the command that finishes it). ``allow_incomplete=True`` builds a partial
report instead, opened by a warning block (``completeness.warning_lines``) and with the
partial arms and the final columns marked as such.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import Animation, PillowWriter
from PIL import Image

from jaxopt_lab.studies import completeness
from jaxopt_lab.studies.kinds import KINDS
from jaxopt_lab.studies.load import stored_spec
from jaxopt_lab.studies.sections import ReportParts, study_command
from jaxopt_lab.studies.store import ReportError, Store

# A published study's figures are reduced to this many colours (as the README's figure).
PUBLISHED_COLOURS = 64


class IncompleteStudyError(ReportError):
    """Some run set of the study stopped before its planned epochs; the message says which,
    where, and how to finish it or ask for a partial report."""


@dataclasses.dataclass(frozen=True)
class Report:
    """Where the report went and its headline table (markdown), for the script to print;
    ``incomplete``: what stopped where, for a partial report (empty when complete)."""

    path: Path
    headline: str
    incomplete: tuple[str, ...] = ()


def build_report(run_dir: str | Path, *, allow_incomplete: bool = False) -> Report:
    """Rebuild the report of a finished study run directory (of an unfinished one, marked as
    partial, with ``allow_incomplete``).

    Raises:
      IncompleteStudyError: a run set is short of its planned epochs, and not
        ``allow_incomplete``.
      ReportError (``jaxopt_lab.studies.store``): a file it needs is missing or damaged.
    """
    store = Store(Path(run_dir))
    spec = stored_spec(store)
    progress = store.progress()
    unfinished = completeness.incomplete(progress)
    command = study_command(spec, store.training_dir)
    if unfinished and not allow_incomplete:
        raise IncompleteStudyError(completeness.error_message(str(store.root), unfinished, command))
    parts = KINDS[spec.kind].report(spec, store)
    if unfinished:
        lines = [*completeness.warning_lines(unfinished, command), *parts.lines]
        parts = dataclasses.replace(parts, lines=lines)
    figures = figure_bytes(parts, reduced=store.published)
    path = store.write_report(report_text(parts), table_texts(parts), figures)
    return Report(path, parts.headline, tuple(completeness.describe(unfinished)))


def report_text(parts: ReportParts) -> str:
    """``report.md``'s text."""
    return "\n".join(parts.lines).rstrip() + "\n"


def table_texts(parts: ReportParts) -> dict[str, tuple[str | None, str]]:
    """Each table's CSV text (None: JSON only) and JSON text, by file stem."""
    out = {}
    for name, (records, payload) in parts.tables.items():
        csv_text = None
        if records is not None:
            buffer = io.StringIO(newline="")
            writer = csv.DictWriter(buffer, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
            csv_text = buffer.getvalue()
        out[name] = (csv_text, json.dumps(payload, indent=2, default=_json_default))
    return out


def figure_bytes(parts: ReportParts, *, reduced: bool = False) -> dict[str, bytes]:
    """Each figure as the bytes of its file: a ``Figure`` as PNG (``reduced``: to
    ``PUBLISHED_COLOURS`` colours, as a published study keeps them), an ``Animation`` as GIF."""
    out = {}
    # PNGs first: saving an animation closes every open figure.
    for name, fig in sorted(parts.figures.items(), key=lambda kv: isinstance(kv[1], Animation)):
        if isinstance(fig, Animation):
            with tempfile.TemporaryDirectory() as tmp:  # PillowWriter writes to a file only
                path = Path(tmp) / name
                fig.save(path, writer=PillowWriter(fps=12), dpi=70)
                out[name] = path.read_bytes()
            plt.close("all")
        else:
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=110)
            plt.close(fig)
            out[name] = _reduced_png(buffer.getvalue()) if reduced else buffer.getvalue()
    return out


def _reduced_png(png: bytes) -> bytes:
    """``png`` with a palette of ``PUBLISHED_COLOURS`` colours (a third of the bytes or less;
    the figures are lines and flat fills)."""
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(PUBLISHED_COLOURS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _json_default(x: Any) -> Any:
    if dataclasses.is_dataclass(x):
        return {k: _finite(v) for k, v in dataclasses.asdict(x).items()}
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot serialise {type(x).__name__}")


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v
