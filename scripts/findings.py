"""Rebuild README.md's Findings from the published studies in results/, or check they are current.

    python scripts/findings.py            # rebuild results/*/report.md and the README's block
    python scripts/findings.py --check    # exit 1 unless every cited study is current

The same command as `jaxopt-lab findings` (the installed console script), which
jaxopt_lab/cli/findings.py documents; this file keeps `python scripts/findings.py` working.
"""

import sys

from jaxopt_lab.cli.findings import main

if __name__ == "__main__":
    sys.exit(main())
