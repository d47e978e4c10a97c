"""Rebuild README.md's Findings from the studies stored under runs/, or check it is current.

    python scripts/findings.py            # rewrite the generated block of README.md
    python scripts/findings.py --check    # exit 1 if README.md's block is not what runs/ says

Every cited study must be stored as `python scripts/compare.py --config
configs/studies/NAME.yaml --out runs/NAME` leaves it, finished and produced by the present code;
otherwise the script ends in an `error:` line naming the study and the command that regenerates
it (see jaxopt_lab/findings.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jaxopt_lab._cli import add_debug_argument, run_main
from jaxopt_lab.findings import CITED, render, replace_block


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default="runs", help="where the studies are stored")
    parser.add_argument("--readme", default="README.md", help="the README to rebuild")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if stale")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    return run_main(lambda: _findings(args), debug=args.debug)


def _findings(args: argparse.Namespace) -> int:
    readme = Path(args.readme)
    text = readme.read_text(encoding="utf-8")
    updated = replace_block(text, render(Path(args.runs), CITED))
    if args.check:
        if updated != text:
            print(
                f"{readme}: its Findings differ from the stored studies; run "
                "python scripts/findings.py",
                file=sys.stderr,
            )
            return 1
        print(f"{readme}: Findings match the stored studies")
        return 0
    readme.write_text(updated, encoding="utf-8")
    print(f"{readme}: Findings rebuilt from {len(CITED)} studies in {args.runs}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
