"""Time one optimizer step against optax and torch.optim, next to the memory-bandwidth roofline.

    python scripts/bench_step.py                                   # all optimizers, all sizes
    python scripts/bench_step.py --optimizers adam --sizes 1x10M 1000x1000 --json runs/step.json
    python scripts/bench_step.py --optimizers adam sgd --flat --plot runs/bench/step.png
    python scripts/bench_step.py --optimizers adam optax.lion my_module:my_adam --sizes 1x10M

The same command as `jaxopt-lab bench step` (the installed console script), which
jaxopt_lab/cli/bench_step.py documents; this file keeps `python scripts/bench_step.py` working.
"""

import sys

from jaxopt_lab.cli.bench_step import main

if __name__ == "__main__":
    sys.exit(main())
