"""The training engine: whole epochs compiled, run sets vmapped, metrics and checkpoints.

from jaxopt_lab.config import load_config
from jaxopt_lab.engine import train
summary = train(load_config("configs/adam.yaml"), "runs/adam")
"""

from jaxopt_lab.engine.checkpoint import CheckpointMismatchError
from jaxopt_lab.engine.distributed import CoordinatorUnreachableError
from jaxopt_lab.engine.outputs import OutputExistsError
from jaxopt_lab.engine.progress import EpochProgress
from jaxopt_lab.engine.runner import train, train_many

__all__ = [
    "CheckpointMismatchError",
    "CoordinatorUnreachableError",
    "EpochProgress",
    "OutputExistsError",
    "train",
    "train_many",
]
