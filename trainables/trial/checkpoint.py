"""A training trial's checkpoint: the weights, the optimiser and every RNG, and its progress.

One copy while the trial can resume, none once it has finished. Without Ray the trial keeps its
latest checkpoint in ``<trial dir>/checkpoints/epoch_NNN``. Under Ray Tune it writes each one to
a scratch folder outside its working directory, reports it and deletes it at once: Tune *copies*
a reported checkpoint into ``<storage>/<trial>/checkpoint_NNNNNN`` (``persist_current_checkpoint``
in ``ray/train/_internal/storage.py`` calls ``pyarrow.fs.copy_files``; "it's up to the user to
delete the original") before ``tune.report`` returns, and syncs the whole working directory into
the same storage folder without ever removing what it copied, so a checkpoint kept there would
be stored twice and every epoch's would stay. Tune's copy carries :data:`EPOCH_FILE`, so a
resumed trial can still see that a later sibling exists (:func:`newest_checkpoint`). The study
removes a trial's ``checkpoint_*`` folders when Tune marks it complete (``study.tuner``).

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
# Beside it: the epoch it ends, the state's size in bytes and the layers the student dropped,
# readable without loading the (paper-size: ~3 GB) state; the size tells a complete copy from
# one cut short, the layers let a resumed trial build the same student before loading it.
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
    # The teacher's encoder layers the model dropped: its structure, which a resumed trial must
    # rebuild before loading the weights (:func:`checkpoint_dropped_layers`).
    dropped_layers: list[int] = field(default_factory=list)

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
            size = (directory / CHECKPOINT_FILE).stat().st_size
            tmp.write_text(
                json.dumps(
                    {
                        "epoch": progress.epoch,
                        "bytes": size,
                        "dropped_layers": self.dropped_layers,
                    }
                )
            )

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


def checkpoint_dropped_layers(directory: Path) -> list[int] | None:
    """The teacher layers a checkpoint's student dropped, read without loading its state (None
    when it does not say: written before it did).

    >>> checkpoint_dropped_layers(Path("/nonexistent")) is None
    True
    """
    try:
        dropped = json.loads((directory / EPOCH_FILE).read_text())["dropped_layers"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [int(index) for index in dropped]


def newest_checkpoint(restore_from: Path, folder: Path) -> Path:
    """The checkpoint to resume from: ``restore_from`` (Tune's), or the checkpoint in a
    subfolder of ``folder`` that ends a later epoch and is whole (its state as large as its
    :data:`EPOCH_FILE` says). Tune can log an epoch's report and still restore the checkpoint
    before it (an interrupt while its experiment state was being saved); ``folder`` is the
    trial's own checkpoint folder, or the storage folder that holds Tune's ``checkpoint_*``
    copies, so the trial does not train that epoch twice.

    >>> newest_checkpoint(Path("tune/checkpoint_000000"), Path("/nonexistent"))
    PosixPath('tune/checkpoint_000000')
    """
    best, best_epoch = restore_from, checkpoint_epoch(restore_from)
    for candidate in sorted(folder.iterdir()) if folder.is_dir() else []:
        epoch = checkpoint_epoch(candidate)
        if epoch > best_epoch and _whole(candidate):
            best, best_epoch = candidate, epoch
    return best


def _whole(directory: Path) -> bool:
    """Whether ``directory`` holds a state file of the size its :data:`EPOCH_FILE` records (any
    size when it records none: written before it did)."""
    state = directory / CHECKPOINT_FILE
    if not state.is_file():
        return False
    try:
        recorded = json.loads((directory / EPOCH_FILE).read_text()).get("bytes")
    except (OSError, ValueError, AttributeError):
        return False
    return recorded is None or recorded == state.stat().st_size
