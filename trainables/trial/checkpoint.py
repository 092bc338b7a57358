"""A training trial's checkpoint: the weights, the optimiser and every RNG, and its progress.

>>> progress = Progress(epoch=1, step=10)
>>> progress.train_seconds, progress.history
(0.0, [])
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainables.atomic import atomic_write

CHECKPOINT_FILE = "trial_state.pt"
# Beside it: the epoch it ends, readable without loading the (paper-size: ~3 GB) state.
EPOCH_FILE = "epoch.json"


@dataclass
class Progress:
    """What a checkpoint carries besides the weights: where training stopped, what it cost."""

    epoch: int = 0
    step: int = 0
    train_seconds: float = 0.0
    train_energy_kwh: float = 0.0
    train_emissions_kg: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class TrainingState:
    """Everything a resumed trial needs to continue exactly where it stopped."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    generator: torch.Generator

    def save(self, directory: Path, progress: Progress) -> None:
        """Write :data:`CHECKPOINT_FILE` in ``directory`` (atomically)."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "progress": json.dumps(asdict(progress)),
        }
        with atomic_write(directory / CHECKPOINT_FILE) as tmp:
            torch.save(state, tmp)
        with atomic_write(directory / EPOCH_FILE) as tmp:
            tmp.write_text(json.dumps({"epoch": progress.epoch}))

    def load(self, directory: Path) -> Progress:
        """Restore every part from ``directory``'s checkpoint; return its progress."""
        state = torch.load(directory / CHECKPOINT_FILE, weights_only=True, map_location="cpu")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        return Progress(**json.loads(state["progress"]))


def checkpoint_epoch(directory: Path) -> int:
    """The epoch a checkpoint folder ends (-1 when it does not say: written before it did).

    >>> checkpoint_epoch(Path("/nonexistent"))
    -1
    """
    try:
        return int(json.loads((directory / EPOCH_FILE).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return -1


def newest_checkpoint(restore_from: Path, own: Path) -> Path:
    """The checkpoint to resume from: Tune's (``restore_from``), or the trial's own latest in
    ``own`` when that one ends a later epoch. Tune can log an epoch's report and still restore
    the checkpoint before it (an interrupt while its experiment state was being saved); the
    trial keeps its latest checkpoint in its own folder, so it does not train that epoch twice.
    """
    best, best_epoch = restore_from, checkpoint_epoch(restore_from)
    for candidate in sorted(own.glob("epoch_*")) if own.is_dir() else []:
        epoch = checkpoint_epoch(candidate)
        if epoch > best_epoch and (candidate / CHECKPOINT_FILE).is_file():
            best, best_epoch = candidate, epoch
    return best
