"""Rebuild README.md's Findings from the published studies in results/, or check they are current.

    jaxopt-lab findings             # rebuild results/*/report.md and the README's block
    jaxopt-lab findings --check     # exit 1 unless every cited study is current

--check verifies every cited study against the present code (same run sets, same split, the
same replays within tolerance: jaxopt_lab/studies/publish.py), its report against what the
present report code renders from the published records, and README.md's block against the
reports' tables. A stale study ends in an `error:` line naming it, what moved and the command
that regenerates it; one that cannot be verified here (other library versions) in a
`warning:` line naming the versions that would.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from jaxopt_lab.cli.common import add_debug_argument, command_parser, run_main
from jaxopt_lab.findings import (
    CITED,
    FindingsError,
    check_study,
    rebuild_reports,
    render,
    replace_block,
)
from jaxopt_lab.studies.replays import Replayer


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = command_parser(__doc__, prog)
    parser.add_argument("--results", default="results", help="where the studies are published")
    parser.add_argument("--readme", default="README.md", help="the README to rebuild")
    parser.add_argument("--check", action="store_true", help="only verify; exit 1 if stale")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    return run_main(lambda: _findings(args), debug=args.debug)


def _findings(args: argparse.Namespace) -> int:
    readme, results = Path(args.readme), Path(args.results)
    if not args.check:
        rebuild_reports(results, CITED)
        text = readme.read_text(encoding="utf-8")
        readme.write_text(replace_block(text, render(results, CITED)), encoding="utf-8")
        print(f"{readme}: Findings rebuilt from {len(CITED)} studies in {results}/")
        return 0
    started, replayer, stale = time.perf_counter(), Replayer(), []
    for cited in CITED:
        began = time.perf_counter()
        try:
            verdict = check_study(results, cited.study, replayer)
        except FindingsError as error:
            stale.append(str(error))
            print(f"error: {error}", file=sys.stderr)
            continue
        line = f"{verdict.message()} [{time.perf_counter() - began:.0f} s]"
        if verdict.current:
            print(line)
        else:
            print(f"warning: {line}", file=sys.stderr)
    text = readme.read_text(encoding="utf-8")
    if not stale and replace_block(text, render(results, CITED)) != text:
        stale.append("README")
        print(
            f"error: {readme}: its Findings differ from the published studies; run "
            "jaxopt-lab findings",
            file=sys.stderr,
        )
    took = time.perf_counter() - started
    if stale:
        print(f"not current: {len(stale)} problem(s) ({took:.0f} s)", file=sys.stderr)
        return 1
    print(
        f"{readme}: Findings match the {len(CITED)} published studies, all current ({took:.0f} s)"
    )
    return 0
