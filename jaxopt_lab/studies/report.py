"""Build a study's report from its stored files only: ``report.md``, ``table.csv``,
``table.json`` and ``figures/*.png`` in the run directory.

Every number and sentence comes from ``study.yaml`` (the resolved study config) and the rows'
``metrics.jsonl`` / ``summary.json`` written by the engine (or ``results.json`` for the studies
that run their own loop), so ``scripts/report.py RUN_DIR`` rebuilds the same report without
training. This module and the runner are the only study modules that touch the file system.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import yaml
from matplotlib import animation

from jaxopt_lab.studies import (
    conclusions,
    groups,
    landscapes,
    markdown,
    plots,
    second_order,
    tuning,
)
from jaxopt_lab.studies.aggregate import ArmSummary, comparisons, summarize_arms
from jaxopt_lab.studies.runs import METRICS, RunCurve, curves_from_records

STUDY_FILE = "study.yaml"
RUNSETS_FILE = "runsets.json"


class ReportError(ValueError):
    """The run directory lacks a file the report needs; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class Report:
    """Where the report went and its headline table (markdown), for the script to print."""

    path: Path
    headline: str


@dataclasses.dataclass(frozen=True)
class RowData:
    runs: dict[str, list[RunCurve]]
    summaries: dict[str, dict[str, Any]]

    @property
    def wall_seconds(self) -> dict[str, float | None]:
        return {row: s.get("wall_seconds") for row, s in self.summaries.items()}


# ----------------------------------------------------------------------------- file access


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSON-lines file; a truncated last line (interrupted run) is skipped."""
    out = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as err:
            if i == len(lines) - 1:
                continue
            raise ReportError(f"{path}:{i + 1} is not JSON ({err}); the file is corrupt") from err
    return out


def read_spec(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / STUDY_FILE
    if not path.is_file():
        raise ReportError(
            f"{path} not found: {run_dir} is not a study run directory (scripts/compare.py "
            "writes study.yaml first)"
        )
    return yaml.safe_load(path.read_text())


def read_rows(base: Path, rows: Sequence[Mapping[str, Any]]) -> RowData:
    """Each row's runs and its run set's summary, from the run sets listed in
    ``base/runsets.json`` (the runner writes it), else from every ``base/*/metrics.jsonl``.

    A run set may hold several rows; a record belongs to the row whose name prefixes its run
    id (``"<row>/lr=…/seed=…"``). A row with no record is an error naming it.
    """
    base = Path(base)
    by_row: dict[str, list[dict[str, Any]]] = {str(r["name"]): [] for r in rows}
    summaries: dict[str, dict[str, Any]] = {}
    index = base / RUNSETS_FILE
    if index.is_file():
        paths = [base / d / "metrics.jsonl" for d in json.loads(index.read_text())]
        paths = [p for p in paths if p.is_file()]
    else:  # a directory assembled by hand: every run set below it
        paths = sorted(base.glob("*/metrics.jsonl"))
    for metrics in paths:
        summary_path = metrics.parent / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        for rec in read_jsonl(metrics):
            row = str(rec.get("run", "")).split("/", 1)[0]
            if row in by_row:
                by_row[row].append(rec)
                summaries[row] = summary
    missing = [name for name, recs in by_row.items() if not recs]
    if missing:
        raise ReportError(
            f"{base}: no metrics for rows {missing}; they have not been trained — run "
            "scripts/compare.py again with the same --out (finished run sets are kept)"
        )
    runs = {}
    for name, recs in by_row.items():
        # The end-of-training test evaluation lives in summary.json unless the engine also
        # evaluated the test set every epoch (then the last record holds the same numbers).
        final_test = {
            r["run"]: r for r in summaries.get(name, {}).get("runs", []) if "test_accuracy" in r
        }
        runs[name] = [
            dataclasses.replace(
                c,
                test_accuracy=final_test[c.run].get("test_accuracy"),
                test_loss=final_test[c.run].get("test_loss"),
            )
            if c.run in final_test
            else c
            for c in curves_from_records(name, recs)
        ]
    return RowData(runs, summaries)


def save_figure(fig: plt.Figure, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


# ----------------------------------------------------------------------------- tables on disk


def write_tables(run_dir: Path, name: str, arms: Sequence[ArmSummary], extra: dict[str, Any]):
    recs = markdown.table_records(arms)
    with (run_dir / f"{name}.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(recs[0]))
        writer.writeheader()
        writer.writerows(recs)
    per_seed = {
        a.label: {m: {str(s): v for s, v in a.values[m].items()} for m in METRICS} for a in arms
    }
    payload = {
        "arms": recs,
        "per_seed": per_seed,
        "diverged": {a.label: [r.seed for r in a.runs if r.diverged] for a in arms},
        **extra,
    }
    (run_dir / f"{name}.json").write_text(json.dumps(payload, indent=2, default=_json_default))


def _json_default(x: Any) -> Any:
    if dataclasses.is_dataclass(x):
        return {k: _finite(v) for k, v in dataclasses.asdict(x).items()}
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot serialise {type(x).__name__}")


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


# ----------------------------------------------------------------------------- sections


def comparison_section(
    run_dir: Path,
    spec: Mapping[str, Any],
    arms: list[ArmSummary],
    *,
    prefix: str,
    title: str,
) -> tuple[list[str], str]:
    """Table, figures, tests and generated conclusions for one set of arms.

    Writes ``<prefix>table.csv/json`` and ``figures/<prefix>curves.png``; returns the markdown
    lines and the headline table.
    """
    opts = spec["report"]
    target, alpha = float(opts["target_accuracy"]), float(opts["alpha"])
    tests = comparisons(arms)
    headline = markdown.headline_table(arms, target)
    lines = [
        f"## {title}",
        "",
        headline,
        "",
        "Mean ± 95 % t-interval over seeds; diverged runs are counted in *runs* and left out "
        "of every mean. *wall s* is the wall time of the row's run set: rows trained together "
        "(one compiled program, all seeds vmapped) share it.",
        "",
    ]
    fig = save_figure(plots.curves_figure(arms), run_dir / "figures" / f"{prefix}curves.png")
    lines += [
        f"![curves](figures/{fig})",
        "",
        "Curves: mean over healthy seeds per epoch, band = 95 % t-interval.",
        "",
    ]
    notebook = {str(r["name"]): r["notebook"] for r in spec.get("rows", []) if r.get("notebook")}
    notebook = {k: v for k, v in notebook.items() if k in {a.row for a in arms}}
    exp_lines: list[str] = []
    if notebook:
        lines += [
            "### Against the notebook's printed run",
            "",
            markdown.notebook_table(arms, notebook),
            "",
        ]
        exp = spec.get("expectation")
        if exp:
            exp_lines = conclusions.expectation_sentences(
                [a for a in arms if a.row in set(exp.get("rows", notebook))],
                notebook,
                int(exp["epoch"]),
                float(exp["tolerance"]),
            )
            lines += [
                f"Expectation (epoch {exp['epoch']}, ± {100 * float(exp['tolerance']):.1f} "
                "points):",
                "",
                *(f"- {s}" for s in exp_lines),
                "",
            ]
    group_of = {str(r["name"]): str(r["group"]) for r in spec.get("rows", []) if r.get("group")}
    effects: list[groups.VariantEffect] = []
    if group_of:
        metric = str(opts["primary_metric"])
        effects = groups.variant_effects(arms, group_of, metric)
        lines += [
            f"### Each variant against its group's baseline ({conclusions.METRIC_NAMES[metric]})",
            "",
            markdown.md_table(
                [
                    "group",
                    "variant",
                    "baseline",
                    "variant mean",
                    "baseline mean",
                    "Δ",
                    "n",
                    "Holm p (t)",
                    "Holm p (Wilcoxon)",
                ],
                [
                    [
                        e.group,
                        e.variant,
                        e.baseline,
                        "diverged"
                        if e.variant_ci is None
                        else conclusions.fmt_ci(metric, e.variant_ci),
                        "diverged"
                        if e.baseline_ci is None
                        else conclusions.fmt_ci(metric, e.baseline_ci),
                        "n/a" if e.test is None else f"{e.test.mean_diff:+.4f}",
                        0 if e.test is None else e.test.n,
                        "n/a" if e.test is None else conclusions.fmt_p(e.test.t_p_holm),
                        "n/a" if e.test is None else conclusions.fmt_p(e.test.wilcoxon_p_holm),
                    ]
                    for e in effects
                ],
            ),
            "",
        ]
        higher = METRICS[metric]
        lines += [f"- {groups.effect_sentence(e, higher, alpha)}" for e in effects] + [""]
        lines += [f"- {s}" for s in groups.best_variant_sentences(effects, higher, alpha)]
        lines += [""]
    if tests:
        lines += [
            "### Ranking per metric",
            "",
            "Best to worst, in tiers: `≈` not significantly different from the first arm of its "
            "tier; `>` significantly worse than that arm, so it opens a new tier (Holm-adjusted "
            f"paired t-test at {alpha:g}). Two arms in different tiers may still not differ "
            "significantly from each other: see the pairwise tables.",
            "",
            markdown.md_table(
                ["metric", "ranking"],
                [
                    [conclusions.METRIC_NAMES[m], conclusions.ranking_line(arms, fam, m, alpha)]
                    for m, fam in tests.items()
                ],
            ),
            "",
            "### Pairwise comparisons, paired by seed",
            "",
            "Two-sided paired t-test and Wilcoxon signed-rank test on the per-seed differences, "
            "Holm-corrected over all pairs of each metric.",
            "",
            *markdown.tests_tables(tests, alpha),
        ]
    epochs = max((int(r.epochs[-1]) for a in arms for r in a.runs), default=0)
    concl = [*conclusions.leader_sentences(arms, tests, alpha)]
    if len(arms) > 1:
        concl.append(conclusions.consistency_sentence(arms))
    concl.append(conclusions.speed_sentence(arms, target, epochs))
    concl += conclusions.divergence_sentences(arms)
    if tests:
        concl.append(conclusions.wilcoxon_note(arms))
    lines += [
        "### Conclusions (generated from the numbers above)",
        "",
        *(f"- {s}" for s in concl if s),
        "",
    ]
    write_tables(
        run_dir,
        f"{prefix}table",
        arms,
        {
            "tests": tests,
            "rankings": {
                m: conclusions.ranking_line(arms, fam, m, alpha) for m, fam in tests.items()
            },
            "conclusions": concl,
            "expectation": exp_lines,
            "variant_effects": effects,
            "target_accuracy": target,
        },
    )
    return lines, headline


def method_lines(spec: Mapping[str, Any], summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    base = yaml.safe_dump(spec.get("base") or {}, sort_keys=False).strip()
    rows = "\n".join(f"- **{r['name']}**: `{json.dumps(r.get('set', {}))}`" for r in spec["rows"])
    out = [
        "## Method",
        "",
        "Shared run config (base):",
        "",
        "```yaml",
        base,
        "```",
        "",
        "Rows (overrides of the base):",
        "",
        rows,
        "",
    ]
    if spec.get("overrides"):
        out += [
            f"Command-line overrides applied to every row: `{json.dumps(spec['overrides'])}`",
            "",
        ]
    # Rows trained together share one summary: count each run set once.
    sets = list({json.dumps(s, sort_keys=True): s for s in summaries.values() if s}.values())
    devices = sorted({str(s.get("device")) for s in sets if s.get("device")})
    compile_s = sum(float(s.get("compile_seconds") or 0.0) for s in sets)
    wall = sum(float(s.get("wall_seconds") or 0.0) for s in sets)
    if devices:
        out += [
            f"Device: {', '.join(devices)}. {len(sets)} run set(s), total wall time "
            f"{wall:.1f} s (of which compilation {compile_s:.1f} s).",
            "",
        ]
    return out


def header_lines(spec: Mapping[str, Any], run_dir: Path) -> list[str]:
    src = spec.get("source", f"configs/studies/{spec['study']}.yaml")
    if spec.get("cli_set"):
        src += " --set " + " ".join(spec["cli_set"])
    return [
        f"# Study: {spec['study']}",
        "",
        f"**Question.** {spec.get('question', '').strip()}",
        "",
        f"Regenerate: `python scripts/compare.py --config {src} --out {run_dir}`; rebuild this "
        f"report from the stored metrics: `python scripts/report.py {run_dir}`.",
        "",
    ]


# ----------------------------------------------------------------------------- entry point


def build_report(run_dir: str | Path) -> Report:
    """Rebuild the report of a finished (or partly finished) study run directory."""
    run_dir = Path(run_dir)
    spec = read_spec(run_dir)
    kind = spec["kind"]
    if kind == "compare":
        return _compare_report(run_dir, spec)
    if kind == "tuning":
        return _tuning_report(run_dir, spec)
    if kind == "landscapes":
        return _landscapes_report(run_dir, spec)
    if kind == "second_order":
        return _second_order_report(run_dir, spec)
    raise ReportError(f"{run_dir}/{STUDY_FILE}: unknown kind {kind!r}")


def _compare_report(run_dir: Path, spec: dict[str, Any]) -> Report:
    data = read_rows(run_dir, spec["rows"])
    arms = summarize_arms(
        data.runs,
        float(spec["report"]["target_accuracy"]),
        data.wall_seconds,
        float(spec["report"]["confidence"]),
    )
    section, headline = comparison_section(run_dir, spec, arms, prefix="", title="Results")
    lines = [*header_lines(spec, run_dir), *section, *method_lines(spec, data.summaries)]
    return write_markdown(run_dir, lines, headline)


def write_markdown(run_dir: Path, lines: Sequence[str], headline: str) -> Report:
    path = Path(run_dir) / "report.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return Report(path, headline)


# ----------------------------------------------------------------------------- other kinds


def _tuning_report(run_dir: Path, spec: dict[str, Any]) -> Report:
    cfg = tuning.settings(spec)
    metric, target = cfg["metric"], float(spec["report"]["target_accuracy"])
    sweep_rows = tuning.sweep_rows(spec)
    sweep = read_rows(run_dir / "sweep", sweep_rows)
    sweep_arms = summarize_arms(
        sweep.runs, target, sweep.wall_seconds, float(spec["report"]["confidence"])
    )
    best = tuning.best_learning_rates(sweep_arms, metric)
    fig = save_figure(
        plots.tuning_figure(
            tuning.tuning_curves(sweep_arms, metric), conclusions.METRIC_NAMES[metric]
        ),
        run_dir / "figures" / "tuning_curves.png",
    )
    lines = [
        *header_lines(spec, run_dir),
        "## Phase 1: learning-rate sweep",
        "",
        f"Each row trains the grid {', '.join(f'{x:.3g}' for x in tuning.grid(cfg))} × seeds "
        f"{cfg['sweep_seeds']} as one vmapped run set; the tuned rate maximises the mean "
        f"{conclusions.METRIC_NAMES[metric]} among rates where no seed diverged.",
        "",
        f"![tuning curves](figures/{fig})",
        "",
        markdown.md_table(
            ["row", "default lr", "tuned lr", f"mean {metric} at tuned lr", "note"],
            [
                [
                    r["name"],
                    f"{float(r['default_learning_rate']):.3g}",
                    "all diverged"
                    if best[r["name"]]["learning_rate"] is None
                    else f"{best[r['name']]['learning_rate']:.3g}",
                    "n/a"
                    if best[r["name"]]["mean"] is None
                    else conclusions.fmt_value(metric, best[r["name"]]["mean"]),
                    _tuning_note(best[r["name"]], float(r["default_learning_rate"])),
                ]
                for r in spec["rows"]
            ],
        ),
        "",
    ]
    final_rows = tuning.final_rows(spec, best)
    final = read_rows(run_dir / "final", final_rows)
    arms = summarize_arms(
        final.runs, target, final.wall_seconds, float(spec["report"]["confidence"])
    )
    final_spec = {
        **spec,
        "rows": final_rows,
        "report": {**spec["report"], "primary_metric": metric},
    }
    section, headline = comparison_section(
        run_dir,
        final_spec,
        arms,
        prefix="final_",
        title=f"Phase 2: default vs tuned rates on fresh seeds {cfg['final_seeds']}",
    )
    lines += section
    rank = tuning.ranking_sentences(arms, metric)
    lines += ["### Does tuning change the ranking?", "", *(f"- {s}" for s in rank), ""]
    lines += method_lines(
        {**spec, "rows": sweep_rows},
        {**sweep.summaries, **{f"final {k}": v for k, v in final.summaries.items()}},
    )
    sweep_recs = markdown.table_records(sweep_arms)
    (run_dir / "sweep_table.json").write_text(
        json.dumps(
            {"arms": sweep_recs, "best": best, "ranking": rank}, indent=2, default=_json_default
        )
    )
    return write_markdown(run_dir, lines, headline)


def _tuning_note(best: Mapping[str, Any], default: float) -> str:
    notes = []
    if best["learning_rate"] is not None and math.isclose(best["learning_rate"], default):
        notes.append("= default (phase 2 trains it once)")
    if best["at_edge"]:
        notes.append("at the grid's edge: widen the grid")
    return "; ".join(notes)


def _landscapes_report(run_dir: Path, spec: dict[str, Any]) -> Report:
    results = _read_results(run_dir)
    lines = [
        *header_lines(spec, run_dir),
        "## Method",
        "",
        f"{results['steps']} steps from the same start per function; each optimizer's "
        f"learning rate picked per function from the grid "
        f"{', '.join(f'{x:.3g}' for x in results['lr_grid'])} by the lowest mean "
        "log₁₀(f − f*) along the path (see `jaxopt_lab/studies/landscapes.py`).",
        "",
    ]
    gif_fn = (spec.get("landscapes") or {}).get("gif", "quadratic")
    # A rate on the grid's edge means the best rate may lie outside the grid.
    edges = {results["lr_grid"][0], results["lr_grid"][-1]}
    for name, res in results["functions"].items():
        paths = {o: np.asarray(r["path"], dtype=float) for o, r in res["optimizers"].items()}
        label_of = {o: f"{o} (lr {r['learning_rate']:.2g})" for o, r in res["optimizers"].items()}
        labels = {label_of[o]: paths[o] for o in paths}
        gaps = {
            label: _arr(r["values"]) - res["f_min"]
            for label, r in zip(labels, res["optimizers"].values(), strict=True)
        }
        grid = landscapes.contour_grid(name)
        fig = save_figure(
            plots.trajectory_panels(grid, labels, gaps, name, res["minimum"]),
            run_dir / "figures" / f"{name}.png",
        )
        lines += [f"## {name}", "", f"![{name}](figures/{fig})", ""]
        if name == gif_fn:
            keep = (spec.get("landscapes") or {}).get("gif_optimizers") or list(paths)
            anim = plots.trajectory_animation(
                grid, {label_of[o]: paths[o] for o in paths if o in keep}, name
            )
            gif = run_dir / "figures" / f"{name}.gif"
            anim.save(gif, writer=animation.PillowWriter(fps=12), dpi=70)
            plt.close("all")
            lines += [f"Animated: [figures/{gif.name}](figures/{gif.name})", ""]
        lines.append(
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
                    for o, r in sorted(
                        res["optimizers"].items(),
                        key=lambda kv: (kv[1]["final_gap"] is None, kv[1]["final_gap"] or 0.0),
                    )
                ],
            )
        )
        lines.append("")
    concl = landscapes.conclusion_sentences(results)
    lines += ["## Conclusions (generated)", "", *(f"- {s}" for s in concl), ""]
    rows = landscapes.table_rows(results)
    _write_flat_table(run_dir, rows, {"rows": rows, "conclusions": concl})
    lead = landscapes.leaders(results)
    return write_markdown(
        run_dir,
        lines,
        markdown.md_table(
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
                for f, v in lead.items()
            ],
        ),
    )


def _second_order_report(run_dir: Path, spec: dict[str, Any]) -> Report:
    results = _read_results(run_dir)
    lines = [
        *header_lines(spec, run_dir),
        "## Method",
        "",
        f"Full-batch mean cross-entropy on the first {results['n_train']} training images, "
        "MLP 784 → h → 10 (PyTorch init), flat parameters; see the docstring of "
        "`jaxopt_lab/studies/second_order.py` for each method's update and damping.",
        "",
    ]
    for hidden, c in results["curves"].items():
        ms = c["methods"]
        by_step = {m: (np.arange(len(r["losses"])), _arr(r["losses"])) for m, r in ms.items()}
        # Log time axis from the first finished step (t = 0 has no place on it).
        by_time = {m: (np.asarray(r["seconds"][1:]), _arr(r["losses"][1:])) for m, r in ms.items()}
        f1 = save_figure(
            plots.lines_figure(
                by_step,
                "step",
                "training loss",
                f"h = {hidden}, P = {c['params']:,}: loss vs steps",
            ),
            run_dir / "figures" / f"loss_steps_h{hidden}.png",
        )
        f2 = save_figure(
            plots.lines_figure(
                by_time,
                "seconds (compiled, excl. compile)",
                "training loss",
                f"h = {hidden}, P = {c['params']:,}: loss vs time",
                logx=True,
            ),
            run_dir / "figures" / f"loss_time_h{hidden}.png",
        )
        lines += [
            f"## Curves, h = {hidden} (P = {c['params']:,})",
            "",
            f"![steps](figures/{f1}) ![time](figures/{f2})",
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
    cost = results["cost"]
    series_t, series_m = {}, {}
    for m in second_order.METHODS:
        pts = [r for r in cost if r["method"] == m and r["status"] == "measured"]
        if pts:
            series_t[m] = (
                np.array([r["params"] for r in pts]),
                np.array([r["step_seconds"] for r in pts]),
            )
            series_m[m] = (
                np.array([r["params"] for r in pts]),
                np.array([r["memory_bytes"] / 2**20 for r in pts]),
            )
    f3 = save_figure(
        plots.lines_figure(
            series_t, "parameters P", "seconds per step", "step time vs parameter count", logx=True
        ),
        run_dir / "figures" / "cost_time.png",
    )
    f4 = save_figure(
        plots.lines_figure(
            series_m,
            "parameters P",
            "MiB per step (XLA estimate)",
            "step memory vs parameter count",
            logx=True,
        ),
        run_dir / "figures" / "cost_memory.png",
    )
    lines += [
        "## Cost vs parameter count",
        "",
        f"![time](figures/{f3}) ![memory](figures/{f4})",
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
    concl = second_order.conclusion_sentences(results)
    lines += ["## Conclusions (generated)", "", *(f"- {s}" for s in concl), ""]
    _write_flat_table(
        run_dir,
        cost,
        {"cost": cost, "conclusions": concl, "slopes": second_order.cost_slopes(results)},
    )
    return write_markdown(run_dir, lines, "\n".join(concl))


def _arr(xs: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in xs], dtype=float)


def _read_results(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "results.json"
    if not path.is_file():
        raise ReportError(f"{path} not found: run scripts/compare.py for this study first")
    return json.loads(path.read_text())


def _write_flat_table(run_dir: Path, rows: Sequence[Mapping[str, Any]], payload: dict) -> None:
    with (run_dir / "table.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (run_dir / "table.json").write_text(json.dumps(payload, indent=2, default=_json_default))
