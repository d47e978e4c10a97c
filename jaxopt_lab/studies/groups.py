"""Within-group comparisons: each variant of a group against the group's baseline, by seed.

The schedules and clipping studies are grids *optimizer × variant* (constant / step / cosine
schedule; no clipping / clip at 1.0 / …). Their question is not "which row is best overall" but
"does this variant help this optimizer", so each variant is paired by seed with its group's first
row (the baseline) on one metric, and the family of all such comparisons is Holm-corrected.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from jaxopt_lab.studies import stats
from jaxopt_lab.studies.aggregate import ArmSummary
from jaxopt_lab.studies.conclusions import p_phrase


@dataclasses.dataclass(frozen=True)
class VariantEffect:
    """A variant vs its baseline on ``metric``; ``test`` is ``None`` if one side fully diverged."""

    group: str
    baseline: str
    variant: str
    metric: str
    baseline_ci: stats.MeanCI | None
    variant_ci: stats.MeanCI | None
    baseline_diverged: int
    variant_diverged: int
    n_runs: int
    test: stats.PairedTest | None


def variant_effects(
    arms: Sequence[ArmSummary], groups: Mapping[str, str], metric: str
) -> list[VariantEffect]:
    """Pair every non-baseline arm with the first arm of its group (``groups``: row → group)."""
    by_group: dict[str, list[ArmSummary]] = {}
    for a in arms:
        if a.row in groups:
            by_group.setdefault(groups[a.row], []).append(a)
    effects = []
    for group, members in by_group.items():
        base = members[0]
        for arm in members[1:]:
            seeds = sorted(set(base.values[metric]) & set(arm.values[metric]))
            test = None
            if seeds:
                test = stats.paired_test(
                    [arm.values[metric][s] for s in seeds],
                    [base.values[metric][s] for s in seeds],
                    arm.label,
                    base.label,
                )
            effects.append(
                VariantEffect(
                    group,
                    base.label,
                    arm.label,
                    metric,
                    base.cis[metric],
                    arm.cis[metric],
                    base.n_diverged,
                    arm.n_diverged,
                    arm.n_runs,
                    test,
                )
            )
    adjusted = stats.holm([e.test.t_p if e.test else math.nan for e in effects])
    w_adjusted = stats.holm([e.test.wilcoxon_p if e.test else math.nan for e in effects])
    return [
        dataclasses.replace(
            e, test=dataclasses.replace(e.test, t_p_holm=p, wilcoxon_p_holm=wp) if e.test else None
        )
        for e, p, wp in zip(effects, adjusted, w_adjusted, strict=True)
    ]


def effect_sentence(e: VariantEffect, higher_is_better: bool, alpha: float = 0.05) -> str:
    """One generated sentence: helps / hurts / no detectable effect / rescues a diverging run."""
    if e.variant_ci is None and e.baseline_ci is None:
        return f"{e.group}: both {e.baseline} and {e.variant} diverged in every seed."
    if e.baseline_ci is None:
        return (
            f"{e.group}: {e.baseline} diverged in all {e.baseline_diverged} seeds while "
            f"{e.variant} trained ({e.variant_ci.mean:.4f}, {e.variant_diverged} diverged): the "
            "variant rescues the run."
        )
    if e.variant_ci is None:
        return (
            f"{e.group}: {e.variant} diverged in all {e.variant_diverged} seeds while "
            f"{e.baseline} trained ({e.baseline_ci.mean:.4f})."
        )
    t = e.test
    if t is None or math.isnan(t.t_p_holm):
        return f"{e.group}: {e.variant} vs {e.baseline}: too few paired seeds to test."
    better = (t.mean_diff > 0) == higher_is_better
    if t.t_p_holm < alpha and t.mean_diff != 0:
        verdict = "helps" if better else "hurts"
    else:
        verdict = "has no detectable effect"
    return (
        f"{e.group}: {e.variant} {verdict} vs {e.baseline} "
        f"(Δ = {t.mean_diff:+.4f}, Holm {p_phrase(t.t_p_holm)}, n = {t.n})."
    )


def best_variant_sentences(
    effects: Sequence[VariantEffect], higher_is_better: bool, alpha: float = 0.05
) -> list[str]:
    """Per group, its most helpful variant (by mean difference to the baseline), then which
    group gains most: the summary the schedules and clipping questions ask for."""
    best: dict[str, VariantEffect] = {}
    sign = 1.0 if higher_is_better else -1.0
    for e in effects:
        if e.test is None or math.isnan(e.test.mean_diff):
            continue
        if e.group not in best or sign * e.test.mean_diff > sign * best[e.group].test.mean_diff:
            best[e.group] = e
    out = []
    for group, e in best.items():
        sig = "significant" if e.test.t_p_holm < alpha else "not significant"
        if sign * e.test.mean_diff > 0:
            out.append(
                f"{group}: the most helpful variant is {e.variant} "
                f"(Δ = {e.test.mean_diff:+.4f} vs {e.baseline}, {sig} after Holm)."
            )
        else:
            out.append(
                f"{group}: no variant improves on {e.baseline}; the closest is {e.variant} "
                f"(Δ = {e.test.mean_diff:+.4f}, {sig} after Holm)."
            )
    if len(best) > 1:
        top = max(best.values(), key=lambda e: sign * e.test.mean_diff)
        out.append(f"The largest gain from a variant is {top.group}'s ({top.test.mean_diff:+.4f}).")
    return out
