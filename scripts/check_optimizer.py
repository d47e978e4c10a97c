"""Check an optimizer against the conformance properties of jaxopt_lab.testing; print the table.

    python scripts/check_optimizer.py adam --set learning_rate=1e-2
    python scripts/check_optimizer.py adam --reference optax.adam --set learning_rate=0.05 b1=0.8
    python scripts/check_optimizer.py optax.lion --set learning_rate=1e-3 --skip rosenbrock
    python scripts/check_optimizer.py adam --reference tests.reference:reference_adam

The same command as `jaxopt-lab check` (the installed console script), which
jaxopt_lab/cli/check.py documents; this file keeps `python scripts/check_optimizer.py` working.
"""

import sys

from jaxopt_lab.cli.check import main

if __name__ == "__main__":
    sys.exit(main())
