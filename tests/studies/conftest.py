"""Tiny MNIST-shaped data for the study tests (no real data, a few hundred images)."""

from __future__ import annotations

import json

import pytest

from jaxopt_lab.data.splits import MNIST
from jaxopt_lab.engine import outputs
from tests.synthetic import synthetic_mnist

# Overrides that shrink any engine study to seconds on the tiny data.
TINY = ["train.epochs=2", "train.seeds=[0,1]", "model.hidden_sizes=[16]"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def summary_runs(run_dir):
    """Every run of every run set's ``summary.json`` under a study directory."""
    out = []
    for path in sorted(run_dir.glob(f"*/{outputs.SUMMARY}")):
        out += json.loads(path.read_text())["runs"]
    return out


@pytest.fixture(scope="session")
def tiny_mnist() -> MNIST:
    """320 training images (10 batches of 32), 96 validation, 96 test."""
    return synthetic_mnist(320, 96, template_seed=99)
