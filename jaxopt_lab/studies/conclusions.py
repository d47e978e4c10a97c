"""Sentences of conclusion generated from the aggregated numbers, never typed by hand.

Significance is the Holm-adjusted two-sided paired t-test at level ``alpha`` (default 5 %);
the Wilcoxon signed-rank test is reported beside it as a check that does not assume normal
differences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from jaxopt_lab.studies import stats
from jaxopt_lab.studies.aggregate import (
    ArmSummary,
    curve_values_at,
    lost_seeds,
    mean_curve_at,
    ranking,
)
from jaxopt_lab.studies.runs import METRICS

METRIC_NAMES = {
    "final_val_accuracy": "final validation accuracy",
    "best_val_accuracy": "best validation accuracy",
    "final_train_loss": "final training loss",
    "final_val_loss": "final validation loss",
    "test_accuracy": "test accuracy",
    "epochs_to_target": "epochs to reach the target accuracy",
}


def fmt_value(metric: str, x: float) -> str:
    """Epoch counts with one decimal, accuracies and losses with four."""
    return f"{x:.1f}" if metric == "epochs_to_target" else f"{x:.4f}"


def fmt_ci(metric: str, ci: stats.MeanCI | None) -> str:
    """``mean ± half-width``; the half-width is omitted for a single run."""
    if ci is None:
        return "n/a"
    if math.isnan(ci.half_width):
        return fmt_value(metric, ci.mean)
    return f"{fmt_value(metric, ci.mean)} ± {fmt_value(metric, ci.half_width)}"


def fmt_p(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 1e-3 else f"{p:.3f}"


def p_phrase(p: float) -> str:
    """``p = 0.040`` or ``p < 0.001``, for sentences."""
    text = fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def fmt_diff(metric: str, d: float) -> str:
    return f"{d:+.1f}" if metric == "epochs_to_target" else f"{d:+.4f}"


def leader_sentences(
    arms: Sequence[ArmSummary],
    tests: Mapping[str, Sequence[stats.PairedTest]],
    alpha: float = 0.05,
) -> list[str]:
    """For each metric: the best arm, and against which arms its lead is significant."""
    out = []
    for metric, higher in METRICS.items():
        order = [label for label in ranking(arms, metric) if _arm(arms, label).cis[metric]]
        if not order:
            continue
        best = _arm(arms, order[0])
        word = "Highest" if higher else "Lowest"
        if metric == "epochs_to_target":
            word = "Fewest"
        sentence = f"{word} {METRIC_NAMES[metric]}: **{best.label}** ({_with_lost(best, metric)})."
        demoted = [
            f"{a.label} ({_with_lost(a, metric)})"
            for a in (_arm(arms, label) for label in order[1:])
            if lost_seeds(a, metric) and _better(metric, a.cis[metric].mean, best.cis[metric].mean)
        ]
        if demoted:
            sentence += (
                f" Ranked behind it for seeds they lost, though the mean of their other seeds "
                f"is better: {', '.join(demoted)}."
            )
        sig, tied = [], []
        for t in tests.get(metric, []):
            if best.label not in (t.a, t.b) or math.isnan(t.t_p_holm):
                continue
            other = t.b if t.a == best.label else t.a
            if lost_seeds(_arm(arms, other), metric) > lost_seeds(best, metric):
                continue  # ranked behind for its lost seeds, which a paired test leaves out
            diff = t.mean_diff if t.a == best.label else -t.mean_diff
            part = f"{other} (Δ = {fmt_diff(metric, diff)}, {p_phrase(t.t_p_holm)})"
            (sig if t.t_p_holm < alpha else tied).append(part)
        if sig:
            sentence += " Paired by seed, its lead is significant over " + ", ".join(sig) + "."
        if tied:
            sentence += " It is not distinguishable from " + ", ".join(tied) + "."
        out.append(sentence)
    return out


def consistency_sentence(arms: Sequence[ArmSummary]) -> str:
    """Whether one arm leads every metric, computed from the per-metric rankings."""
    leaders = {}
    for metric in METRICS:
        order = [label for label in ranking(arms, metric) if _arm(arms, label).cis[metric]]
        if order:
            leaders[metric] = order[0]
    if not leaders:
        return "No arm produced a finite metric: every run diverged."
    distinct = sorted(set(leaders.values()))
    if len(distinct) == 1:
        return (
            f"Consistency: **{distinct[0]}** has the best mean on every metric ({len(leaders)} of "
            "them); whether each lead is significant is stated above."
        )
    parts = [
        f"{label} on {', '.join(METRIC_NAMES[m] for m, v in leaders.items() if v == label)}"
        for label in distinct
    ]
    return "Consistency: no single arm leads every metric — " + "; ".join(parts) + "."


def divergence_sentences(arms: Sequence[ArmSummary]) -> list[str]:
    out = []
    for a in arms:
        if a.n_diverged:
            epochs = sorted({r.diverged_epoch for r in a.runs if r.diverged})
            out.append(
                f"{a.label} diverged in {a.n_diverged} of {a.n_runs} seeds (epoch "
                f"{', '.join(map(str, epochs))}); those runs are shown as diverged and left out of "
                "every mean."
            )
    return out


def speed_sentence(arms: Sequence[ArmSummary], target: float, epochs: int) -> str:
    """Who never reaches ``target`` validation accuracy, and who reaches it in only some seeds
    (the leader on speed is in :func:`leader_sentences`)."""
    never = [a.label for a in arms if a.n_reached == 0 and not a.all_diverged]
    partly = [
        f"{a.label} ({a.n_reached}/{a.n_runs - a.n_diverged} seeds)"
        for a in arms
        if 0 < a.n_reached < a.n_runs - a.n_diverged
    ]
    parts = []
    if never:
        parts.append(
            f"Never reached {target:.0%} validation accuracy within {epochs} epochs: "
            f"{', '.join(never)}."
        )
    if partly:
        parts.append(
            f"Reached {target:.0%} in only some seeds: {', '.join(partly)}; their epoch "
            "counts average the seeds that did."
        )
    if len(never) == len(arms):
        return f"No arm reached {target:.0%} validation accuracy within {epochs} epochs."
    return " ".join(parts)


def ranking_line(
    arms: Sequence[ArmSummary], tests: Sequence[stats.PairedTest], metric: str, alpha: float
) -> str:
    """Arms best to worst in tiers: ``>`` opens a new tier when an arm differs significantly
    (Holm paired t-test) from the first arm of the current tier, ``≈`` keeps it in the tier.

    Tiers are measured from their head, not between neighbours: a chain of ``≈`` between
    neighbours would hide that its ends differ. Arms without a value are left out.
    """
    order = [label for label in ranking(arms, metric) if _arm(arms, label).cis[metric]]
    by_pair = {frozenset((t.a, t.b)): t for t in tests}
    complete = [label for label in order if not lost_seeds(_arm(arms, label), metric)]
    lost = [_arm(arms, label) for label in order if label not in complete]
    out: list[str] = []
    if complete:
        out, head = [complete[0]], complete[0]
        for cur in complete[1:]:
            t = by_pair.get(frozenset((head, cur)))
            sig = t is not None and not math.isnan(t.t_p_holm) and t.t_p_holm < alpha
            if sig:
                head = cur
            out += [">" if sig else "≈", cur]
    if lost:
        out.append(
            ("; then, for seeds they lost: " if out else "every arm lost seeds: ")
            + ", ".join(f"{a.label} ({_lost_note(a, metric)})" for a in lost)
        )
    return " ".join(out).replace(" ; then", "; then")


def _lost_note(arm: ArmSummary, metric: str) -> str:
    """``2 of 6 seeds diverged``, or for epochs to target the seeds that reached it."""
    lost = lost_seeds(arm, metric)
    if metric == "epochs_to_target" and lost > arm.n_diverged:
        return f"{arm.n_runs - lost} of {arm.n_runs} seeds reached it"
    return f"{lost} of {arm.n_runs} seeds diverged"


def _with_lost(arm: ArmSummary, metric: str) -> str:
    """``0.9735 ± 0.0031``, with ``; 2 of 6 seeds diverged`` when the arm lost seeds."""
    ci = fmt_ci(metric, arm.cis[metric])
    return f"{ci}; {_lost_note(arm, metric)}" if lost_seeds(arm, metric) else ci


def _better(metric: str, a: float, b: float) -> bool:
    return a > b if METRICS[metric] else a < b


def wilcoxon_note(arms: Sequence[ArmSummary]) -> str:
    n = max((a.n_runs for a in arms), default=0)
    if n < 1:
        return ""
    floor = stats.min_wilcoxon_p(n)
    return (
        f"With {n} seeds the exact two-sided Wilcoxon test cannot go below p = {floor:.4f}"
        + (", so it cannot reach 5 % here; " if floor >= 0.05 else "; ")
        + "significance calls use the Holm-adjusted paired t-test, Wilcoxon is the check."
    )


def expectation_sentences(
    arms: Sequence[ArmSummary], notebook: Mapping[str, Mapping[str, Any]], epoch: int, tol: float
) -> list[str]:
    """Compare each arm's mean validation accuracy at ``epoch`` with the notebook's figure."""
    out = []
    for a in arms:
        ref = notebook.get(a.row, {}).get("val_accuracy", {})
        if epoch not in ref:
            continue
        ci = mean_curve_at(a, "val_accuracy", epoch)
        if ci is None:
            out.append(f"{a.label}: no healthy run reached epoch {epoch}; cannot compare.")
            continue
        nb = float(ref[epoch])
        diff = ci.mean - nb
        verdict = "within" if abs(diff) <= tol else "OUTSIDE"
        # The notebook printed one run: place it among our single runs, not only our mean.
        singles = curve_values_at(a, "val_accuracy", epoch)
        lo, hi = min(singles), max(singles)
        where = "inside" if lo <= nb <= hi else ("below" if nb < lo else "above")
        out.append(
            f"{a.label}: mean epoch-{epoch} validation accuracy {ci.mean:.4f} vs notebook "
            f"{nb:.4f} (Δ = {100 * diff:+.2f} points): {verdict} the "
            f"{100 * tol:.1f}-point tolerance. Our {len(singles)} single runs span "
            f"{lo:.4f}–{hi:.4f} ({100 * (hi - lo):.2f} points); the notebook's run lies {where} "
            "that range."
        )
    return out


def _arm(arms: Sequence[ArmSummary], label: str) -> ArmSummary:
    return next(a for a in arms if a.label == label)
