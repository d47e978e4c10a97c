"""``scripts/compare.py`` and ``scripts/report.py`` end every failure in one ``error:`` line."""

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
compare = runpy.run_path(str(ROOT / "scripts" / "compare.py"))["main"]
report = runpy.run_path(str(ROOT / "scripts" / "report.py"))["main"]
SEED_TABLE = str(ROOT / "configs" / "studies" / "seed_table.yaml")


def _error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert err.count("\n") == 1, f"not one line: {err!r}"
    return err


def test_a_yaml_error_in_a_study_file_names_the_file(tmp_path, capsys):
    study = tmp_path / "broken.yaml"
    study.write_text("study: x\nkind: compare\nrows: [unclosed\n")
    assert compare(["--config", str(study), "--out", str(tmp_path / "o")]) == 2
    assert str(study) in _error(capsys)


def test_a_yaml_error_in_set_blames_set(tmp_path, capsys):
    args = ["--config", SEED_TABLE, "--out", str(tmp_path / "o"), "--set", "train.seeds=[0"]
    assert compare(args) == 2
    assert "--set" in _error(capsys)


def test_ctrl_c_in_compare_says_how_to_continue(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setitem(compare.__globals__, "run_study", interrupted)
    out = str(tmp_path / "o")
    assert compare(["--config", SEED_TABLE, "--out", out, "--quiet"]) == 130
    assert f"kept in {out}: run the same command again to continue" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["", "study: [1, 2\n"])
def test_an_empty_or_broken_study_yaml_is_named_by_report(tmp_path, capsys, content):
    (tmp_path / "study.yaml").write_text(content)
    assert report([str(tmp_path)]) == 2
    assert "study.yaml" in _error(capsys)


def test_report_of_a_directory_that_is_no_study_says_so(tmp_path, capsys):
    assert report([str(tmp_path)]) == 2
    assert "is not a study run directory" in _error(capsys)


def test_findings_rebuilds_the_readme_and_check_refuses_an_unpublished_study(
    tmp_path, capsys, monkeypatch
):
    from jaxopt_lab import findings, provenance
    from jaxopt_lab.studies.store import Store
    from tests.studies.fake_runs import fake_study

    script = runpy.run_path(str(ROOT / "scripts" / "findings.py"))
    cited = (findings.Cited("fake", "Best?", findings.leaderboard),)
    monkeypatch.setitem(script["main"].__globals__, "CITED", cited)
    rows = [
        {"name": "SGD", "optimizer": "sgd", "level": 0.9},
        {"name": "Adam", "optimizer": "adam", "level": 0.95},
    ]
    fake_study(tmp_path / "results" / "fake", rows)
    Store(tmp_path / "results" / "fake").add_provenance(provenance.record(), fresh=True)
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{findings.START}\n{findings.END}\n")
    args = ["--results", str(tmp_path / "results"), "--readme", str(readme)]
    assert script["main"](args) == 0  # rebuilds the report, then the block from its tables
    assert (tmp_path / "results" / "fake" / "report.md").is_file()
    assert "**Best?** ([report](" in readme.read_text()
    capsys.readouterr()
    assert script["main"]([*args, "--check"]) == 1  # never published: no fingerprint
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "holds no published study" in err
    assert "jaxopt-lab publish runs/fake" in err and "not current: 1 problem" in err
    assert script["main"](["--results", str(tmp_path / "none"), "--readme", str(readme)]) == 2
    assert "holds no published study; run and publish it" in _error(capsys)
