"""The workshop notebooks: the solutions pass every check, the exercises fail every check until
their blanks are filled in, and the committed files are what ``notebooks/build.py`` writes.

Each notebook is executed once per module (nbclient, a ``python3`` kernel from this environment's
ipykernel, working directory ``notebooks/`` as under ``make notebooks``). What runs is the
notebook as build.py renders it, so a learner's edits to the committed files change nothing
here; the last tests compare those files with build.py.
"""

import contextlib
import io
import re
import runpy
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from jaxopt_lab.studies import plots
from jaxopt_lab.studies.load import load_spec

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
build = runpy.run_path(str(NOTEBOOKS / "build.py"))
EXERCISES, SOLUTIONS = build["EXERCISES"], build["SOLUTIONS"]
CHECKED = ["my_sgd", "my_momentum", "my_nesterov", "my_adagrad", "my_adam"]


def _execute(solutions: bool, cells=None) -> nbformat.NotebookNode:
    nb = build["notebook"](build["CELLS"] if cells is None else cells, solutions)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return nb


@pytest.fixture(scope="module")
def solutions():
    return _execute(solutions=True)


@pytest.fixture(scope="module")
def exercises():
    return _execute(solutions=False)


def _checks(nb):
    return [cell for cell in nb.cells if build["CHECK_TAG"] in cell.metadata.get("tags", [])]


def _checked(cell):
    """The optimizer a check cell passes to check_optimizer."""
    return re.search(r"check_optimizer\(\s*(\w+)", cell.source).group(1)


def _errors(cell):
    return [out for out in cell.get("outputs", []) if out.output_type == "error"]


def _printed(cell):
    return "".join(out.text for out in cell.outputs if out.get("name") == "stdout")


@pytest.mark.slow
def test_the_solutions_run_without_an_error(solutions):
    errors = {cell.id: f"{e.ename}: {e.evalue}" for cell in solutions.cells for e in _errors(cell)}
    assert not errors, errors


@pytest.mark.slow
def test_every_check_passes_with_the_solutions(solutions):
    checks = _checks(solutions)
    assert [_checked(cell) for cell in checks] == CHECKED
    for cell in checks:
        report = _printed(cell)
        assert re.search(r": \d+ passed, 0 failed, 0 skipped\n", report), report
        assert "PASS  reference" in report, report


@pytest.mark.slow
def test_every_check_fails_until_the_blanks_are_filled_in(exercises):
    checks = _checks(exercises)
    assert [_checked(cell) for cell in checks] == CHECKED
    for cell in checks:
        failure = [e.ename for e in _errors(cell)]
        assert failure == ["AssertionError"], f"{_checked(cell)}: the blank check gave {failure}"
        report = _printed(cell)
        assert re.search(r": 0 passed, \d+ failed", report), report
        assert "raised NotImplementedError: write " in report, report
    scaffolding = [cell for cell in exercises.cells if cell not in checks]
    assert not [e for cell in scaffolding for e in _errors(cell)]


@pytest.mark.slow
@pytest.mark.real_data
def test_the_comparison_notebook_trains_your_optimizer_next_to_the_five(tmp_path):
    """At tiny size (1 epoch, 1 seed, 2,000 training samples, on MNIST-1D's MLP: the notebook
    takes any workload): the kit passes the example optimizer, the study trains it as the sixth
    row, and the table and curves are shown."""
    tiny = build["parameters"](
        f'FULL = False\nQUICK = ["train.epochs=1", "train.seeds=[0]", "data.train_size=2000"]\n'
        f'WORKLOAD = "mnist1d_mlp"\nOUT = {str(tmp_path / "compare")!r}'
    )
    cells = [tiny if build["PARAMETERS_TAG"] in c.tags else c for c in build["COMPARE_CELLS"]]
    assert tiny in cells
    nb = _execute(True, cells)
    errors = {cell.id: f"{e.ename}: {e.evalue}" for cell in nb.cells for e in _errors(cell)}
    assert not errors, errors
    (check,) = _checks(nb)
    assert re.search(r": 7 passed, 0 failed, 0 skipped\n", _printed(check)), _printed(check)
    outputs = [out for cell in nb.cells for out in cell.get("outputs", [])]
    shown = [out.data for out in outputs if "data" in out]
    tables = [d["text/markdown"] for d in shown if d.get("text/markdown", "").startswith("| arm")]
    assert [line.split(" | ")[0] for line in tables[0].splitlines()[2:]] == [
        f"| {name}" for name in ("SGD", "Momentum", "Nesterov", "AdaGrad", "Adam", "Mine")
    ]
    assert any("image/png" in d for d in shown)
    study = (tmp_path / "compare" / "study.yaml").read_text()
    assert "my_optimizer" in study and "mnist1d_mlp" in study


# optax's and PyTorch's form of the rules, η outside the velocity: the same steps as the
# slides' forms at a constant η, not when η changes.
ETA_OUTSIDE = {
    "my_momentum": '''
class VelocityState(NamedTuple):
    velocity: optax.Updates


def my_momentum(learning_rate, momentum=0.9):
    """u ← γ u + g; θ ← θ − η u."""

    def init_fn(params):
        return VelocityState(jax.tree.map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        velocity = jax.tree.map(lambda u, g: momentum * u + g, state.velocity, updates)
        return jax.tree.map(lambda u: -learning_rate * u, velocity), VelocityState(velocity)

    return optax.GradientTransformation(init_fn, update_fn)
''',
    "my_nesterov": '''
class VelocityState(NamedTuple):
    velocity: optax.Updates


def my_nesterov(learning_rate, momentum=0.9):
    """u ← γ u + g; φ ← φ − η (γ u + g)."""

    def init_fn(params):
        return VelocityState(jax.tree.map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        velocity = jax.tree.map(lambda u, g: momentum * u + g, state.velocity, updates)
        steps = jax.tree.map(lambda u, g: -learning_rate * (momentum * u + g), velocity, updates)
        return steps, VelocityState(velocity)

    return optax.GradientTransformation(init_fn, update_fn)
''',
}


def _run_check(checked, definitions):
    """The report the check cell of ``checked`` prints after ``definitions`` ran, and its
    AssertionError (None when the check passed): the solutions' cells run in this process."""
    nb = build["notebook"](build["CELLS"], True)
    (setup,) = [cell for cell in nb.cells if "PROPERTIES = [" in cell.source]
    (check,) = [cell for cell in _checks(nb) if _checked(cell) == checked]
    namespace = {}
    exec(setup.source, namespace)
    for source in definitions:
        exec(source, namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            exec(check.source, namespace)
        except AssertionError as error:
            return printed.getvalue(), error
    return printed.getvalue(), None


@pytest.mark.parametrize("checked", list(ETA_OUTSIDE))
def test_the_check_fails_eta_outside_the_velocity(checked):
    """At a constant η the two forms coincide; the reference's run under a changing η parts
    them, and the report says where and why."""
    report, error = _run_check(checked, [ETA_OUTSIDE[checked]])
    assert error is not None, report
    assert re.search(r": 6 passed, 1 failed, 0 skipped\n", report), report
    (line,) = [line for line in report.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL  reference            follows ")
    assert "under a changing η (η for 10 steps, then × 0.95 a step) differs" in line
    assert "from step 11 on" in line and "probably outside the velocity" in line


def test_the_momentum_check_passes_the_slides_rule():
    nb = build["notebook"](build["CELLS"], True)
    solutions = [c.source for c in nb.cells if build["EXERCISE_TAG"] in c.metadata.get("tags", [])]
    report, error = _run_check("my_momentum", solutions)
    assert error is None, report
    assert re.search(r": 7 passed, 0 failed, 0 skipped\n", report), report
    assert "at a constant η and under a changing one" in report


def test_the_comparison_notebook_names_the_band_it_plots():
    """The words above the curves say what plots.curves_figure draws: its panels, and as the
    band the t-interval of the mean at the study's confidence (not a standard deviation)."""
    (text,) = [c.source for c in build["COMPARE_CELLS"] if "per epoch" in c.source]
    text = " ".join(text.split())
    confidence = load_spec(ROOT / "configs" / "studies" / "seed_table.yaml").report.confidence
    assert f"{confidence * 100:g} % confidence interval" in text
    assert "t-interval of the mean" in text and "standard deviation" not in text
    for title in plots.CURVE_TITLES.values():
        assert title in text.lower()
    # The quick version's seeds: a half-width of t(0.975, n − 1 degrees of freedom) · s / √n.
    (quick,) = [c.source for c in build["COMPARE_CELLS"] if build["PARAMETERS_TAG"] in c.tags]
    n = len(re.search(r"train\.seeds=\[([^\]]*)\]", quick).group(1).split(","))
    values = np.arange(n, dtype=float)[:, None]
    _, half = plots.band(values, confidence)
    t = half[0] / (np.std(values, ddof=1) / np.sqrt(n))
    assert f"With the quick version's {n} seeds" in text
    assert f"the t-quantile for {n - 1} degree{'s' * (n > 2)} of freedom is {t:.1f}" in text


def test_the_notebooks_differ_only_in_the_exercise_cells():
    exercise, solution = (build["notebook"](build["CELLS"], s) for s in (False, True))
    pairs = [(a, b) for a, b in zip(exercise.cells, solution.cells, strict=True) if a != b]
    assert [a.metadata.get("tags") for a, _ in pairs] == [[build["EXERCISE_TAG"]]] * len(CHECKED)
    for blank, filled in pairs:
        assert "NotImplementedError" in blank.source and "NotImplementedError" not in filled.source
        assert "###" not in blank.source + filled.source


def test_a_block_without_its_end_marker_is_refused():
    with pytest.raises(ValueError, match="not closed"):
        build["fill"]("### BEGIN SOLUTION\nx = 1\n### BLANK\nx = ...", True)
    with pytest.raises(ValueError, match="out of order"):
        build["fill"]("### BLANK\nx = ...\n### END SOLUTION", True)


@pytest.mark.parametrize("name", [EXERCISES, SOLUTIONS, build["COMPARE"]])
def test_the_committed_notebooks_have_no_outputs(name):
    code = [c for c in nbformat.read(NOTEBOOKS / name, as_version=4).cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_the_committed_notebooks_are_what_build_writes(capsys):
    assert build["main"](["--check"]) == 0, capsys.readouterr().err


def test_check_names_a_notebook_saved_from_jupyter(tmp_path, capsys):
    assert build["main"]([], directory=tmp_path) == 0
    saved = tmp_path / SOLUTIONS
    nb = nbformat.read(saved, as_version=4)
    nb.cells[1].execution_count = 1
    nbformat.write(nb, saved)
    assert build["main"](["--check"], directory=tmp_path) == 1
    err = capsys.readouterr().err
    assert str(saved) in err and EXERCISES not in err
