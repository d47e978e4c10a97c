"""The second-order study: exact Newton, Hessian-free Gauss–Newton and L-BFGS against Adam.

The computation (its own full-batch loop, the methods, their time and memory per step) is
``jaxopt_lab.studies.second_order``; this module is its study wiring: the ``second_order:``
section, the run that stores ``results.json``, and the report with loss curves per step and per
second, the cost against the parameter count, and generated conclusions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxopt_lab._typed_yaml import Where, one_of, to_dict
from jaxopt_lab.config import Config, config_from_dict
from jaxopt_lab.data import MNIST
from jaxopt_lab.studies import markdown, plots
from jaxopt_lab.studies import second_order as curvature
from jaxopt_lab.studies.replays import Replay, Replayer
from jaxopt_lab.studies.runsets import OnSet, load_data
from jaxopt_lab.studies.sections import ReportParts, header_lines
from jaxopt_lab.studies.spec import StudySpec, require_default_workload
from jaxopt_lab.studies.store import Store

# A replay: each method for at most this many steps on the smallest curve model and this many
# images, its losses compared (no timings). Conjugate gradient amplifies float32 rounding with
# each iteration: at the study's 20 the Hessian-free losses moved by 0.7 % in 3 steps under
# another instruction set, at 3 iterations by 1e-6 (docs/studies.md, "Reproducibility").
REPLAY_STEPS = 5
REPLAY_IMAGES = 200
REPLAY_CG_ITERS = 3


@dataclasses.dataclass(frozen=True)
class Settings:
    """The ``second_order:`` section (see ``jaxopt_lab.studies.second_order.run``): the first
    ``n_train`` training images (full batch) and ``n_val`` validation images, the hidden sizes
    of the loss curves and of the cost measurement, where exact Newton stops running
    (``newton_max_params``) and where its Hessian counts as not fitting
    (``memory_budget_bytes``), and each method's step count and options."""

    n_train: int
    n_val: int
    curve_hidden: list[int]
    cost_hidden: list[int]
    newton_max_params: int
    memory_budget_bytes: int
    steps: dict[str, int]
    seed: int = 0
    methods: list[str] = dataclasses.field(default_factory=lambda: list(curvature.METHODS))
    adam_learning_rate: float = 1e-2
    cg_iters: int = 20
    damping: float = 1.0
    cost_steps: int = 3


def check(spec: StudySpec, where: Where) -> None:
    require_default_workload(spec, where, "full-batch methods on the MLP 784-h-10 and MNIST")
    cfg = spec.settings
    for i, method in enumerate(cfg.methods):
        one_of(where, f"second_order.methods[{i}]", method, curvature.METHODS)
    missing = [m for m in cfg.methods if m not in cfg.steps]
    if missing:
        raise where.error("second_order.steps", f"lacks a step count for {missing}")
    for method, steps in cfg.steps.items():
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise where.error(
                f"second_order.steps.{method}", f"needs an integer ≥ 1, got {steps!r}"
            )


def run(
    spec: StudySpec,
    store: Store,
    *,
    overwrite: bool,
    quiet: bool,
    data: MNIST | None,
    on_set: OnSet | None,
) -> None:
    """Trains every method on the study's split (loaded from ``base.data`` unless given)."""
    if data is None:
        data = load_data(_data_config(spec))
    store.write_results(curvature.run(to_dict(spec.settings), data))


def replays(spec: StudySpec) -> dict[str, Replay]:
    """Each method, ``REPLAY_STEPS`` steps (CG: ``REPLAY_CG_ITERS`` iterations), on the
    smallest curve model and ``REPLAY_IMAGES`` images of the study's split: its losses."""
    cfg = to_dict(spec.settings)
    small = {
        **cfg,
        "n_train": min(cfg["n_train"], REPLAY_IMAGES),
        "n_val": min(cfg["n_val"], REPLAY_IMAGES),
        "curve_hidden": [min(cfg["curve_hidden"])],
        "cost_hidden": [],
        "steps": {m: min(s, REPLAY_STEPS) for m, s in cfg["steps"].items()},
        "cg_iters": min(cfg["cg_iters"], REPLAY_CG_ITERS),
    }
    data_cfg = _data_config(spec).data

    def compute(replayer: Replayer) -> dict[str, Any]:
        data = replayer.data(data_cfg)
        results = curvature.run(small, data)
        return {
            hidden: {m: {"losses": r["losses"]} for m, r in curve["methods"].items()}
            for hidden, curve in results["curves"].items()
        }

    label = f"h = {small['curve_hidden'][0]}, {small['n_train']} images, ≤ {REPLAY_STEPS} steps"
    what = {"label": label, "settings": small, "data": to_dict(data_cfg)}
    replay = Replay(what, compute)
    return {replay.key: replay}


def _data_config(spec: StudySpec) -> Config:
    """A run config of the study's ``base`` (its data section is the study's split)."""
    return config_from_dict({"optimizer": {"name": "adam", "learning_rate": 1e-3}, **spec.base})


def report(spec: StudySpec, store: Store) -> ReportParts:
    results = store.read_results()
    lines = [
        *header_lines(spec, store),
        "## Method",
        "",
        f"Full-batch mean cross-entropy on the first {results['n_train']} training images, "
        "MLP 784 → h → 10 (PyTorch init), flat parameters; see the docstring of "
        "`jaxopt_lab/studies/second_order.py` for each method's update and damping.",
        "",
    ]
    figures: dict[str, Any] = {}
    for hidden, c in results["curves"].items():
        section, curves = _curves_section(hidden, c)
        lines += section
        figures.update(curves)
    section, costs = _cost_section(results["cost"])
    lines += section
    figures.update(costs)
    concl = curvature.conclusion_sentences(results)
    lines += ["## Conclusions (generated)", "", *(f"- {s}" for s in concl), ""]
    cost = results["cost"]
    payload = {"cost": cost, "conclusions": concl, "slopes": curvature.cost_slopes(results)}
    return ReportParts(lines, "\n".join(concl), tables={"table": (cost, payload)}, figures=figures)


def _curves_section(hidden: str, c: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Loss against steps and against time for one hidden size, and its table of methods."""
    ms = c["methods"]
    by_step = {
        m: (np.arange(len(r["losses"])), plots.nan_for_none(r["losses"])) for m, r in ms.items()
    }
    # Log time axis from the first finished step (t = 0 has no place on it).
    by_time = {
        m: (np.asarray(r["seconds"][1:]), plots.nan_for_none(r["losses"][1:]))
        for m, r in ms.items()
    }
    title = f"h = {hidden}, P = {c['params']:,}"
    steps, time = f"loss_steps_h{hidden}.png", f"loss_time_h{hidden}.png"
    figures = {
        steps: plots.lines_figure(by_step, "step", "training loss", f"{title}: loss vs steps"),
        time: plots.lines_figure(
            by_time,
            "seconds (compiled, excl. compile)",
            "training loss",
            f"{title}: loss vs time",
            logx=True,
        ),
    }
    lines = [
        f"## Curves, h = {hidden} (P = {c['params']:,})",
        "",
        f"![steps](figures/{steps}) ![time](figures/{time})",
        "",
        markdown.md_table(
            [
                "method",
                "steps",
                "final loss",
                "total s",
                "median s/step",
                "memory per step (MiB)",
                "val acc",
            ],
            [
                [
                    m,
                    len(r["losses"]) - 1,
                    "diverged" if r["losses"][-1] is None else f"{r['losses'][-1]:.4f}",
                    f"{r['seconds'][-1]:.3f}",
                    f"{r['median_step_seconds']:.4f}",
                    f"{r['memory_bytes'] / 2**20:.1f}",
                    f"{r['val_accuracy']:.4f}",
                ]
                for m, r in ms.items()
            ],
        ),
        "",
    ]
    return lines, figures


def _cost_section(cost: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    """Time and memory per step against the parameter count, measured or why not."""
    series_t, series_m = {}, {}
    for m in curvature.METHODS:
        pts = [r for r in cost if r["method"] == m and r["status"] == "measured"]
        if pts:
            params = np.array([r["params"] for r in pts])
            series_t[m] = (params, np.array([r["step_seconds"] for r in pts]))
            series_m[m] = (params, np.array([r["memory_bytes"] / 2**20 for r in pts]))
    figures = {
        "cost_time.png": plots.lines_figure(
            series_t, "parameters P", "seconds per step", "step time vs parameter count", logx=True
        ),
        "cost_memory.png": plots.lines_figure(
            series_m,
            "parameters P",
            "MiB per step (XLA estimate)",
            "step memory vs parameter count",
            logx=True,
        ),
    }
    lines = [
        "## Cost vs parameter count",
        "",
        "![time](figures/cost_time.png) ![memory](figures/cost_memory.png)",
        "",
        markdown.md_table(
            ["h", "P", "method", "status", "s/step", "MiB/step", "dense Hessian (GiB)"],
            [
                [
                    r["hidden"],
                    f"{r['params']:,}",
                    r["method"],
                    r["status"],
                    f"{r['step_seconds']:.4f}" if r.get("step_seconds") else "—",
                    f"{r['memory_bytes'] / 2**20:.1f}" if r.get("memory_bytes") else "—",
                    f"{r['hessian_bytes'] / 2**30:.3f}" if r["hessian_bytes"] else "—",
                ]
                for r in cost
            ],
        ),
        "",
    ]
    return lines, figures
