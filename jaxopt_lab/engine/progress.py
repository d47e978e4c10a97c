"""What a run set reports after each epoch, and the terminal display of it.

The display is a tqdm bar on stderr, one step per epoch; tqdm turns itself off when stderr is
not a terminal, so logs and CI stay quiet.
"""

from __future__ import annotations

import dataclasses
import sys

from tqdm.auto import tqdm


@dataclasses.dataclass(frozen=True)
class EpochProgress:
    """One epoch of a run set: medians over the runs that have not diverged."""

    epoch: int
    epochs: int
    seconds: float
    model_samples_per_second: float
    runs: int
    diverged: int
    train_loss: float | None
    val_loss: float | None
    val_accuracy: float | None


class ProgressBar:
    """A tqdm bar over epochs showing losses, accuracy and throughput; a callable
    ``EpochProgress -> None`` for ``engine.train(on_epoch=...)``."""

    def __init__(self, epochs: int, first_epoch: int = 0, description: str = "train") -> None:
        self._bar = tqdm(
            total=epochs,
            initial=first_epoch,
            desc=description,
            unit="epoch",
            file=sys.stderr,
            disable=None,
        )

    def __call__(self, progress: EpochProgress) -> None:
        dead = f" diverged {progress.diverged}/{progress.runs}" if progress.diverged else ""
        self._bar.set_postfix_str(
            f"train {_fmt(progress.train_loss)} val {_fmt(progress.val_loss)} "
            f"acc {_fmt(progress.val_accuracy)} {progress.model_samples_per_second / 1e3:.0f}k "
            f"samples/s{dead}",
            refresh=False,
        )
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
