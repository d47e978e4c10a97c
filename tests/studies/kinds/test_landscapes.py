"""The landscapes study: its section, figures, GIF, and generated conclusions."""

from __future__ import annotations

from jaxopt_lab.studies.load import spec_from_dict
from jaxopt_lab.studies.runner import run_study
from tests.studies.conftest import PNG_MAGIC


def test_landscapes_study_writes_figures_gif_and_generated_conclusions(tmp_path):
    spec = spec_from_dict(
        {
            "study": "landscapes",
            "kind": "landscapes",
            "landscapes": {
                "functions": ["quadratic", "saddle"],
                "optimizers": ["sgd", "adam"],
                "steps": 60,
                "lr_grid": {"min": 1e-3, "max": 1.0, "num": 4},
                "tolerance": 1e-3,
                "gif": "quadratic",
            },
        }
    )
    report = run_study(spec, tmp_path)
    for name in ("quadratic.png", "saddle.png"):
        data = (tmp_path / "figures" / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000
    assert (tmp_path / "figures" / "quadratic.gif").read_bytes()[:6] == b"GIF89a"
    text = report.path.read_text()
    assert "quadratic: closest after 60 steps is" in text
    assert report.headline.startswith("| function |")
