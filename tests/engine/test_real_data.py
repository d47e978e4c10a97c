"""End to end on the real MNIST: the notebook's Adam reaches its epoch-1 accuracy."""

import statistics

import pytest

from jaxopt_lab.config import load_config
from jaxopt_lab.engine import train
from tests.test_config import CONFIGS


@pytest.mark.real_data
def test_default_mlp_with_adam_reaches_93_percent_after_one_epoch(tmp_path):
    # One epoch's validation accuracy varies by seed: PyTorch itself gives 0.919-0.939 (mean
    # 0.930) over seeds 0-5 on this split, the engine 0.918-0.937 (mean 0.930) over seeds 0-7
    # (docs/engine.md). So: five seeds, trained together; their mean is near the notebook's
    # 0.934 and at least one run passes 0.93.
    config = load_config(CONFIGS / "adam.yaml", ["train.epochs=1", "train.seeds=[0,1,2,3,4]"])
    summary = train(config, tmp_path, quiet=True)
    accuracies = [run["final"]["val_accuracy"] for run in summary["runs"]]
    assert statistics.mean(accuracies) > 0.925
    assert max(accuracies) > 0.93
    assert min(accuracies) > 0.91
