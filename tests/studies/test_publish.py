"""Published studies: records and report in results/, and the behavioural rule of currency.

A published study is current while the present code computes the same numbers on its replays,
resolves it to the same run sets and splits the data the same way: a refactor keeps it current
(tested in a subprocess on an edited copy of the package, whose text digests do change), and a
one-constant change that moves numbers makes exactly the studies that depend on it stale.
"""

from __future__ import annotations

import gzip
import inspect
import json
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jaxopt_lab.engine import runner
from jaxopt_lab.engine.outputs import EditedOutputError
from jaxopt_lab.engine.programs import ProgramCache
from jaxopt_lab.findings import report_differs
from jaxopt_lab.optimizers import adam
from jaxopt_lab.studies import replays, search
from jaxopt_lab.studies.kinds import tuning
from jaxopt_lab.studies.load import load_spec
from jaxopt_lab.studies.publish import PublishError, publish, restore, verify
from jaxopt_lab.studies.replays import Replayer, Tolerance
from jaxopt_lab.studies.report import build_report
from jaxopt_lab.studies.runner import run_study
from jaxopt_lab.studies.store import FINGERPRINT_FILE, Store

publish_main = runpy.run_path(str(Path(__file__).parents[2] / "scripts" / "publish.py"))["main"]

REPO = Path(__file__).resolve().parents[2]
BASE = {"model": {"hidden_sizes": [16]}, "train": {"epochs": 2, "seeds": [0, 1]}}
STUDIES = {
    "adam_sgd": {
        "kind": "compare",
        "base": BASE,
        "rows": [
            {"name": "SGD", "set": {"optimizer.name": "sgd", "optimizer.learning_rate": 0.05}},
            {"name": "Adam", "set": {"optimizer.name": "adam", "optimizer.learning_rate": 1e-3}},
        ],
    },
    "sgd_only": {
        "kind": "compare",
        "base": BASE,
        "run_together": False,
        "rows": [
            {"name": "SGD", "set": {"optimizer.name": "sgd", "optimizer.learning_rate": 0.05}},
            {
                "name": "Momentum",
                "set": {"optimizer.name": "momentum", "optimizer.learning_rate": 0.01},
            },
        ],
    },
    "tuned": {
        "kind": "tuning",
        "base": {"model": {"hidden_sizes": [16]}, "train": {"epochs": 1}},
        "tuning": {"grid": {"min": 1e-3, "max": 1e-1, "num": 3}, "sweep_seeds": [0]},
        "rows": [{"name": "SGD", "set": {"optimizer.name": "sgd"}, "default_learning_rate": 1e-2}],
    },
    "searched": {
        "kind": "field",
        "base": {"model": {"hidden_sizes": [16]}, "train": {"epochs": 1}},
        "field": {
            "trials": 2,
            "trial_seeds": [0],
            "final_seeds": [5, 6],
            "targets": [0.5],
            "modern": [],
            "baselines": [],
            "bootstrap_resamples": 50,
        },
        "rows": [
            {
                "name": "SGD",
                "set": {"optimizer.name": "sgd"},
                "default_learning_rate": 1e-2,
                "search": {"learning_rate": {"log_uniform": [1e-3, 1e-1]}},
            }
        ],
    },
    "surfaces": {
        "kind": "landscapes",
        "landscapes": {
            "functions": ["quadratic"],
            "optimizers": ["sgd", "adam"],
            "steps": 30,
            "lr_grid": {"min": 1e-2, "max": 1.0, "num": 3},
            "gif": None,
        },
    },
}


@pytest.fixture(scope="module")
def published(tiny_mnist, tmp_path_factory):
    """Each study of ``STUDIES`` trained on the tiny data and published: name → (results
    directory, study file)."""
    root = tmp_path_factory.mktemp("publish")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(replays, "REPLAY_IMAGES", 300)  # the tiny data holds 320
        for name, doc in STUDIES.items():
            study_file = root / "configs" / f"{name}.yaml"
            study_file.parent.mkdir(exist_ok=True)
            study_file.write_text(yaml.safe_dump({"study": name, **doc}))
            run_dir = root / "runs" / name
            run_study(load_spec(study_file), run_dir, quiet=True, data=tiny_mnist)
            results = root / "results" / name
            publish(run_dir, results, replayer=Replayer(tiny_mnist))
            out[name] = (results, study_file)
    return out


def _verdicts(published, tiny_mnist, monkeypatch):
    """Every study verified as a fresh process would: no program compiled before the change."""
    monkeypatch.setattr(replays, "REPLAY_IMAGES", 300)
    monkeypatch.setattr(runner, "PROGRAMS", ProgramCache(size=8))
    replayer = Replayer(tiny_mnist)
    return {
        name: verify(results, study_file, replayer=replayer)
        for name, (results, study_file) in published.items()
    }


def test_a_published_study_holds_records_report_and_fingerprint_but_no_checkpoints(published):
    results, _ = published["adam_sgd"]
    files = {p.relative_to(results).as_posix() for p in results.rglob("*") if p.is_file()}
    assert {"study.yaml", "report.md", "table.json", FINGERPRINT_FILE} <= files
    assert {"runs/config.yaml", "runs/summary.json", "runs/metrics.jsonl.gz"} <= files
    assert not any("checkpoint" in f or f.endswith(".lock") for f in files), files
    report = (results / "report.md").read_text()
    assert f"jaxopt-lab publish runs/{results.name}" in report
    assert f"jaxopt-lab report results/{results.name}" in report
    # the report is rebuilt from the published records alone, as published
    assert report_differs(results) is None
    fingerprint = json.loads((results / FINGERPRINT_FILE).read_text())
    assert fingerprint["platform"]["libraries"]["jax"]
    assert set(fingerprint["data"]["splits"]) == {"0"}
    (replay,) = fingerprint["replays"].values()  # one run set: one replay of its programs
    runs = replay["result"]["runs"]
    assert any("must-diverge" in run and r["diverged_epoch"] for run, r in runs.items())
    assert {len(r["epochs"]) for r in runs.values()} == {replays.REPLAY_EPOCHS}


def test_every_study_is_current_on_the_code_that_published_it(published, tiny_mnist, monkeypatch):
    verdicts = _verdicts(published, tiny_mnist, monkeypatch)
    assert {n: v.stale for n, v in verdicts.items()} == {n: () for n in STUDIES}
    assert all(v.current and v.replays >= 1 for v in verdicts.values())


def test_adams_default_eps_makes_only_the_studies_that_use_it_stale(
    published, tiny_mnist, monkeypatch
):
    # adam(learning_rate=1e-3, b1=0.9, b2=0.999, eps=1e-8, ...): its default ε, 1e-8 → 1e-3
    defaults = list(adam.__defaults__)
    eps = list(inspect.signature(adam).parameters).index("eps")
    assert defaults[eps] == 1e-8
    defaults[eps] = 1e-3
    monkeypatch.setattr(adam, "__defaults__", tuple(defaults))
    verdicts = _verdicts(published, tiny_mnist, monkeypatch)
    assert [n for n, v in verdicts.items() if not v.current] == ["adam_sgd", "surfaces"]
    message = verdicts["adam_sgd"].message()
    assert "replay" in message and "moved" in message and "runs.adam " in message
    assert "jaxopt-lab compare --config configs/studies/adam_sgd.yaml" in message


def test_the_split_seed_makes_every_study_that_reads_mnist_stale(
    published, tiny_mnist, monkeypatch
):
    from jaxopt_lab.data import mnist

    original = mnist.split_indices
    monkeypatch.setattr(
        mnist, "split_indices", lambda n, seed, *a, **k: original(n, seed + 1, *a, **k)
    )
    verdicts = _verdicts(published, tiny_mnist, monkeypatch)
    stale = {n for n, v in verdicts.items() if not v.current}
    assert stale == {"adam_sgd", "sgd_only", "tuned", "searched"}  # landscapes reads no data
    assert "split indices differ" in verdicts["sgd_only"].message()


def test_a_search_space_change_makes_only_the_field_study_stale(published, tiny_mnist, monkeypatch):
    monkeypatch.setattr(search, "DIGITS", 2)  # the drawn points' rounding
    verdicts = _verdicts(published, tiny_mnist, monkeypatch)
    assert [n for n, v in verdicts.items() if not v.current] == ["searched"]
    assert "trials/sgd resolves to other configs" in verdicts["searched"].message()


def test_a_search_bound_in_the_study_file_makes_it_stale(published, tiny_mnist, tmp_path):
    results, study_file = published["searched"]
    doc = yaml.safe_load(study_file.read_text())
    doc["rows"][0]["search"]["learning_rate"]["log_uniform"] = [1e-3, 1.0]
    edited = tmp_path / "searched.yaml"
    edited.write_text(yaml.safe_dump(doc))
    verdict = verify(results, edited, replayer=Replayer(tiny_mnist))
    assert not verdict.current
    assert "study file resolves to another study" in verdict.message()


def test_a_selection_rule_makes_only_the_tuning_study_stale(published, tiny_mnist, monkeypatch):
    chosen = tuning.best_learning_rates

    def worst(arms, metric):
        best = chosen(arms, metric)
        lowest = min(a.learning_rate for a in arms)
        return {row: {**b, "learning_rate": lowest} for row, b in best.items()}

    monkeypatch.setattr(tuning, "best_learning_rates", worst)
    verdicts = _verdicts(published, tiny_mnist, monkeypatch)
    assert [n for n, v in verdicts.items() if not v.current] == ["tuned"]
    assert "final/" in verdicts["tuned"].message()


def test_the_tolerance_decides_what_counts_as_moved():
    tolerance = Tolerance(rtol=1e-4, atol=1e-6, accuracy_atol=2e-4)
    published = {"loss": [2.0, 0.5], "diverged": False, "val_accuracy": 0.5, "test_accuracy": None}
    assert replays.differences(published, published, tolerance) == []
    close = {"loss": [2.0001, 0.50004], "diverged": False, "val_accuracy": 0.5002}
    assert replays.differences(published, {**close, "test_accuracy": None}, tolerance) == []
    far = {"loss": [2.001, 0.5], "diverged": True, "val_accuracy": 0.5003, "test_accuracy": 0.3}
    moved = replays.differences(published, far, tolerance)
    assert [d.path for d in moved] == ["diverged", "loss[0]", "test_accuracy", "val_accuracy"]
    assert "by +0.001" in str(moved[1])


def test_a_refactor_keeps_every_study_current_and_results_are_bitwise_repeatable(
    published, tmp_path
):
    """An edited copy of the package (a reworded error message, a renamed private function, a
    new optimizer module no study uses) verifies in a fresh process; the replays there are
    bitwise those published."""
    package = tmp_path / "jaxopt_lab"
    shutil.copytree(REPO / "jaxopt_lab", package, ignore=shutil.ignore_patterns("__pycache__"))
    base = package / "optimizers" / "_base.py"
    text = base.read_text()
    assert "must be" in text
    base.write_text(text.replace("must be", "has to be"))
    search_py = package / "studies" / "search.py"
    search_py.write_text(search_py.read_text().replace("_dimension", "_parsed_dimension"))
    (package / "optimizers" / "unused.py").write_text("def unused(learning_rate):\n    pass\n")
    script = tmp_path / "verify.py"
    script.write_text(
        "import json, sys\n"
        "from jaxopt_lab.studies import replays\n"
        "from jaxopt_lab.studies.publish import verify\n"
        "from jaxopt_lab.studies.replays import Replayer, Tolerance\n"
        "from tests.synthetic import synthetic_mnist\n"
        "replays.REPLAY_IMAGES = 300\n"
        "data = synthetic_mnist(320, 96, template_seed=99)\n"
        "out = {}\n"
        "for name, results, study in json.loads(sys.argv[1]):\n"
        "    v = verify(results, study, replayer=Replayer(data), tolerance=Tolerance(0, 0))\n"
        "    out[name] = [list(v.stale), list(v.changed_files)]\n"
        "print(json.dumps(out))\n"
    )
    args = json.dumps([[n, str(r), str(f)] for n, (r, f) in published.items()])
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    done = subprocess.run(
        [sys.executable, str(script), args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert {n: stale for n, (stale, _) in out.items()} == {n: [] for n in STUDIES}
    # the text digests did change: the old rule would have called every study stale
    assert all("optimizers/_base.py" in changed for _, changed in out.values())


def test_a_partly_published_study_resumes_from_its_records(published, tiny_mnist, tmp_path):
    results, study_file = published["sgd_only"]
    spec = load_spec(study_file)
    # A study stopped after its first run set: publishing it whole is refused.
    run_dir = tmp_path / "runs" / "sgd_only"
    restore(results, run_dir)
    shutil.rmtree(run_dir / "momentum")
    with pytest.raises(PublishError, match="unfinished"):
        publish(run_dir, tmp_path / "part", replayer=Replayer(tiny_mnist))
    part = tmp_path / "results" / "sgd_only"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(replays, "REPLAY_IMAGES", 300)
        publish(run_dir, part, allow_incomplete=True, replayer=Replayer(tiny_mnist))
    assert sorted(Store(part).run_set_dirs()) == ["momentum", "sgd"]
    assert not (part / "momentum").exists()
    # Next sitting, on a fresh machine: restore, rerun the study, and only the rest trains.
    again = tmp_path / "again" / "sgd_only"
    assert restore(part, again) == ["sgd"]
    trained = []
    run_study(spec, again, quiet=True, data=tiny_mnist, on_set=lambda *a: trained.append(a[2]))
    assert not (again / "sgd" / "checkpoints").exists()  # kept, not retrained
    assert (again / "momentum" / "checkpoints").exists()
    sgd = (results / "sgd" / "metrics.jsonl.gz").read_bytes()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(replays, "REPLAY_IMAGES", 300)
        publish(again, part, replayer=Replayer(tiny_mnist))
    assert (part / "sgd" / "metrics.jsonl.gz").read_bytes() == sgd
    assert (part / "momentum" / "summary.json").is_file()
    with pytest.raises(PublishError, match="already holds a study"):
        restore(part, again)


def test_a_whole_study_missing_records_is_stale_not_unfinished(published, tiny_mnist, tmp_path):
    results, study_file = published["sgd_only"]
    copy = tmp_path / "sgd_only"
    shutil.copytree(results, copy)
    shutil.rmtree(copy / "momentum")  # e.g. a path a .gitignore kept out of the repository
    verdict = verify(copy, study_file, replayer=Replayer(tiny_mnist))
    assert not verdict.current and not verdict.unfinished
    assert "published whole, but the records of run sets momentum" in verdict.message()


def test_edited_records_are_refused_and_unsealed_ones_are_sealed_only_when_asked(
    published, tiny_mnist, tmp_path
):
    results, _ = published["sgd_only"]
    run_dir = tmp_path / "runs" / "sgd_only"
    restore(results, run_dir)
    metrics = run_dir / "sgd" / "metrics.jsonl"
    original = metrics.read_text()
    lines = original.splitlines(keepends=True)
    record = json.loads(lines[1])
    record["val_accuracy"] = 0.9964
    metrics.write_text("".join([lines[0], json.dumps(record) + "\n", *lines[2:]]))
    with pytest.raises(EditedOutputError, match=rf"{metrics}:2 \(run SGD/.*\) differs"):
        publish(run_dir, tmp_path / "out", replayer=Replayer(tiny_mnist))
    metrics.write_text(original)
    # records written before seals existed: publishing asks to seal them, and --seal does
    summary = run_dir / "sgd" / "summary.json"
    unsealed = json.loads(summary.read_text())
    del unsealed["seal"]
    summary.write_text(json.dumps(unsealed, indent=1))
    with pytest.raises(PublishError, match=r"sgd carry no digests .*jaxopt-lab publish --seal"):
        publish(run_dir, tmp_path / "out", replayer=Replayer(tiny_mnist))
    assert publish_main(["--seal", str(run_dir)]) == 0
    assert "seal" in json.loads(summary.read_text())
    # a published copy edited afterwards is never reported
    copy = tmp_path / "copy"
    shutil.copytree(results, copy)
    gz = copy / "sgd" / "metrics.jsonl.gz"
    text = (
        gzip.decompress(gz.read_bytes())
        .decode()
        .replace('"val_accuracy": 0.', '"val_accuracy": 0.9', 1)
    )
    gz.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(EditedOutputError, match=r"metrics\.jsonl\.gz:1 .* differs .*git checkout"):
        build_report(copy)
