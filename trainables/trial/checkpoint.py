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
