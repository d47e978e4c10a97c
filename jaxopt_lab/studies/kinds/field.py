"""The field study: every optimizer at the same tuning budget, then re-run on fresh seeds and
timed to targets.

Phase 1 (``trials/``): each row declares a search space (``search:``, the learning rate
and at most two other hyperparameters, each with a distribution) and gets ``trials`` points of
random search, each trained on ``trial_seeds``; one run set per optimizer holds all its trials
(one config per trial, label ``<row> trial <k>``; only learning rates are vmapped inside a
config, so each trial is its own group of the compiled program). The points are drawn with
NumPy's ``default_rng((search_seed, crc32(row name)))``, one uniform number per dimension per
trial in a fixed order (the learning rate, then the other names sorted), so the same study
draws the same trials, a row's trials do not depend on the other rows, and the first k trials
of a budget of N are those of a budget of k. Values are rounded to 4 significant digits, so the
printed trial is exactly the one that ran.

Distributions: ``log_uniform: [a, b]`` (log x uniform), ``uniform: [a, b]``,
``one_minus_log_uniform: [a, b]`` (log(1 − x) uniform; for β's and momentum, whose effect is in
the time scale 1/(1 − β)) and ``choice: [v, …]`` (equal chances; integers such as warmup steps).

Selection: per optimizer the trial with the best mean ``metric`` (a validation metric) over
its trial seeds, among trials where no seed diverged. The engine evaluates the test set on every
run's final parameters; the trials' test numbers are dropped on reading and never shown.

Phase 2 (``final/``): every row twice on ``final_seeds`` (disjoint from the trial seeds) —
``<row> default`` (its ``default_learning_rate`` and the optimizer's own defaults) and
``<row> tuned`` (the chosen trial) — each arm its own run set, so its epoch times are its own
and wall seconds compare optimizers. Runs with one seed share their initialisation and batch
order across arms, so default vs tuned and optimizer vs optimizer pair by seed.

The report: the budget, the search spaces and every trial, learning-rate sensitivity (each
trial's mean metric against its learning rate), defaults vs tuned (mean ± t-interval, Holm-
corrected paired tests tuned − default), time to ``report.target_accuracy`` and a performance
profile over ``targets`` (``jaxopt_lab.studies.targets``: median over seeds, not reached = ∞,
bootstrap intervals), the tuned arms compared pairwise (Holm), and computed conclusions: the top
tier on test accuracy (the tuned arms not significantly below the best, Holm-corrected paired
t-test over all pairs of tuned arms) and, for each of ``modern`` against each of ``baselines``
(row names), whether it beats, ties or trails them (one Holm family of modern × baseline).
Test accuracy decides the conclusions: the re-runs' validation accuracy is on the set that chose
the trial, the test set was touched only by the re-runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxopt_lab._typed_yaml import Where, one_of
from jaxopt_lab.data import MNIST
from jaxopt_lab.optimizers import registry
from jaxopt_lab.studies import groups, markdown, plots, search, stats, targets
from jaxopt_lab.studies.aggregate import ArmSummary, comparisons, ranking, summarize_arms
from jaxopt_lab.studies.conclusions import METRIC_NAMES, fmt_ci, fmt_p, fmt_value, p_phrase
from jaxopt_lab.studies.runs import METRICS, RunCurve
from jaxopt_lab.studies.runsets import OnSet, row_configs, steps_per_epoch, train_rows
from jaxopt_lab.studies.sections import (
    ReportParts,
    comparison_section,
    header_lines,
    method_lines,
)
from jaxopt_lab.studies.spec import Row, StudySpec, require_rows, row_config_dict
from jaxopt_lab.studies.store import RowData, Store

TRIALS, FINAL = "trials", "final"
# Metrics a trial may be selected by: validation only, the test set is the re-runs'.
SELECTION_METRICS = ("final_val_accuracy", "best_val_accuracy", "final_val_loss")
VERDICT_METRIC = "test_accuracy"


@dataclasses.dataclass(frozen=True)
class Settings:
    """The ``field:`` section: the budget (``trials`` random-search points per optimizer, each
    on ``trial_seeds``), the re-runs' ``final_seeds``, the search's seed, the selection metric
    (a validation metric), the targets of the performance profile, the rows held as ``modern``
    against the ``baselines``, and the bootstrap of the time-to-target intervals."""

    trials: int = 16
    trial_seeds: list[int] = dataclasses.field(default_factory=lambda: [0, 1])
    final_seeds: list[int] = dataclasses.field(default_factory=lambda: [10, 11, 12, 13, 14])
    search_seed: int = 0
    metric: str = "final_val_accuracy"
    targets: list[float] = dataclasses.field(default_factory=lambda: [0.96, 0.97, 0.975, 0.98])
    modern: list[str] = dataclasses.field(default_factory=list)
    baselines: list[str] = dataclasses.field(default_factory=list)
    bootstrap_resamples: int = 2000
    bootstrap_seed: int = 0


def check(spec: StudySpec, where: Where) -> None:
    require_rows(spec, where)
    cfg = spec.settings
    one_of(where, "field.metric", cfg.metric, SELECTION_METRICS)
    if cfg.trials < 1:
        raise where.error("field.trials", f"must be ≥ 1, got {cfg.trials}")
    for key in ("trial_seeds", "final_seeds"):
        if not getattr(cfg, key):
            raise where.error(f"field.{key}", "needs at least one seed")
    shared = sorted(set(cfg.trial_seeds) & set(cfg.final_seeds))
    if shared:
        raise where.error(
            "field.final_seeds",
            f"seeds {shared} are also trial seeds; the re-runs need fresh seeds so the "
            "selection's luck does not carry into them",
        )
    if any(not 0.0 < t <= 1.0 for t in cfg.targets) or not cfg.targets:
        raise where.error("field.targets", f"needs accuracies in (0, 1], got {cfg.targets}")
    if cfg.bootstrap_resamples < 1:
        raise where.error("field.bootstrap_resamples", "must be ≥ 1")
    names = [r.name for r in spec.rows]
    for key in ("modern", "baselines"):
        unknown = [n for n in getattr(cfg, key) if n not in names]
        if unknown:
            raise where.error(f"field.{key}", f"{unknown} are not rows ({', '.join(names)})")
    for i, row in enumerate(spec.rows):
        at = f"rows[{i}]"
        if row.default_learning_rate is None:
            raise where.error(
                f"{at}.default_learning_rate",
                f"missing: field row {row.name!r} needs `default_learning_rate` (its usual rate)",
            )
        try:
            dims = search_space(row)
        except search.SearchSpaceError as error:
            raise where.error(f"{at}.search{error.key}", f"({row.name}) {error.message}") from None
        optimizer = _optimizer_of(spec, row)
        if optimizer is None:
            raise where.error(f"{at}.set", f"({row.name}) names no `optimizer.name`")
        try:
            registry.check_hyperparameter_names(optimizer, [d.name for d in dims])
        except ValueError as error:
            raise where.error(f"{at}.search", f"({row.name}) {error}") from None


def search_space(row: Row) -> list[search.Dimension]:
    """The row's search space (``jaxopt_lab.studies.search``)."""
    return search.parse(row.search)


def sample_trials(row: Row, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points of the row's search space; the stream is the row name's under ``seed``."""
    return search.sample(search_space(row), n, seed, row.name)


def trial_name(row: Row, k: int) -> str:
    return f"{row.name} trial {k + 1:02d}"


def trial_points(spec: StudySpec) -> dict[str, dict[str, Any]]:
    """Each trial's point of its row's search space, by trial name, in the rows' order."""
    cfg = spec.settings
    return {
        trial_name(row, k): point
        for row in spec.rows
        for k, point in enumerate(sample_trials(row, cfg.trials, cfg.search_seed))
    }


def trial_rows(spec: StudySpec) -> list[Row]:
    """Phase-1 rows: each row's trials on the trial seeds (group: the row)."""
    points = iter(trial_points(spec).items())
    out = []
    for row in spec.rows:
        for k in range(spec.settings.trials):
            name, point = next(points)
            out.append(
                Row(
                    name=name,
                    group=row.name,
                    variant=f"trial {k + 1:02d}",
                    set=_with_point(row.set, point, spec.settings.trial_seeds),
                )
            )
    return out


def final_rows(spec: StudySpec, best: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """Phase-2 rows: ``<row> default`` and, when some trial stayed finite, ``<row> tuned``."""
    seeds = spec.settings.final_seeds
    rows = []
    for row in spec.rows:
        defaults = {"learning_rate": row.default_learning_rate}
        point = best.get(row.name, {}).get("point")
        for variant, chosen in (("default", defaults), ("tuned", point)):
            if chosen is not None:
                rows.append(
                    Row(
                        name=f"{row.name} {variant}",
                        set=_with_point(row.set, chosen, seeds),
                        group=row.name,
                        variant=variant,
                    )
                )
    return rows


def _with_point(base: Mapping[str, Any], point: Mapping[str, Any], seeds: list[int]) -> dict:
    """A row's ``set`` with a point of its search space and the seeds: the learning rate as
    ``optimizer.learning_rate``, the others merged into ``optimizer.hparams``."""
    out = {**base, "optimizer.learning_rate": float(point["learning_rate"])}
    others = {k: v for k, v in point.items() if k != "learning_rate"}
    if others:
        out["optimizer.hparams"] = {**base.get("optimizer.hparams", {}), **others}
    out["train.seeds"] = list(seeds)
    return out


def _optimizer_of(spec: StudySpec, row: Row) -> Any:
    """The optimizer reference the row's runs resolve to (None when no name is set)."""
    return row_config_dict(spec, row).get("optimizer", {}).get("name")


def best_trials(
    spec: StudySpec, arms: Sequence[ArmSummary], metric: str
) -> dict[str, dict[str, Any]]:
    """Per row: the chosen trial (its name, point and mean ``metric``) among trials where no
    seed diverged; ``trial`` None when every trial diverged. Ties go to the earlier trial."""
    higher = METRICS[metric]
    group = {r.name: r.group for r in trial_rows(spec)}
    points = trial_points(spec)
    out = {}
    for row in spec.rows:
        mine = [a for a in arms if group.get(a.row) == row.name]
        ok = [a for a in mine if a.n_diverged == 0 and a.cis[metric] is not None]
        if not ok:
            out[row.name] = {"trial": None, "point": None, "mean": None}
            continue
        best = (max if higher else min)(ok, key=lambda a: a.cis[metric].mean)
        out[row.name] = {
            "trial": best.row,
            "point": points[best.row],
            "mean": best.cis[metric].mean,
        }
    return out


def run(
    spec: StudySpec,
    store: Store,
    *,
    overwrite: bool,
    quiet: bool,
    data: MNIST | None,
    on_set: OnSet | None,
) -> None:
    opts = {"overwrite": overwrite, "quiet": quiet, "data": data, "on_set": on_set}
    trials = trial_rows(spec)
    apart = {r.name: str(r.group) for r in trials}
    train_rows(spec, trials, store.child(TRIALS), apart=apart, **opts)
    first = row_configs(spec, trials[:1])[trials[0].name]
    store.write_results({"steps_per_epoch": steps_per_epoch(first, data)})
    trials_read = store.child(TRIALS).read_rows([r.name for r in trials])
    best = best_trials(spec, _trial_arms(spec, trials_read), spec.settings.metric)
    finals = final_rows(spec, best)
    train_rows(spec, finals, store.child(FINAL), apart={r.name: r.name for r in finals}, **opts)


def _trial_arms(spec: StudySpec, data: RowData) -> list[ArmSummary]:
    """The trials' arms, their test numbers dropped (the test set is the re-runs')."""
    runs = {name: [_without_test(r) for r in runs] for name, runs in data.runs.items()}
    return summarize_arms(runs, spec.report.target_accuracy, data.wall_seconds)


def _without_test(run: RunCurve) -> RunCurve:
    return dataclasses.replace(run, test_accuracy=None, test_loss=None)


# --------------------------------------------------------------------------- the report


def report(spec: StudySpec, store: Store) -> ReportParts:
    cfg, metric = spec.settings, spec.settings.metric
    target, alpha, confidence = (
        spec.report.target_accuracy,
        spec.report.alpha,
        spec.report.confidence,
    )
    trials = trial_rows(spec)
    trial_data = store.child(TRIALS).read_rows([r.name for r in trials])
    trial_arms = _trial_arms(spec, trial_data)
    best = best_trials(spec, trial_arms, metric)
    finals = final_rows(spec, best)
    final_data = store.child(FINAL).read_rows([r.name for r in finals])
    arms = summarize_arms(final_data.runs, target, final_data.wall_seconds, confidence)
    steps = int(store.read_results()["steps_per_epoch"])
    by_label = {a.label: a for a in arms}
    tuned = [by_label[f"{r.name} tuned"] for r in spec.rows if f"{r.name} tuned" in by_label]

    times = _times(spec, arms, steps)
    spent = budget(spec, trial_data.summaries, final_data.summaries, steps)
    verdict_tests = comparisons(tuned).get(VERDICT_METRIC, [])
    tier = top_tier(tuned, verdict_tests, VERDICT_METRIC, alpha)
    modern = modern_vs_baselines(spec, by_label, VERDICT_METRIC)
    ratios = {
        unit: targets.profile_ratios(
            {a.row: [getattr(times[t][a.label], unit) for t in cfg.targets] for a in tuned}
        )
        for unit in ("steps", "seconds")
    }
    lines = [
        *header_lines(spec, store.root),
        *_budget_lines(spec, spent),
        *_trial_lines(spec, trial_arms, best, metric),
        *_defaults_vs_tuned_lines(spec, finals, arms, alpha),
        *_time_lines(spec, arms, times, steps),
        *_profile_lines(cfg.targets, ratios),
    ]
    tuned_spec = dataclasses.replace(
        spec,
        rows=[
            dataclasses.replace(r, group=None, variant=None) for r in finals if r.variant == "tuned"
        ],
        report=dataclasses.replace(spec.report, primary_metric=VERDICT_METRIC),
    )
    section = comparison_section(
        tuned_spec, tuned, prefix="tuned_", title="The tuned optimizers compared"
    )
    verdict = verdict_sentences(spec, tuned, tier, modern, times, alpha)
    lines += [
        *section.lines,
        "## Verdict at equal budget (computed)",
        "",
        *(f"- {s}" for s in verdict),
        "",
        *method_lines(
            spec,
            {**trial_data.summaries, **{f"final {k}": v for k, v in final_data.summaries.items()}},
        ),
    ]
    trials_table = {
        "trials": _trial_records(spec, trial_arms, metric),
        "best": best,
        "metric": metric,
    }
    field_table = {
        "arms": markdown.table_records(arms),
        # null: not reached (a time is never a stand-in number for it)
        "time_to_target": {
            str(t): {label: _finite(dataclasses.asdict(x)) for label, x in times[t].items()}
            for t in times
        },
        "profile_ratios": {
            u: {k: _finite(v.tolist()) for k, v in r.items()} for u, r in ratios.items()
        },
        "top_tier": tier,
        "modern_vs_baselines": modern,
        "verdict": verdict,
        "budget": spent,
    }
    figures = {
        "sensitivity.png": plots.sensitivity_figure(
            sensitivity(spec, trial_arms, best, metric), METRIC_NAMES[metric]
        ),
        "profile.png": plots.profile_figure(
            {"optimizer steps": ratios["steps"], "wall seconds": ratios["seconds"]}
        ),
        "final_curves.png": plots.curves_figure(arms),
        **section.figures,
    }
    return ReportParts(
        lines,
        section.headline,
        tables={
            **section.tables,
            "trials_table": (None, trials_table),
            "field_table": (markdown.table_records(arms), field_table),
        },
        figures=figures,
    )


def _times(
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
    (Holm-adjusted paired t-test of ``tests``), best first."""
    order = [label for label in ranking(arms, metric) if _cis(arms, label, metric)]
    if not order:
        return []
    head = order[0]
    by_pair = {frozenset((t.a, t.b)): t for t in tests}
    tier = [head]
    for label in order[1:]:
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


def sensitivity(
    spec: StudySpec,
    trial_arms: Sequence[ArmSummary],
    best: Mapping[str, Mapping[str, Any]],
    metric: str,
) -> dict[str, dict[str, Any]]:
    """Per row: each trial's learning rate, mean ``metric`` (nan if a seed diverged), whether
    it diverged, the chosen trial's index and the default rate."""
    group = {r.name: r.group for r in trial_rows(spec)}
    out = {}
    for row in spec.rows:
        mine = [a for a in trial_arms if group[a.row] == row.name]
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
                (i for i, a in enumerate(mine) if a.row == best[row.name]["trial"]), None
            ),
            "default": row.default_learning_rate,
        }
    return out


def _trial_records(
    spec: StudySpec, trial_arms: Sequence[ArmSummary], metric: str
) -> list[dict[str, Any]]:
    group = {r.name: r.group for r in trial_rows(spec)}
    points = trial_points(spec)
    return [_trial_record(a, group[a.row], points[a.row], metric) for a in trial_arms]


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
    trial_summaries: Mapping[str, Mapping[str, Any]],
    final_summaries: Mapping[str, Mapping[str, Any]],
    steps: int,
) -> dict[str, Any]:
    """The study's budget and what it cost: runs, epochs and steps, and each phase's wall
    time (the sum of its run sets' training calls, compilation included)."""
    cfg = spec.settings
    first = trial_rows(spec)[0]
    epochs = row_configs(spec, [first])[first.name].train.epochs
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


def _budget_lines(spec: StudySpec, b: Mapping[str, Any]) -> list[str]:
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


def _trial_lines(
    spec: StudySpec,
    trial_arms: Sequence[ArmSummary],
    best: Mapping[str, Mapping[str, Any]],
    metric: str,
) -> list[str]:
    space = [
        [
            row.name,
            d.name,
            d.describe(),
            f"{row.default_learning_rate:g}" if d.name == "learning_rate" else "optimizer's",
        ]
        for row in spec.rows
        for d in search_space(row)
    ]
    chosen = []
    for row in spec.rows:
        b = best[row.name]
        if b["trial"] is None:
            chosen.append([row.name, "every trial diverged", "n/a", "n/a"])
            continue
        point = ", ".join(f"{k}={_fmt(v)}" for k, v in b["point"].items())
        chosen.append([row.name, b["trial"], point, fmt_value(metric, b["mean"])])
    group = {r.name: str(r.group) for r in trial_rows(spec)}
    points = trial_points(spec)
    every = []
    for a in trial_arms:
        ci = a.cis[metric]
        cell = "diverged" if a.n_diverged else ("n/a" if ci is None else fmt_value(metric, ci.mean))
        mark = " ★" if best[group[a.row]]["trial"] == a.row else ""
        point = ", ".join(f"{k}={_fmt(v)}" for k, v in points[a.row].items())
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


def _finite(x: Any) -> Any:
    """``x`` with every non-finite float (not reached; no epoch times) as None, for JSON."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _defaults_vs_tuned_lines(
    spec: StudySpec, finals: Sequence[Row], arms: Sequence[ArmSummary], alpha: float
) -> list[str]:
    cfg = spec.settings
    group_of = {r.name: str(r.group) for r in finals}
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


def _time_lines(
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
            _time_cell(main[a.label].steps, main[a.label].steps_ci, "{:,.0f}"),
            _time_cell(main[a.label].seconds, main[a.label].seconds_ci, "{:.3g}"),
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


def _time_cell(value: float, ci: tuple[float, float], fmt: str) -> str:
    if math.isnan(value):
        return "n/a"
    if not math.isfinite(value):
        return "not reached"
    low, high = ci
    up = "not reached" if not math.isfinite(high) else fmt.format(high)
    return f"{fmt.format(value)} [{fmt.format(low)}, {up}]"


def _profile_lines(
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
