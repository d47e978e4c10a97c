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

The report (its sections in ``jaxopt_lab.studies.field_sections``): the budget, the search
spaces and every trial, learning-rate sensitivity (each trial's mean metric against its
learning rate), defaults vs tuned (mean ± t-interval, Holm-corrected paired tests tuned −
default), time to ``report.target_accuracy`` and a performance
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
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from jaxopt_lab._typed_yaml import Where, one_of
from jaxopt_lab.data import MNIST
from jaxopt_lab.optimizers import registry
from jaxopt_lab.studies import field_sections, markdown, plots, search, targets
from jaxopt_lab.studies.aggregate import ArmSummary, comparisons, summarize_arms
from jaxopt_lab.studies.conclusions import METRIC_NAMES
from jaxopt_lab.studies.field_sections import VERDICT_METRIC
from jaxopt_lab.studies.runs import METRICS, RunCurve
from jaxopt_lab.studies.runsets import (
    OnSet,
    Phase,
    row_configs,
    steps_per_epoch,
    train_phases,
)
from jaxopt_lab.studies.sections import (
    ReportParts,
    comparison_section,
    header_lines,
    method_lines,
)
from jaxopt_lab.studies.spec import Row, StudySpec, require_rows, row_config_dict, slugify
from jaxopt_lab.studies.store import RowData, Store

TRIALS, FINAL = "trials", "final"
# Each row trains in run sets of its own (its trials, its two arms), so the study may gain
# optimizers and keep every run set it has; the verdict's rows, the profile's targets and the
# bootstrap are read by the report alone.
GROWS_BY_ROWS = True
REPORT_KEYS = ("modern", "baselines", "targets", "bootstrap_resamples", "bootstrap_seed")


def row_run_sets(row_name: str) -> list[str]:
    """Where a row's run sets live in the study directory: its trials, its two arms (so a
    rerun may withdraw an appended row none of whose run sets exists yet)."""
    return [
        f"{TRIALS}/{slugify(row_name)}",
        *(f"{FINAL}/{slugify(f'{row_name} {arm}')}" for arm in ("default", "tuned")),
    ]


# Metrics a trial may be selected by: validation only, the test set is the re-runs'.
SELECTION_METRICS = ("final_val_accuracy", "best_val_accuracy", "final_val_loss")


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
    first = row_configs(spec, trial_rows(spec)[:1])
    store.write_results({"steps_per_epoch": steps_per_epoch(next(iter(first.values())), data)})
    train_phases(spec, store, plan(spec, store), **opts)


def plan(spec: StudySpec, store: Store) -> Iterator[Phase]:
    """The random-search trials (``trials/``, one run set per optimizer), then each optimizer's
    defaults and chosen trial re-run (``final/``, one run set per arm)."""
    trials = trial_rows(spec)
    yield Phase(TRIALS, trials, {r.name: str(r.group) for r in trials})
    trials_read = store.child(TRIALS).read_rows([r.name for r in trials])
    best = best_trials(spec, _trial_arms(spec, trials_read), spec.settings.metric)
    finals = final_rows(spec, best)
    yield Phase(FINAL, finals, {r.name: r.name for r in finals})


def _trial_arms(spec: StudySpec, data: RowData) -> list[ArmSummary]:
    """The trials' arms, their test numbers dropped (the test set is the re-runs')."""
    runs = {name: [_without_test(r) for r in runs] for name, runs in data.runs.items()}
    return summarize_arms(runs, spec.report.target_accuracy, data.wall_seconds)


def _without_test(run: RunCurve) -> RunCurve:
    return dataclasses.replace(run, test_accuracy=None, test_loss=None)


# --------------------------------------------------------------------------- the report


def report(spec: StudySpec, store: Store) -> ReportParts:
    cfg, metric, alpha = spec.settings, spec.settings.metric, spec.report.alpha
    trial_data = store.child(TRIALS).read_rows([r.name for r in trial_rows(spec)])
    trials = _trials(spec, trial_data)
    finals = final_rows(spec, trials.best)
    final_data = store.child(FINAL).read_rows([r.name for r in finals])
    arms = summarize_arms(
        final_data.runs,
        spec.report.target_accuracy,
        final_data.wall_seconds,
        spec.report.confidence,
    )
    steps = int(store.read_results()["steps_per_epoch"])
    by_label = {a.label: a for a in arms}
    tuned = [by_label[f"{r.name} tuned"] for r in spec.rows if f"{r.name} tuned" in by_label]

    times = field_sections.times_by_target(spec, arms, steps)
    first = trial_rows(spec)[0]
    epochs = row_configs(spec, [first])[first.name].train.epochs
    spent = field_sections.budget(spec, epochs, trial_data.summaries, final_data.summaries, steps)
    verdict_tests = comparisons(tuned).get(VERDICT_METRIC, [])
    tier = field_sections.top_tier(tuned, verdict_tests, VERDICT_METRIC, alpha)
    modern = field_sections.modern_vs_baselines(spec, by_label, VERDICT_METRIC)
    ratios = {
        unit: targets.profile_ratios(
            {a.row: [getattr(times[t][a.label], unit) for t in cfg.targets] for a in tuned}
        )
        for unit in ("steps", "seconds")
    }
    lines = [
        *header_lines(spec, store),
        *field_sections.budget_lines(spec, spent),
        *field_sections.trial_lines(spec, trials, metric),
        *field_sections.defaults_vs_tuned_lines(
            spec, {r.name: r.group for r in finals}, arms, alpha
        ),
        *field_sections.time_lines(spec, arms, times, steps),
        *field_sections.profile_lines(cfg.targets, ratios),
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
    verdict = field_sections.verdict_sentences(spec, tuned, tier, modern, times, alpha)
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
        "trials": field_sections.trial_records(trials, metric),
        "best": trials.best,
        "metric": metric,
    }
    field_table = {
        "arms": markdown.table_records(arms),
        # null: not reached (a time is never a stand-in number for it)
        "time_to_target": {
            str(t): {label: field_sections.finite(dataclasses.asdict(x)) for label, x in ts.items()}
            for t, ts in times.items()
        },
        "profile_ratios": {
            u: {k: field_sections.finite(v.tolist()) for k, v in r.items()}
            for u, r in ratios.items()
        },
        "top_tier": tier,
        "modern_vs_baselines": modern,
        "verdict": verdict,
        "budget": spent,
    }
    figures = {
        "sensitivity.png": plots.sensitivity_figure(
            field_sections.sensitivity(spec, trials, metric), METRIC_NAMES[metric]
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


def _trials(spec: StudySpec, data: RowData) -> field_sections.Trials:
    """Phase 1 read back: the trials' arms (test numbers dropped) and the chosen trials."""
    arms = _trial_arms(spec, data)
    return field_sections.Trials(
        group={r.name: str(r.group) for r in trial_rows(spec)},
        points=trial_points(spec),
        spaces={row.name: search_space(row) for row in spec.rows},
        arms=arms,
        best=best_trials(spec, arms, spec.settings.metric),
    )
