"""The field study's report sections: budget, trials, defaults vs tuned, time to target,
performance profile and the computed verdict.

Pure functions of the aggregated arms and the study spec (``jaxopt_lab.studies.kinds.field``
composes them); they return markdown lines and plain data for the tables. The verdict is
computed on ``VERDICT_METRIC``, the re-runs' test accuracy: their validation accuracy is on the
set that chose the trial, the test set was touched only by the re-runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxopt_lab.studies import groups, markdown, search, stats, targets
from jaxopt_lab.studies.aggregate import ArmSummary, lost_seeds, ranking
from jaxopt_lab.studies.conclusions import METRIC_NAMES, fmt_ci, fmt_p, fmt_value, p_phrase
from jaxopt_lab.studies.runs import METRICS
from jaxopt_lab.studies.spec import StudySpec

VERDICT_METRIC = "test_accuracy"


@dataclasses.dataclass(frozen=True)
class Trials:
    """Phase 1 as the report reads it: each trial's optimizer row (``group``) and point by
    trial name, each row's search space, the trials' arms (test numbers dropped) and the
    chosen trial per row (``best``: trial, point, mean)."""

    group: dict[str, str]
    points: dict[str, dict[str, Any]]
    spaces: dict[str, list[search.Dimension]]
    arms: list[ArmSummary]
    best: dict[str, dict[str, Any]]


def times_by_target(
    spec: StudySpec, arms: Sequence[ArmSummary], steps: int
) -> dict[float, dict[str, targets.ArmTime]]:
    """Per target (the report's and the profile's), each arm's median time and intervals."""
    cfg = spec.settings
    levels = sorted({spec.report.target_accuracy, *cfg.targets})
    return {
        t: {
            a.label: targets.arm_time(
                a.runs,
                t,
                steps,
                confidence=spec.report.confidence,
                resamples=cfg.bootstrap_resamples,
                seed=cfg.bootstrap_seed,
            )
            for a in arms
        }
        for t in levels
    }


def top_tier(
    arms: Sequence[ArmSummary], tests: Sequence[stats.PairedTest], metric: str, alpha: float
) -> list[str]:
    """The best arm by mean ``metric`` and every arm not significantly different from it
    (Holm-adjusted paired t-test of ``tests``), best first. A lost seed counts against its arm
    (``aggregate.ranking``): an arm that lost seeds joins the tier only of a head that lost
    seeds too."""
    order = [label for label in ranking(arms, metric) if _cis(arms, label, metric)]
    if not order:
        return []
    head = order[0]
    by_label = {a.label: a for a in arms}
    head_lost = lost_seeds(by_label[head], metric)
    by_pair = {frozenset((t.a, t.b)): t for t in tests}
    tier = [head]
    for label in order[1:]:
        if lost_seeds(by_label[label], metric) and not head_lost:
            continue
        t = by_pair.get(frozenset((head, label)))
        if t is None or math.isnan(t.t_p_holm) or t.t_p_holm >= alpha:
            tier.append(label)
    return tier


def _cis(arms: Sequence[ArmSummary], label: str, metric: str) -> stats.MeanCI | None:
    return next(a for a in arms if a.label == label).cis[metric]


def modern_vs_baselines(
    spec: StudySpec, by_label: Mapping[str, ArmSummary], metric: str
) -> list[dict[str, Any]]:
    """Each modern row's tuned arm against each baseline's, paired by seed on ``metric``;
    one Holm family over all these pairs."""
    cfg = spec.settings
    pairs = []
    for m in cfg.modern:
        for b in cfg.baselines:
            a, z = by_label.get(f"{m} tuned"), by_label.get(f"{b} tuned")
            if a is None or z is None:
                continue
            seeds = sorted(set(a.values[metric]) & set(z.values[metric]))
            test = stats.paired_test(
                [a.values[metric][s] for s in seeds],
                [z.values[metric][s] for s in seeds],
                a.label,
                z.label,
            )
            pairs.append((m, b, test))
    adjusted = stats.holm([t.t_p for _, _, t in pairs])
    out = []
    for (m, b, t), p in zip(pairs, adjusted, strict=True):
        higher = METRICS[metric]
        better = (t.mean_diff > 0) == higher
        if math.isnan(p) or p >= spec.report.alpha or t.mean_diff == 0:
            word = "ties"
        else:
            word = "beats" if better else "trails"
        out.append(
            {
                "modern": m,
                "baseline": b,
                "n": t.n,
                "mean_diff": t.mean_diff,
                "p_holm": p,
                "verdict": word,
            }
        )
    return out


def verdict_sentences(
    spec: StudySpec,
    tuned: Sequence[ArmSummary],
    tier: Sequence[str],
    modern: Sequence[Mapping[str, Any]],
    times: Mapping[float, Mapping[str, targets.ArmTime]],
    alpha: float,
) -> list[str]:
    """The conclusions: top tier, modern vs baselines, and who is fastest to the target."""
    cfg, name = spec.settings, METRIC_NAMES[VERDICT_METRIC]
    if not tier:
        return ["No tuned optimizer has a finite test accuracy: every re-run diverged."]
    head = next(a for a in tuned if a.label == tier[0])
    out = [
        f"Top tier on {name} at equal budget ({cfg.trials} trials × "
        f"{len(cfg.trial_seeds)} seeds each): **{', '.join(tier)}** — {tier[0]} has the best "
        f"mean ({fmt_ci(VERDICT_METRIC, head.cis[VERDICT_METRIC])}), and the others are not "
        f"significantly below it (Holm-adjusted paired t-test over all pairs of tuned arms, "
        f"α = {alpha:g})."
    ]
    if modern:
        for m in cfg.modern:
            mine = [x for x in modern if x["modern"] == m]
            if not mine:
                continue
            parts = [
                f"{x['verdict']} {x['baseline']} (Δ = {x['mean_diff']:+.4f}, "
                f"{p_phrase(x['p_holm'])})"
                for x in mine
            ]
            out.append(f"Tuned {m} " + "; ".join(parts) + ".")
        beats_all = [
            m
            for m in cfg.modern
            if (mine := [x for x in modern if x["modern"] == m])
            and all(x["verdict"] == "beats" for x in mine)
        ]
        trails = sorted({x["modern"] for x in modern if x["verdict"] == "trails"})
        out.append(
            f"Do the modern optimizers beat tuned {' and '.join(cfg.baselines)} on this "
            f"workload? {len(beats_all)} of {len(cfg.modern)} beat every baseline significantly"
            + (f" ({', '.join(beats_all)})" if beats_all else "")
            + (f"; trailing some baseline: {', '.join(trails)}" if trails else "")
            + f" (one Holm family of {len(modern)} modern × baseline pairs, {name})."
        )
    main = times[spec.report.target_accuracy]
    reached = {a.label: main[a.label] for a in tuned if math.isfinite(main[a.label].steps)}
    if reached:
        fastest = min(reached, key=lambda k: (reached[k].steps, reached[k].seconds))
        out.append(
            f"Fastest to {spec.report.target_accuracy:.1%} validation accuracy (median over "
            f"seeds, epoch resolution): {fastest} in {reached[fastest].steps:,.0f} steps."
        )
    never = [a.label for a in tuned if not math.isfinite(main[a.label].steps)]
    if never:
        out.append(
            f"Not reaching {spec.report.target_accuracy:.1%} in at least half of their seeds: "
            f"{', '.join(never)}."
        )
    return out


def sensitivity(spec: StudySpec, trials: Trials, metric: str) -> dict[str, dict[str, Any]]:
    """Per row: each trial's learning rate, mean ``metric`` (nan if a seed diverged), whether
    it diverged, the chosen trial's index and the default rate."""
    out = {}
    for row in spec.rows:
        mine = [a for a in trials.arms if trials.group[a.row] == row.name]
        ci = [a.cis[metric] for a in mine]
        out[row.name] = {
            "learning_rates": np.array([a.learning_rate for a in mine]),
            "means": np.array(
                [
                    c.mean if c is not None and a.n_diverged == 0 else np.nan
                    for a, c in zip(mine, ci, strict=True)
                ]
            ),
            "diverged": np.array([a.n_diverged > 0 for a in mine]),
            "chosen": next(
                (i for i, a in enumerate(mine) if a.row == trials.best[row.name]["trial"]), None
            ),
            "default": row.default_learning_rate,
        }
    return out


def trial_records(trials: Trials, metric: str) -> list[dict[str, Any]]:
    """One JSON record per trial: its optimizer, point, mean and per-seed ``metric``."""
    return [
        _trial_record(a, trials.group[a.row], trials.points[a.row], metric) for a in trials.arms
    ]


def _trial_record(
    arm: ArmSummary, row: str | None, point: Mapping[str, Any], metric: str
) -> dict[str, Any]:
    ci = arm.cis[metric]
    return {
        "trial": arm.row,
        "row": row,
        "point": dict(point),
        "mean": None if ci is None else ci.mean,
        "per_seed": {str(s): v for s, v in arm.values[metric].items()},
        "n_diverged": arm.n_diverged,
    }


def budget(
    spec: StudySpec,
    epochs: int,
    trial_summaries: Mapping[str, Mapping[str, Any]],
    final_summaries: Mapping[str, Mapping[str, Any]],
    steps: int,
) -> dict[str, Any]:
    """The study's budget and what it cost: runs, epochs and steps, and each phase's wall
    time (the sum of its run sets' training calls, compilation included)."""
    cfg = spec.settings
    sets = [s for s in (*trial_summaries.values(), *final_summaries.values()) if s]
    return {
        "optimizers": len(spec.rows),
        "trials": cfg.trials,
        "trial_seeds": list(cfg.trial_seeds),
        "final_seeds": list(cfg.final_seeds),
        "epochs": epochs,
        "steps_per_epoch": steps,
        "runs": {
            "trials": len(spec.rows) * cfg.trials * len(cfg.trial_seeds),
            "final": len(final_summaries) * len(cfg.final_seeds),
        },
        "wall_seconds": {"trials": _wall(trial_summaries), "final": _wall(final_summaries)},
        "devices": sorted({str(s["device"]) for s in sets if s.get("device")}),
    }


def budget_lines(spec: StudySpec, b: Mapping[str, Any]) -> list[str]:
    per = b["trials"] * len(b["trial_seeds"])
    wall = b["wall_seconds"]
    return [
        "## Budget",
        "",
        f"Every optimizer gets the same budget: {b['trials']} trials of random search "
        f"(seed {spec.settings.search_seed}) × {len(b['trial_seeds'])} seeds "
        f"{b['trial_seeds']} × {b['epochs']} epochs ({b['steps_per_epoch']:,} steps each) = "
        f"{per} runs, {per * b['epochs']} epochs of training per optimizer. Phase 1: "
        f"{b['optimizers']} optimizers, {b['runs']['trials']} runs, wall time "
        f"{wall['trials']:.1f} s. Phase 2: {b['runs']['final']} re-runs (default and tuned × "
        f"{len(b['final_seeds'])} fresh seeds {b['final_seeds']}), wall time "
        f"{wall['final']:.1f} s. Total: {b['runs']['trials'] + b['runs']['final']} runs, "
        f"{wall['trials'] + wall['final']:.1f} s of training (compilation included) on "
        f"{', '.join(b['devices']) or 'an unrecorded device'}.",
        "",
    ]


def _wall(summaries: Mapping[str, Mapping[str, Any]]) -> float:
    """The wall time of the run sets behind ``summaries`` (rows of one set counted once)."""
    seen = {id(s): s for s in summaries.values() if s}
    return sum(float(s.get("wall_seconds") or 0.0) for s in seen.values())


def trial_lines(spec: StudySpec, trials: Trials, metric: str) -> list[str]:
    """The search spaces, the chosen trials, the sensitivity figure and every trial."""
    best = trials.best
    space = [
        [
            row.name,
            d.name,
            d.describe(),
            f"{row.default_learning_rate:g}" if d.name == "learning_rate" else "optimizer's",
        ]
        for row in spec.rows
        for d in trials.spaces[row.name]
    ]
    chosen = []
    for row in spec.rows:
        b = best[row.name]
        if b["trial"] is None:
            chosen.append([row.name, "every trial diverged", "n/a", "n/a"])
            continue
        point = ", ".join(f"{k}={_fmt(v)}" for k, v in b["point"].items())
        chosen.append([row.name, b["trial"], point, fmt_value(metric, b["mean"])])
    every = []
    for a in trials.arms:
        ci = a.cis[metric]
        cell = "diverged" if a.n_diverged else ("n/a" if ci is None else fmt_value(metric, ci.mean))
        mark = " ★" if best[trials.group[a.row]]["trial"] == a.row else ""
        point = ", ".join(f"{k}={_fmt(v)}" for k, v in trials.points[a.row].items())
        every.append([a.row + mark, point, cell])
    return [
        "## Phase 1: random search",
        "",
        markdown.md_table(["optimizer", "hyperparameter", "distribution", "default"], space),
        "",
        f"The chosen trial has the best mean {METRIC_NAMES[metric]} over the trial seeds among "
        "trials where no seed diverged. The engine also evaluates the test set on every run's "
        "final parameters; the trials' test numbers are dropped on reading, never shown and "
        "never used: the test set is the re-runs'.",
        "",
        markdown.md_table(
            ["optimizer", "chosen trial", "setting", f"mean {METRIC_NAMES[metric]}"], chosen
        ),
        "",
        "![sensitivity](figures/sensitivity.png)",
        "",
        "Learning-rate sensitivity: each trial's mean over seeds against its learning rate (the "
        "other searched hyperparameters vary too); ★ the chosen trial, dashed the default rate, "
        "✕ a trial where some seed diverged.",
        "",
        "<details><summary>Every trial</summary>",
        "",
        markdown.md_table(["trial", "setting", f"mean {METRIC_NAMES[metric]}"], every),
        "",
        "</details>",
        "",
    ]


def finite(x: Any) -> Any:
    """``x`` with every non-finite float (not reached; no epoch times) as None, for JSON."""
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite(v) for v in x]
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def defaults_vs_tuned_lines(
    spec: StudySpec, group_of: Mapping[str, str], arms: Sequence[ArmSummary], alpha: float
) -> list[str]:
    """The re-runs' table and curves, and tuned − default per optimizer (``group_of``: arm →
    optimizer row), Holm-corrected over the optimizers, on three metrics."""
    cfg = spec.settings
    lines = [
        f"## Phase 2: defaults vs tuned, re-run on fresh seeds {cfg.final_seeds}",
        "",
        markdown.headline_table(arms, spec.report.target_accuracy),
        "",
        "Mean ± 95 % t-interval over seeds; diverged runs are counted and left out of every "
        "mean. *wall s* is the arm's own run set (its seeds trained at once).",
        "",
        "![curves](figures/final_curves.png)",
        "",
    ]
    for metric in ("final_val_accuracy", "best_val_accuracy", VERDICT_METRIC):
        effects = groups.variant_effects(arms, group_of, metric)
        rows = [
            [
                e.group,
                "diverged" if e.baseline_ci is None else fmt_ci(metric, e.baseline_ci),
                "diverged" if e.variant_ci is None else fmt_ci(metric, e.variant_ci),
                "n/a" if e.test is None else f"{e.test.mean_diff:+.4f}",
                "n/a" if e.test is None else fmt_p(e.test.t_p_holm),
                "n/a" if e.test is None else fmt_p(e.test.wilcoxon_p_holm),
            ]
            for e in effects
        ]
        lines += [
            f"**{METRIC_NAMES[metric]}**: tuned − default, paired by seed, Holm-corrected over "
            f"the {len(effects)} optimizers (α = {alpha:g}).",
            "",
            markdown.md_table(
                ["optimizer", "default", "tuned", "Δ", "Holm p (t)", "Holm p (Wilcoxon)"], rows
            ),
            "",
        ]
    return lines


def time_lines(
    spec: StudySpec,
    arms: Sequence[ArmSummary],
    times: Mapping[float, Mapping[str, targets.ArmTime]],
    steps: int,
) -> list[str]:
    target = spec.report.target_accuracy
    main = times[target]
    rows = [
        [
            a.label,
            f"{main[a.label].reached}/{main[a.label].n}",
            time_cell(main[a.label].steps, main[a.label].steps_ci, "{:,.0f}"),
            time_cell(main[a.label].seconds, main[a.label].seconds_ci, "{:.3g}"),
        ]
        for a in arms
    ]
    pct = round(100 * spec.report.confidence)
    return [
        f"## Time to {target:.1%} validation accuracy",
        "",
        "In the AlgoPerf sense: the first evaluation at which validation accuracy reaches the "
        f"target. The validation set is evaluated once per epoch ({steps:,} steps), so the "
        "resolution is one epoch. Median over seeds, a seed that never reaches the target "
        f"counted as not reached (∞, never a number); {pct} % percentile-bootstrap interval "
        f"over seeds ({spec.settings.bootstrap_resamples} resamples, seed "
        f"{spec.settings.bootstrap_seed}). Seconds are the arm's run-set epoch times "
        "(compilation excluded).",
        "",
        markdown.md_table(["arm", "seeds reaching it", "steps [CI]", "wall s [CI]"], rows),
        "",
    ]


def time_cell(value: float, ci: tuple[float, float], fmt: str) -> str:
    if math.isnan(value):
        return "n/a"
    if not math.isfinite(value):
        return "not reached"
    low, high = ci
    up = "not reached" if not math.isfinite(high) else fmt.format(high)
    return f"{fmt.format(value)} [{fmt.format(low)}, {up}]"


def profile_lines(
    levels: Sequence[float], ratios: Mapping[str, Mapping[str, np.ndarray]]
) -> list[str]:
    steps = ratios["steps"]
    header = ["optimizer (tuned)", *(f"r at {t:.1%}" for t in levels), "ρ(1)", "ρ(2)"]
    rows = [
        [
            name,
            *("∞" if not math.isfinite(x) else f"{x:.2f}" for x in r),
            f"{targets.profile(r, [1.0])[0]:.2f}",
            f"{targets.profile(r, [2.0])[0]:.2f}",
        ]
        for name, r in steps.items()
    ]
    return [
        "## Performance profile over targets",
        "",
        "Each target level is a problem; r = the tuned optimizer's median steps to it ÷ the "
        "fastest tuned optimizer's, ∞ when not reached; ρ(τ) = the fraction of targets reached "
        "within τ × the fastest (Dolan & Moré 2002, as AlgoPerf scores). Left: optimizer steps; "
        "right: wall seconds.",
        "",
        "![performance profile](figures/profile.png)",
        "",
        markdown.md_table(header, rows),
        "",
    ]
