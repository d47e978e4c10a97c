"""The README's Findings are rendered from published studies, whose reports must be what the
present report code renders from their records."""

import json

import pytest

from jaxopt_lab import findings, provenance
from jaxopt_lab.studies.replays import Replayer
from jaxopt_lab.studies.report import build_report
from jaxopt_lab.studies.store import Store
from tests.studies.fake_runs import fake_study

ROWS = [
    {"name": "SGD", "optimizer": "sgd", "level": 0.96, "notebook": {"val_accuracy": {3: 0.95}}},
    {"name": "Adam", "optimizer": "adam", "level": 0.99},
]
CITED = (findings.Cited("fake", "Which fake optimizer is best?", findings.seed_table),)


@pytest.fixture()
def runs(tmp_path):
    fake_study(tmp_path / "fake", ROWS)
    Store(tmp_path / "fake").add_provenance(provenance.record(), fresh=True)
    build_report(tmp_path / "fake")
    return tmp_path


def test_a_bullet_is_rendered_from_the_stored_tables(runs):
    block = findings.render(runs, CITED)
    assert block.startswith(findings.START) and block.endswith(findings.END)
    table = json.loads((runs / "fake" / "table.json").read_text())
    adam = next(a for a in table["arms"] if a["arm"] == "Adam")
    assert f"Adam {adam['final_val_accuracy_mean']:.4f} ± " in block
    command = "jaxopt-lab compare --config configs/studies/fake.yaml --out runs/fake"
    report = f"[report]({runs.as_posix()}/fake/report.md)"
    assert f"**Which fake optimizer is best?** ({report}; `{command}`)" in block
    sgd = next(a for a in table["arms"] if a["arm"] == "SGD")
    assert f"{(sgd['final_val_accuracy_mean'] - 0.95) * 100:+.2f} (SGD)" in block


def test_the_readme_block_is_replaced_and_nothing_else(runs):
    readme = f"# x\n\n{findings.START}\nold\n{findings.END}\n\n## After\n"
    block = findings.render(runs, CITED)
    assert findings.replace_block(readme, block) == f"# x\n\n{block}\n\n## After\n"
    with pytest.raises(findings.FindingsError, match="no generated Findings block"):
        findings.replace_block("# no markers\n", block)


def test_a_missing_study_names_the_command_that_makes_it(tmp_path):
    with pytest.raises(
        findings.FindingsError, match=r"jaxopt-lab compare --config configs/studies/fake"
    ):
        findings.render(tmp_path, CITED)


def test_an_unpublished_study_is_refused_with_the_commands_that_publish_it(runs):
    with pytest.raises(
        findings.FindingsError, match=r"holds no published study.*jaxopt-lab publish"
    ):
        findings.check_study(runs, "fake", Replayer())


def test_a_report_edited_by_hand_or_older_than_the_report_code_is_found(runs):
    root = runs / "fake"
    assert findings.report_differs(root) is None
    report = root / "report.md"
    report.write_text(report.read_text().replace("Adam", "AdamX", 1))
    assert findings.report_differs(root) == "report.md"
    build_report(root)
    table = root / "table.json"
    table.write_text(table.read_text().replace("0.", "1.", 1))
    assert findings.report_differs(root) == "table.json"


def test_a_study_published_part_way_says_how_far_it_got_and_how_to_continue(tmp_path):
    fake_study(tmp_path / "fake", [{**ROWS[0], "reached": 1}, ROWS[1]])
    Store(tmp_path / "fake").add_provenance(provenance.record(), fresh=True)
    assert findings.unfinished(tmp_path / "fake")
    block = findings.render(tmp_path, CITED)
    assert "In progress: published part-way" in block
    assert "jaxopt-lab publish --restore results/fake runs/fake" in block
    assert "±" not in block  # no figure from an unfinished study
