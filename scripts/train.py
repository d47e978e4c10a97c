"""Train the run set of a config on MNIST and write its output directory.

    python scripts/train.py --config configs/adam.yaml --out runs/adam
    python scripts/train.py --config configs/adam.yaml --set train.epochs=3 \
        train.seeds=[0,1,2] optimizer.learning_rate=[1e-3,3e-3] --out runs/adam-sweep
    python scripts/train.py --config configs/sgd.yaml --config configs/adam.yaml --out runs/cmp
    python scripts/train.py --config configs/adam.yaml --set optimizer.name=optax.lion \
        "optimizer.hparams={}" optimizer.learning_rate=[1e-4,3e-4] --out runs/lion-sweep

optimizer.name is any optimizer reference: a built-in, optax.lion, optax.contrib.muon, or
my_module:my_factory (from the working directory, PYTHONPATH or the config file's folder).

Several --config files train together in one compiled program (their model/train/data
sections must match; --set applies to each). Existing outputs need --resume or --overwrite; a
study's directory (scripts/compare.py) is refused. Errors end in one `error:` line (exit status
2), Ctrl-C and SIGTERM in how to resume (130, 143); --debug shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax

from jaxopt_lab._cli import add_debug_argument, add_set_argument, run_main
from jaxopt_lab.config import ConfigError, load_config
from jaxopt_lab.engine import train, train_many
from jaxopt_lab.engine.outputs import OutputExistsError
from jaxopt_lab.studies.store import STUDY_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", action="append", required=True, help="YAML config (repeatable)")
    add_set_argument(parser, "overrides, e.g. train.epochs=3 train.seeds=[0,1] (repeatable)")
    parser.add_argument("--out", required=True, help="output directory, e.g. runs/adam")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace the outputs in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    interrupted = (
        f"the completed epochs are kept in {args.out}: continue with the same command and --resume"
    )
    return run_main(lambda: _train(args), debug=args.debug, interrupted=interrupted)


def _train(args: argparse.Namespace) -> int:
    if (Path(args.out) / STUDY_FILE).exists():
        raise OutputExistsError(
            f"{args.out} holds a study ({STUDY_FILE}, written by scripts/compare.py): a "
            "train.py run written there would mix with it, even with --overwrite or --resume. "
            "Choose another --out"
        )
    configs = [load_config(path, args.set) for path in args.config]
    options = {"resume": args.resume, "overwrite": args.overwrite, "quiet": args.quiet}
    if len(configs) == 1:
        summary = train(configs[0], args.out, **options)
    else:
        labels = [c.optimizer.name for c in configs]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"two --config files use the same optimizer: {labels}")
        summary = train_many(dict(zip(labels, configs, strict=True)), args.out, **options)
    if jax.process_index() != 0:  # only process 0 writes outputs and reports them
        return 0
    for run in summary["runs"]:
        if run["diverged"]:
            print(f"{run['run']}: diverged at epoch {run['diverged_epoch']}")
        else:
            final = run["final"]
            print(
                f"{run['run']}: train loss {final['train_loss']:.4f}  val loss "
                f"{final['val_loss']:.4f}  val acc {final['val_accuracy']:.4f}  test acc "
                f"{run['test_accuracy']:.4f}"
            )
    print(
        f"{summary['epochs_completed']} epochs in {summary['wall_seconds']:.1f} s (compile "
        f"{summary['compile_seconds']:.1f} s) on {summary['device']}; outputs in {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
