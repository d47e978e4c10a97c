r"""Train the run set of a config on a workload (MNIST by default) and write its output directory.

    jaxopt-lab train --config configs/adam.yaml --out runs/adam
    jaxopt-lab train --set workload.name=mnist1d_cnn     # configs/workloads/<name>.yaml
    jaxopt-lab train --config configs/adam.yaml --set train.epochs=3 \
        train.seeds=[0,1,2] optimizer.learning_rate=[1e-3,3e-3] --out runs/adam-sweep
    jaxopt-lab train --config configs/sgd.yaml --config configs/adam.yaml --out runs/cmp
    jaxopt-lab train --config configs/adam.yaml --set optimizer.name=optax.lion \
        "optimizer.hparams={}" optimizer.learning_rate=[1e-4,3e-4] --out runs/lion-sweep

Without --config, the run config is the workload's own, configs/workloads/<workload.name>.yaml
(mnist_mlp unless --set names another), and --out defaults to runs/<workload.name>.
optimizer.name is any optimizer reference: a built-in, optax.lion, optax.contrib.muon, or
my_module:my_factory (from the working directory, PYTHONPATH or the config file's folder).

Several --config files train together in one compiled program (their model/train/data
sections must match; --set applies to each). Existing outputs need --resume or --overwrite; a
study's directory (jaxopt-lab compare) is refused. Errors end in one `error:` line (exit status
2), Ctrl-C and SIGTERM in how to resume (130, 143); --debug shows the traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax

from jaxopt_lab import workloads
from jaxopt_lab.cli.common import add_debug_argument, add_set_argument, command_parser, run_main
from jaxopt_lab.config import ConfigError, load_config
from jaxopt_lab.engine import train, train_many
from jaxopt_lab.engine.outputs import OutputExistsError
from jaxopt_lab.studies.store import STUDY_FILE

# Where a workload's own run config (configs/workloads/<name>.yaml) is looked for without
# --config: the checkout this package runs from (an editable install; scripts/train.py always
# found it there, from any working directory), else the working directory (a package installed
# from a wheel has no configs/ beside it).
CHECKOUT = Path(__file__).resolve().parents[2]
WORKLOAD_CONFIGS = Path("configs") / "workloads"


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = command_parser(__doc__, prog)
    parser.add_argument(
        "--config",
        action="append",
        help="YAML config (repeatable); default: configs/workloads/<workload.name>.yaml",
    )
    add_set_argument(parser, "overrides, e.g. train.epochs=3 train.seeds=[0,1] (repeatable)")
    parser.add_argument("--out", help="output directory, e.g. runs/adam; default runs/<workload>")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the run in --out")
    mode.add_argument("--overwrite", action="store_true", help="replace the outputs in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    workload = _workload(args.set)
    defaulted = args.config is None
    args.out = args.out or f"runs/{workload}"
    interrupted = (
        f"the completed epochs are kept in {args.out}: continue with the same command and --resume"
    )
    return run_main(
        lambda: _train(args, workload if defaulted else None),
        debug=args.debug,
        interrupted=interrupted,
    )


def _workload(overrides: list[str]) -> str:
    """The workload ``--set workload.name=…`` names (the last one wins), else the default."""
    names = [o.split("=", 1)[1].strip() for o in overrides if o.startswith("workload.name=")]
    return names[-1] if names else workloads.DEFAULT


def _workload_config(workload: str) -> str:
    """The path of ``workload``'s own run config, from the checkout or the working directory."""
    for root in (CHECKOUT, Path.cwd()):
        if (root / WORKLOAD_CONFIGS).is_dir():
            return str(root / WORKLOAD_CONFIGS / f"{workload}.yaml")
    raise ConfigError(
        f"without --config, train reads {WORKLOAD_CONFIGS}/{workload}.yaml, but there is no "
        f"{WORKLOAD_CONFIGS}/ in {Path.cwd()} (nor beside the jaxopt_lab package): run from the "
        "repository root, or pass --config PATH"
    )


def _train(args: argparse.Namespace, defaulted: str | None) -> int:
    """Train; ``defaulted`` is the workload whose own config stands in for --config."""
    if defaulted is not None and defaulted not in workloads.WORKLOADS:
        raise ConfigError(
            f"--set: workload.name: unknown workload {defaulted!r}; use one of "
            f"{', '.join(workloads.WORKLOADS)}"
        )
    if (Path(args.out) / STUDY_FILE).exists():
        raise OutputExistsError(
            f"{args.out} holds a study ({STUDY_FILE}, written by jaxopt-lab compare): a "
            "train.py run written there would mix with it, even with --overwrite or --resume. "
            "Choose another --out"
        )
    paths = args.config or [_workload_config(defaulted)]
    configs = [load_config(path, args.set) for path in paths]
    options = {"resume": args.resume, "overwrite": args.overwrite, "quiet": args.quiet}
    if len(configs) == 1:
        summary = train(configs[0], args.out, **options)
    else:
        labels = [c.optimizer.label for c in configs]
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
            line = f"{run['run']}: train loss {final['train_loss']:.4f}  val loss "
            line += f"{final['val_loss']:.4f}"
            if final["val_accuracy"] is not None:  # a workload without accuracy has none
                line += f"  val acc {final['val_accuracy']:.4f}"
                line += f"  test acc {run['test_accuracy']:.4f}"
            else:
                line += f"  test loss {run['test_loss']:.4f}"
            print(line)
    print(
        f"{summary['epochs_completed']} epochs in {summary['wall_seconds']:.1f} s (compile "
        f"{summary['compile_seconds']:.1f} s) on {summary['device']}; outputs in {args.out}"
    )
    return 0
