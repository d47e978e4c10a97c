"""Rebuild a study's report from its stored metrics, without training.

    python scripts/report.py runs/seed_table
    python scripts/report.py runs/seed_table --allow-incomplete    # a partial report

The same command as `jaxopt-lab report` (the installed console script), which
jaxopt_lab/cli/report.py documents; this file keeps `python scripts/report.py` working.
"""

import sys

from jaxopt_lab.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
