"""Rebuild a study's report from its stored metrics, without training.

    jaxopt-lab report runs/seed_table
    jaxopt-lab report runs/seed_table --allow-incomplete     # a partial report

An interrupted study (a run set stopped before its planned ``train.epochs``, or never started)
is refused: the command prints an ``error:`` line naming which rows stopped at which epoch of how
many and the command that finishes them (rerunning `jaxopt-lab compare` with the same --config and
--out resumes interrupted run sets), and exits 2. Its "final" numbers would otherwise be those of
earlier epochs. ``--allow-incomplete`` builds the report anyway: report.md opens with a warning
block naming what is missing, partial arms and the final columns are marked *partial*, and the
command prints the same list as warnings. A damaged metrics.jsonl (a line that is not JSON) is an
error naming the file and the line.
"""

from __future__ import annotations

import argparse
import sys

from jaxopt_lab.cli.common import add_debug_argument, command_parser, run_main
from jaxopt_lab.studies.report import build_report


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = command_parser(__doc__, prog)
    parser.add_argument("run_dir", help="a directory written by jaxopt-lab compare")
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="build a report of an interrupted study, marked partial, instead of refusing",
    )
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    return run_main(lambda: _report(args), debug=args.debug)


def _report(args: argparse.Namespace) -> int:
    report = build_report(args.run_dir, allow_incomplete=args.allow_incomplete)
    for line in report.incomplete:
        print(f"warning: incomplete: {line}", file=sys.stderr)
    if report.incomplete:
        print("warning: a partial report: its final columns are marked partial", file=sys.stderr)
    print(f"report: {report.path}\n")
    print(report.headline)
    return 0
