"""The training engine: whole epochs compiled, run sets vmapped, metrics and checkpoints.

from jaxopt_lab.config import load_config
from jaxopt_lab.engine import train
summary = train(load_config("configs/adam.yaml"), "runs/adam")
"""

from jaxopt_lab.engine.checkpoint import CheckpointDamagedError, CheckpointMismatchError
from jaxopt_lab.engine.lock import OutputLockedError
from jaxopt_lab.engine.outputs import OutputExistsError
from jaxopt_lab.engine.progress import EpochProgress
from jaxopt_lab.engine.rendezvous import CoordinatorUnreachableError, PeersMissingError
from jaxopt_lab.engine.resume import ResumeMismatchError
from jaxopt_lab.engine.runner import train, train_many

__all__ = [
    "CheckpointDamagedError",
    "CheckpointMismatchError",
    "CoordinatorUnreachableError",
    "EpochProgress",
    "OutputExistsError",
    "OutputLockedError",
    "PeersMissingError",
    "ResumeMismatchError",
    "train",
    "train_many",
]
