"""Rebuild a study's report from its stored metrics, without training.

    python scripts/report.py runs/seed_table
    python scripts/report.py runs/seed_table --allow-incomplete    # a partial report

The command lives in jaxopt_lab/cli/report.py, whose docstring documents it; this file
keeps `python scripts/report.py` working in a checkout.
"""

import sys

from jaxopt_lab.cli.report import main

if __name__ == "__main__":
    sys.exit(main())
