"""Rebuild a study's report from its stored metrics, without training.

python scripts/report.py runs/seed_table
"""

from __future__ import annotations

import argparse
import sys

from jaxopt_lab.studies.report import build_report
from jaxopt_lab.studies.store import ReportError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="a directory written by scripts/compare.py")
    args = parser.parse_args(argv)
    try:
        report = build_report(args.run_dir)
    except (ReportError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"report: {report.path}\n")
    print(report.headline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
