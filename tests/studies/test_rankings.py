"""Rankings count a lost seed against its arm: an arm that diverged on some seeds never ranks
ahead of one that finished every seed on the mean of its survivors."""

from __future__ import annotations

from jaxopt_lab.studies.report import build_report
from tests.studies.fake_runs import fake_study

SEEDS = [0, 1, 2, 3, 4, 5]
ROWS = [
    {"name": "Steady", "optimizer": "sgd", "level": 0.96, "seeds": SEEDS},
    # better on the 4 seeds that survive, diverged on 2 of 6 (epoch 2 of 3)
    {
        "name": "Fragile",
        "optimizer": "adam",
        "level": 0.99,
        "seeds": SEEDS,
        "diverge": {(0.01, 0): 2, (0.01, 1): 2},
    },
]


def _line(text, start):
    return next(x for x in text.splitlines() if x.startswith(start))


def test_an_arm_with_diverged_seeds_never_ranks_first_on_its_survivors(tmp_path):
    fake_study(tmp_path, ROWS)
    text = build_report(tmp_path).path.read_text()
    leader = _line(text, "- Highest final validation accuracy:")
    assert "**Steady**" in leader and "**Fragile**" not in leader
    assert "Ranked behind it for seeds they lost, though the mean of their other seeds is " in (
        leader
    )
    assert "Fragile (0.97" in leader and "; 2 of 6 seeds diverged)." in leader
    assert "significant over Fragile" not in leader  # its survivors are better, paired
    ranking = _line(text, "| final validation accuracy |")
    assert ranking.startswith("| final validation accuracy | Steady; then, for seeds they lost: ")
    assert "Fragile (2 of 6 seeds diverged)" in ranking
    fewest = _line(text, "- Fewest epochs to reach the target accuracy:")
    assert fewest.endswith("**Fragile** (3.0 ± 0.0; 2 of 6 seeds diverged).")


def test_when_every_arm_lost_seeds_the_one_that_lost_fewest_leads_and_says_so(tmp_path):
    rows = [
        {**ROWS[0], "diverge": {(0.01, 5): 3}},
        ROWS[1],
    ]
    fake_study(tmp_path, rows)
    text = build_report(tmp_path).path.read_text()
    leader = _line(text, "- Highest final validation accuracy:")
    assert leader.startswith("- Highest final validation accuracy: **Steady** (")
    assert "; 1 of 6 seeds diverged)." in leader
    ranking = _line(text, "| final validation accuracy |")
    assert "every arm lost seeds: Steady (1 of 6 seeds diverged), Fragile (2 of 6" in ranking
