"""The landscapes study: every optimizer's trajectory on 2-D test functions (no engine, no data).

The computation (functions, vmapped trajectories, the choice of each optimizer's learning rate)
is ``jaxopt_lab.studies.landscapes``; this module is its study wiring: the ``landscapes:``
section, the run that stores ``results.json``, and the report with one contour figure per
function, a GIF of one of them, a table per function and generated conclusions.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxopt_lab._typed_yaml import Where, one_of, to_dict
from jaxopt_lab.data import MNIST
from jaxopt_lab.optimizers import OPTIMIZERS
from jaxopt_lab.studies import landscapes as surfaces
from jaxopt_lab.studies import markdown, plots
from jaxopt_lab.studies.replays import Replay, Replayer
from jaxopt_lab.studies.runsets import OnSet
from jaxopt_lab.studies.sections import ReportParts, header_lines
from jaxopt_lab.studies.spec import LogGrid, StudySpec, check_grid, require_default_workload
from jaxopt_lab.studies.store import Store

USES_DATA = False
# A replay: every optimizer on the study's first function for this many steps.
REPLAY_STEPS = 25


@dataclasses.dataclass(frozen=True)
class Settings:
    """The ``landscapes:`` section: which functions and optimizers, how many steps, the
    learning-rate grid, the tolerance of "reached", and which function is animated (null: none)
    with which optimizers (default all)."""

    functions: list[str] = dataclasses.field(default_factory=lambda: list(surfaces.FUNCTIONS))
    optimizers: list[str] = dataclasses.field(default_factory=lambda: list(OPTIMIZERS))
    steps: int = 300
    lr_grid: LogGrid = dataclasses.field(default_factory=lambda: LogGrid(1e-4, 10.0, 11))
    tolerance: float = 1e-3
    gif: str | None = "quadratic"
    gif_optimizers: list[str] | None = None


def check(spec: StudySpec, where: Where) -> None:
    require_default_workload(spec, where, "optimizers on 2-D test functions")
    cfg = spec.settings
    for key, names, known in (
        ("functions", cfg.functions, surfaces.FUNCTIONS),
        ("optimizers", cfg.optimizers, OPTIMIZERS),
        ("gif_optimizers", cfg.gif_optimizers or [], OPTIMIZERS),
    ):
        for i, name in enumerate(names):
            one_of(where, f"landscapes.{key}[{i}]", name, tuple(known))
    if cfg.gif is not None:
        one_of(where, "landscapes.gif", cfg.gif, tuple(surfaces.FUNCTIONS))
    if cfg.steps < 1:
        raise where.error("landscapes.steps", f"must be ≥ 1, got {cfg.steps}")
    check_grid(cfg.lr_grid, "landscapes.lr_grid", where)


def run(
    spec: StudySpec,
    store: Store,
    *,
    overwrite: bool,
    quiet: bool,
    data: MNIST | None,
    on_set: OnSet | None,
) -> None:
    """Computes every function × optimizer × grid rate (fast, so never kept between runs)."""
    store.write_results(surfaces.run(to_dict(spec.settings)))


def replays(spec: StudySpec) -> dict[str, Replay]:
    """Every optimizer over the whole grid on the first function, ``REPLAY_STEPS`` steps."""
    cfg = to_dict(spec.settings)
    small = {
        **cfg,
        "functions": cfg["functions"][:1],
        "steps": min(cfg["steps"], REPLAY_STEPS),
        "gif": None,
    }

    def compute(_: Replayer) -> dict[str, Any]:
        results = surfaces.run(small)
        return {
            name: {
                opt: {k: r[k] for k in ("learning_rate", "scores", "values", "final_gap")}
                for opt, r in f["optimizers"].items()
            }
            for name, f in results["functions"].items()
        }

    label = (
        f"{small['functions'][0]}, {small['steps']} steps, {len(small['optimizers'])} optimizers"
    )
    replay = Replay({"label": label, "settings": small}, compute)
    return {replay.key: replay}


def report(spec: StudySpec, store: Store) -> ReportParts:
    results = store.read_results()
    lines = [
        *header_lines(spec, store),
        "## Method",
        "",
        f"{results['steps']} steps from the same start per function; each optimizer's "
        f"learning rate picked per function from the grid "
        f"{', '.join(f'{x:.3g}' for x in results['lr_grid'])} by the lowest mean "
        "log₁₀(f − f*) along the path (see `jaxopt_lab/studies/landscapes.py`).",
        "",
    ]
    figures: dict[str, Any] = {}
    for name, res in results["functions"].items():
        section, panels = _function_section(spec, results, name, res)
        lines += section
        figures.update(panels)
    concl = surfaces.conclusion_sentences(results)
    lines += ["## Conclusions (generated)", "", *(f"- {s}" for s in concl), ""]
    rows = surfaces.table_rows(results)
    return ReportParts(
        lines,
        _headline(results),
        tables={"table": (rows, {"rows": rows, "conclusions": concl})},
        figures=figures,
    )


def _function_section(
    spec: StudySpec, results: dict[str, Any], name: str, res: dict[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """One function: its contour panels (and animation), and the table of its optimizers."""
    paths = {o: np.asarray(r["path"], dtype=float) for o, r in res["optimizers"].items()}
    label_of = {o: f"{o} (lr {r['learning_rate']:.2g})" for o, r in res["optimizers"].items()}
    labels = {label_of[o]: paths[o] for o in paths}
    gaps = {
        label: plots.nan_for_none(r["values"]) - res["f_min"]
        for label, r in zip(labels, res["optimizers"].values(), strict=True)
    }
    grid = surfaces.contour_grid(name)
    figures: dict[str, Any] = {
        f"{name}.png": plots.trajectory_panels(grid, labels, gaps, name, res["minimum"])
    }
    lines = [f"## {name}", "", f"![{name}](figures/{name}.png)", ""]
    if name == spec.settings.gif:
        keep = spec.settings.gif_optimizers or list(paths)
        figures[f"{name}.gif"] = plots.trajectory_animation(
            grid, {label_of[o]: paths[o] for o in paths if o in keep}, name
        )
        lines += [f"Animated: [figures/{name}.gif](figures/{name}.gif)", ""]
    # A rate on the grid's edge means the best rate may lie outside the grid.
    edges = {results["lr_grid"][0], results["lr_grid"][-1]}
    ranked = sorted(
        res["optimizers"].items(),
        key=lambda kv: (kv[1]["final_gap"] is None, kv[1]["final_gap"] or 0.0),
    )
    lines += [
        markdown.md_table(
            ["optimizer", "lr", "final f − f*", f"steps to f − f* ≤ {results['tolerance']:g}"],
            [
                [
                    o,
                    f"{r['learning_rate']:.3g}"
                    + (" (grid edge)" if r["learning_rate"] in edges else ""),
                    "diverged" if r["all_diverged"] else f"{r['final_gap']:.2e}",
                    "diverged"
                    if r["all_diverged"]
                    else ("not reached" if r["steps_to_tol"] is None else r["steps_to_tol"]),
                ]
                for o, r in ranked
            ],
        ),
        "",
    ]
    return lines, figures


def _headline(results: dict[str, Any]) -> str:
    """Per function: the closest optimizer, the fastest to the tolerance, those never within."""
    return markdown.md_table(
        [
            "function",
            "closest (f − f*)",
            f"fastest to {results['tolerance']:g} (steps)",
            "never within",
        ],
        [
            [
                f,
                "—" if v["closest"] is None else f"{v['closest']} ({v['closest_gap']:.1e})",
                "—" if v["fastest"] is None else f"{v['fastest']} ({v['fastest_steps']})",
                ", ".join(v["never"]) or "—",
            ]
            for f, v in surfaces.leaders(results).items()
        ],
    )
