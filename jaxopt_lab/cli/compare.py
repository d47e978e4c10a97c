r"""Run a study from its config and write its report.

    jaxopt-lab compare --config configs/studies/seed_table.yaml --out runs/seed_table
    jaxopt-lab compare --config configs/studies/seed_table.yaml --out /tmp/quick \
        --set train.epochs=2 train.seeds=[0,1] data.train_size=2000 --quiet

A run directory already holding finished run sets keeps them (an interrupted one is resumed);
--overwrite retrains everything; a rerun with other runs than the directory holds is refused
before anything is written, and so is a `jaxopt-lab train` run's directory. Ends by printing where
the report is and its headline table. Errors end in one `error:` line (exit status 2), Ctrl-C
and SIGTERM in how to continue (130, 143); --debug shows the traceback.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from jaxopt_lab.cli.common import add_debug_argument, add_set_argument, command_parser, run_main
from jaxopt_lab.engine.outputs import OUTPUT_NAMES, OutputExistsError
from jaxopt_lab.studies.load import load_spec
from jaxopt_lab.studies.runner import run_study


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = command_parser(__doc__, prog)
    parser.add_argument(
        "--config", required=True, help="study YAML, e.g. configs/studies/seed_table.yaml"
    )
    parser.add_argument("--out", required=True, help="run directory, e.g. runs/seed_table")
    add_set_argument(
        parser, "override for every row (train.epochs=2) or the study (tuning.sweep_seeds=[0])"
    )
    parser.add_argument("--overwrite", action="store_true", help="retrain every run set in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    interrupted = (
        f"the finished run sets and completed epochs are kept in {args.out}: run the same "
        "command again to continue (interrupted run sets resume bitwise)"
    )
    return run_main(lambda: _compare(args), debug=args.debug, interrupted=interrupted)


def _compare(args: argparse.Namespace) -> int:
    run = [name for name in OUTPUT_NAMES if (Path(args.out) / name).exists()]
    if run:
        raise OutputExistsError(
            f"{args.out} holds a jaxopt-lab train run ({', '.join(run)}), not a study: a study "
            "written there would mix with it, even with --overwrite. Choose another --out"
        )

    def on_set(k: int, n: int, where: str, rows: Sequence[str]) -> None:
        print(f"[{k}/{n}] {where}: {', '.join(rows)}", flush=True)

    started = time.perf_counter()
    spec = load_spec(args.config, args.set)
    report = run_study(spec, args.out, overwrite=args.overwrite, quiet=args.quiet, on_set=on_set)
    print(f"\nstudy {spec.study} done in {time.perf_counter() - started:.1f} s")
    print(f"report: {report.path}\n")
    print(report.headline)
    return 0
