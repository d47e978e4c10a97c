"""The report pieces every study kind shares: header, method, and the comparison of arms.

Pure functions: they return markdown lines, tables and figures as a ``ReportParts``; the
store (``jaxopt_lab.studies.store``) writes them. Every number comes from the arms (aggregated
from the stored metrics) and the study spec.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from matplotlib.animation import Animation
from matplotlib.figure import Figure

from jaxopt_lab.engine.outputs import optimizer_provenance
from jaxopt_lab.studies import conclusions, groups, markdown, plots
from jaxopt_lab.studies.aggregate import ArmSummary, comparisons
from jaxopt_lab.studies.runs import METRICS
from jaxopt_lab.studies.spec import StudySpec
from jaxopt_lab.studies.stats import PairedTest
from jaxopt_lab.studies.store import Store

# A table: CSV records (None: JSON only) and the JSON payload.
Table = tuple[list[dict[str, Any]] | None, dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class ReportParts:
    """A report before it is written: markdown lines, the headline the script prints, tables
    by file stem (``table`` → table.csv / table.json) and figures by file name under figures/
    (a ``Figure`` → PNG, an ``Animation`` → GIF)."""

    lines: list[str]
    headline: str
    tables: dict[str, Table] = dataclasses.field(default_factory=dict)
    figures: dict[str, Figure | Animation] = dataclasses.field(default_factory=dict)


def study_command(spec: StudySpec, run_dir: Path) -> str:
    """The command that runs the study into ``run_dir``: it regenerates the study, and in a
    directory holding an interrupted one it resumes the interrupted run sets."""
    src = spec.source or f"configs/studies/{spec.study}.yaml"
    if spec.cli_set:
        src += " --set " + " ".join(spec.cli_set)
    return f"jaxopt-lab compare --config {src} --out {run_dir}"


def header_lines(spec: StudySpec, store: Store) -> list[str]:
    """Title, question, and the commands that regenerate the study (and publish it, for a
    published one) and rebuild its report."""
    regenerate = f"`{study_command(spec, store.training_dir)}`"
    if store.published:
        regenerate += f", then `jaxopt-lab publish {store.training_dir}`"
    return [
        f"# Study: {spec.study}",
        "",
        f"**Question.** {spec.question.strip()}",
        "",
        f"Regenerate: {regenerate}; rebuild this report from the stored records: "
        f"`jaxopt-lab report {store.shown_dir}`.",
        "",
    ]


def method_lines(spec: StudySpec, summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The base config, each row's overrides, the command line's, and the run sets' timing."""
    base = yaml.safe_dump(spec.base, sort_keys=False).strip()
    rows = "\n".join(f"- **{r.name}**: `{json.dumps(r.set)}`" for r in spec.rows)
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
    if spec.overrides:
        out += [
            f"Command-line overrides applied to every row: `{json.dumps(spec.overrides)}`",
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
    optimizers = {
        d["reference"]: optimizer_provenance(d)
        for s in sets
        for d in (s.get("optimizers") or {}).values()
    }
    if optimizers:
        out += [
            "Optimizers, as their references resolved:",
            "",
            *(f"- `{text}`" for text in optimizers.values()),
            "",
        ]
    return out


def comparison_section(
    spec: StudySpec, arms: list[ArmSummary], *, prefix: str, title: str
) -> ReportParts:
    """Table, curves, notebook check, variant effects, tests and generated conclusions for one
    set of arms: tables ``<prefix>table``, figure ``<prefix>curves.png``."""
    target, alpha = spec.report.target_accuracy, spec.report.alpha
    tests = comparisons(arms)
    headline = markdown.headline_table(arms, target)
    figure = f"{prefix}curves.png"
    lines = [
        f"## {title}",
        "",
        headline,
        "",
        "Mean ± 95 % t-interval over seeds; diverged runs are counted in *runs* and left out "
        "of every mean. *wall s* is the wall time of the row's run set: rows trained together "
        "(one compiled program, all seeds vmapped) share it.",
        "",
        f"![curves](figures/{figure})",
        "",
        "Curves: mean over healthy seeds per epoch, band = 95 % t-interval.",
        "",
    ]
    notebook, expectation = _notebook_lines(spec, arms)
    variants, effects = _variant_lines(spec, arms)
    concl = _conclusions(arms, tests, target, alpha)
    lines += [
        *notebook,
        *variants,
        *_tests_lines(arms, tests, alpha),
        "### Conclusions (generated from the numbers above)",
        "",
        *(f"- {s}" for s in concl if s),
        "",
    ]
    table = arm_table(
        arms,
        {
            "tests": tests,
            "rankings": {
                m: conclusions.ranking_line(arms, fam, m, alpha) for m, fam in tests.items()
            },
            "conclusions": concl,
            "expectation": expectation,
            "variant_effects": effects,
            "target_accuracy": target,
        },
    )
    return ReportParts(
        lines,
        headline,
        tables={f"{prefix}table": table},
        figures={figure: plots.curves_figure(arms)},
    )


def arm_table(arms: Sequence[ArmSummary], extra: Mapping[str, Any]) -> Table:
    """One CSV record per arm; the JSON adds per-seed values, diverged seeds and ``extra``,
    and, when some run stopped before its planned epochs, ``partial``: per partial arm, the
    epoch each seed reached of how many."""
    recs = markdown.table_records(arms)
    per_seed = {
        a.label: {m: {str(s): v for s, v in a.values[m].items()} for m in METRICS} for a in arms
    }
    partial = {
        a.label: {str(r.seed): [r.reached_epoch, r.planned_epochs] for r in a.runs}
        for a in arms
        if any(not r.complete for r in a.runs)
    }
    payload = {
        "arms": recs,
        "per_seed": per_seed,
        "diverged": {a.label: [r.seed for r in a.runs if r.diverged] for a in arms},
        **({"partial": partial} if partial else {}),
        **extra,
    }
    return recs, payload


def _notebook_lines(spec: StudySpec, arms: Sequence[ArmSummary]) -> tuple[list[str], list[str]]:
    """The notebook's printed numbers beside ours, and the expectation check's sentences."""
    present = {a.row for a in arms}
    notebook = {r.name: r.notebook for r in spec.rows if r.notebook and r.name in present}
    if not notebook:
        return [], []
    lines = [
        "### Against the notebook's printed run",
        "",
        markdown.notebook_table(arms, notebook),
        "",
    ]
    exp = spec.expectation
    if exp is None:
        return lines, []
    checked = set(notebook if exp.rows is None else exp.rows)
    sentences = conclusions.expectation_sentences(
        [a for a in arms if a.row in checked], notebook, exp.epoch, exp.tolerance
    )
    lines += [
        f"Expectation (epoch {exp.epoch}, ± {100 * exp.tolerance:.1f} points):",
        "",
        *(f"- {s}" for s in sentences),
        "",
    ]
    return lines, sentences


def _variant_lines(
    spec: StudySpec, arms: Sequence[ArmSummary]
) -> tuple[list[str], list[groups.VariantEffect]]:
    """Each variant against its group's first row, on the primary metric (grouped studies)."""
    group_of = {r.name: r.group for r in spec.rows if r.group}
    if not group_of:
        return [], []
    metric, alpha = spec.report.primary_metric, spec.report.alpha
    effects = groups.variant_effects(arms, group_of, metric)
    header = [
        "group",
        "variant",
        "baseline",
        "variant mean",
        "baseline mean",
        "Δ",
        "n",
        "Holm p (t)",
        "Holm p (Wilcoxon)",
    ]
    rows = [
        [
            e.group,
            e.variant,
            e.baseline,
            "diverged" if e.variant_ci is None else conclusions.fmt_ci(metric, e.variant_ci),
            "diverged" if e.baseline_ci is None else conclusions.fmt_ci(metric, e.baseline_ci),
            "n/a" if e.test is None else f"{e.test.mean_diff:+.4f}",
            0 if e.test is None else e.test.n,
            "n/a" if e.test is None else conclusions.fmt_p(e.test.t_p_holm),
            "n/a" if e.test is None else conclusions.fmt_p(e.test.wilcoxon_p_holm),
        ]
        for e in effects
    ]
    higher = METRICS[metric]
    lines = [
        f"### Each variant against its group's baseline ({conclusions.METRIC_NAMES[metric]})",
        "",
        markdown.md_table(header, rows),
        "",
        *(f"- {groups.effect_sentence(e, higher, alpha)}" for e in effects),
        "",
        *(f"- {s}" for s in groups.best_variant_sentences(effects, higher, alpha)),
        "",
    ]
    return lines, effects


def _tests_lines(
    arms: Sequence[ArmSummary], tests: Mapping[str, Sequence[PairedTest]], alpha: float
) -> list[str]:
    """The ranking per metric in tiers, and every pairwise test."""
    if not tests:
        return []
    return [
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


def _conclusions(
    arms: Sequence[ArmSummary],
    tests: Mapping[str, Sequence[PairedTest]],
    target: float,
    alpha: float,
) -> list[str]:
    """Leaders, consistency across metrics, speed, divergences, and the Wilcoxon caveat."""
    epochs = max((int(r.epochs[-1]) for a in arms for r in a.runs), default=0)
    out = [*conclusions.leader_sentences(arms, tests, alpha)]
    if len(arms) > 1:
        out.append(conclusions.consistency_sentence(arms))
    out.append(conclusions.speed_sentence(arms, target, epochs))
    out += conclusions.divergence_sentences(arms)
    if tests:
        out.append(conclusions.wilcoxon_note(arms))
    return out
