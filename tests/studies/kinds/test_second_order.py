"""The second-order study: a tiny full run and its report (figures, cost table, conclusions)."""

from __future__ import annotations

from jaxopt_lab.studies.load import spec_from_dict
from jaxopt_lab.studies.runner import run_study
from tests.studies.conftest import PNG_MAGIC


def test_second_order_study_report(tiny_mnist, tmp_path):
    spec = spec_from_dict(
        {
            "study": "second_order",
            "kind": "second_order",
            "second_order": {
                "n_train": 64,
                "n_val": 32,
                # L-BFGS and Hessian-free are covered above; two methods keep this test short
                "methods": ["adam", "newton"],
                "steps": {"adam": 5, "newton": 2},
                "cg_iters": 3,
                "damping": 0.1,
                "curve_hidden": [1],
                "cost_hidden": [1, 2, 4],
                "cost_steps": 2,
                "newton_max_params": 2000,
                "memory_budget_bytes": 20 * 2**20,
            },
        }
    )
    report = run_study(spec, tmp_path, data=tiny_mnist)
    text = report.path.read_text()
    for name in ("loss_steps_h1.png", "loss_time_h1.png", "cost_time.png", "cost_memory.png"):
        assert (tmp_path / "figures" / name).read_bytes()[:8] == PNG_MAGIC
    # h = 4: P = 3,190, a 38.8 MiB Hessian, over the 20 MiB budget; h = 2 (P = 1,600) ran
    assert "| 4 | 3,190 | newton | exceeds memory |" in text
    assert "Exact Newton ran up to P = 1,600" in text
    assert "From P = 3,190 its Hessian alone needs" in text
    assert "Time per step grows as P^k" in text
