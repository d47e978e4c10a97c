"""Run a study: write its resolved spec, run its kind, then build the report from the files.

    spec = load_spec("configs/studies/seed_table.yaml")
    report = run_study(spec, "runs/seed_table")      # report.path, report.headline

``out_dir`` gets ``study.yaml`` first (so the report can always be rebuilt from the directory
alone), then whatever the kind writes (``jaxopt_lab.studies.kinds``), then the report.
"""

from __future__ import annotations

from pathlib import Path

from jaxopt_lab.data import MNIST
from jaxopt_lab.studies.kinds import KINDS
from jaxopt_lab.studies.report import Report, build_report
from jaxopt_lab.studies.runsets import OnSet
from jaxopt_lab.studies.spec import StudySpec
from jaxopt_lab.studies.store import Store


def run_study(
    spec: StudySpec,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    quiet: bool = False,
    data: MNIST | None = None,
    on_set: OnSet | None = None,
) -> Report:
    """Run every phase of the study in ``out_dir``, then build and return its report.

    ``data`` (tiny data in tests) replaces the MNIST split every run set would load;
    ``on_set`` is told about each run set before it trains.
    """
    store = Store(Path(out_dir))
    store.write_spec(spec)
    KINDS[spec.kind].run(spec, store, overwrite=overwrite, quiet=quiet, data=data, on_set=on_set)
    return build_report(store.root)
