"""The README's Findings are rendered from stored, finished studies of the present code only."""

import json

import pytest

from jaxopt_lab import findings, provenance
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
    return tmp_path


def test_a_bullet_is_rendered_from_the_stored_tables(runs):
    block = findings.render(runs, CITED)
    assert block.startswith(findings.START) and block.endswith(findings.END)
    table = json.loads((runs / "fake" / "table.json").read_text())
    adam = next(a for a in table["arms"] if a["arm"] == "Adam")
    assert f"Adam {adam['final_val_accuracy_mean']:.4f} ± " in block
    command = "python scripts/compare.py --config configs/studies/fake.yaml --out runs/fake"
    assert f"**Which fake optimizer is best?** (`{command}`)" in block
    sgd = next(a for a in table["arms"] if a["arm"] == "SGD")
    assert f"{(sgd['final_val_accuracy_mean'] - 0.95) * 100:+.2f} (SGD)" in block


def test_the_readme_block_is_replaced_and_nothing_else(runs):
    readme = f"# x\n\n{findings.START}\nold\n{findings.END}\n\n## After\n"
    block = findings.render(runs, CITED)
    assert findings.replace_block(readme, block) == f"# x\n\n{block}\n\n## After\n"
    with pytest.raises(findings.FindingsError, match="no generated Findings block"):
        findings.replace_block("# no markers\n", block)


def test_a_missing_study_names_the_command_that_makes_it(tmp_path):
    with pytest.raises(findings.FindingsError, match=r"compare\.py --config configs/studies/fake"):
        findings.render(tmp_path, CITED)


def test_a_study_without_provenance_or_from_other_code_is_refused(runs):
    path = runs / "fake" / "provenance.json"
    calls = json.loads(path.read_text())["calls"]
    calls[0]["files"]["optimizers/adam.py"] = "0" * 64
    calls[0]["code_sha256"] = "0" * 64
    path.write_text(json.dumps({"calls": calls}))
    with pytest.raises(findings.FindingsError, match=r"changed since: optimizers/adam\.py"):
        findings.render(runs, CITED)
    path.unlink()
    with pytest.raises(findings.FindingsError, match="records no provenance"):
        findings.render(runs, CITED)


def test_an_unfinished_study_is_refused(tmp_path):
    fake_study(tmp_path / "fake", [{**ROWS[0], "reached": 1}, ROWS[1]])
    Store(tmp_path / "fake").add_provenance(provenance.record(), fresh=True)
    with pytest.raises(findings.FindingsError, match="epoch 1 of 3"):
        findings.render(tmp_path, CITED)
