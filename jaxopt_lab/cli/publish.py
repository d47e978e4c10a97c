"""Publish a finished study into results/, put a published one back to train further, or check one.

    jaxopt-lab publish runs/seed_table                     # → results/seed_table/
    jaxopt-lab publish runs/field --allow-incomplete       # the finished run sets so far
    jaxopt-lab publish --restore results/field runs/field  # then rerun its compare command
    jaxopt-lab publish --check results/seed_table [...]    # exit 1 unless current
    jaxopt-lab publish --seal runs/old_study               # records written before seals

Publishing copies the study's records (no checkpoints), records what the present code computes
on the study's replays (fingerprint.json) and rebuilds the report from the published records.
See jaxopt_lab/studies/publish.py and docs/studies.md ("Published results").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jaxopt_lab.cli.common import add_debug_argument, command_parser, run_main
from jaxopt_lab.studies.publish import publish, restore, verify
from jaxopt_lab.studies.replays import Replayer
from jaxopt_lab.studies.store import Store


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = command_parser(__doc__, prog)
    parser.add_argument("dirs", nargs="+", help="a study run directory (runs/NAME), or see below")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--restore",
        action="store_true",
        help="RESULTS_DIR RUN_DIR: put the published records back into an empty RUN_DIR",
    )
    mode.add_argument(
        "--check", action="store_true", help="RESULTS_DIR...: verify published studies"
    )
    mode.add_argument(
        "--seal",
        action="store_true",
        help="DIR...: seal the records of studies written before seals existed, as they are",
    )
    parser.add_argument("--to", help="where to publish (default results/<name of the run dir>)")
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="publish the finished run sets of an unfinished study",
    )
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    return run_main(lambda: _publish(args, parser), debug=args.debug)


def _publish(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.restore:
        if len(args.dirs) != 2:
            parser.error("--restore takes RESULTS_DIR RUN_DIR")
        sets = restore(*args.dirs)
        print(f"restored {len(sets)} run sets into {args.dirs[1]}; rerun its compare.py command")
        return 0
    if args.seal:
        for run_dir in args.dirs:
            sealed = Store(Path(run_dir)).seal_as_is()
            print(f"{run_dir}: sealed {', '.join(sealed) or 'nothing (its records were sealed)'}")
        return 0
    replayer = Replayer()
    if args.check:
        status = 0
        for results_dir in args.dirs:
            started = time.perf_counter()
            verdict = verify(results_dir, replayer=replayer)
            print(f"{verdict.message()} [{time.perf_counter() - started:.0f} s]")
            status = status or (0 if verdict.current else 1)
        return status
    if len(args.dirs) != 1:
        parser.error("publish one run directory at a time")
    path = publish(args.dirs[0], args.to, allow_incomplete=args.allow_incomplete, replayer=replayer)
    if path is None:
        print(f"published the finished run sets of {args.dirs[0]} (no report: rows not started)")
    else:
        print(f"published: {path}")
    return 0
