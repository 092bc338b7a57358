"""What every trial kind's recipe starts from: the checked config, the data, the teacher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainables import metrics as M
from trainables.config import TrialConfig
from trainables.data import DataSplits, TokenizedSplit, tokenize_splits
from trainables.measure import PhaseClock, TimingBudget

# Where a trial keeps its latest training checkpoint, unless told otherwise.
CHECKPOINTS_DIR = "checkpoints"

# report(metrics, checkpoint_dir or None): tune.report in a Tune trial, anything in a test.
Reporter = Callable[[dict[str, Any], Path | None], None]


@dataclass(frozen=True)
class Trial:
    """One trial's settings and shared inputs, made once by :func:`trainables.trial.run_trial`.

    ``cfg.precision`` is already resolved on ``device`` (never ``"auto"``); ``teacher`` is on
    ``device`` in eval mode; ``tokenizer`` is the teacher's. ``checkpoint_dir`` is where the
    trial writes its epoch checkpoints (None: :attr:`checkpoints`' default in the trial folder);
    ``clock`` counts where the trial's wall time goes, from its start
    (:data:`trainables.metrics.PHASES`).
    """

    cfg: TrialConfig
    device: torch.device
    trial_dir: Path
    cache_dir: Path
    splits: DataSplits
    teacher: nn.Module
    tokenizer: Any
    report: Reporter
    restore_from: Path | None = None
    checkpoint_dir: Path | None = None
    clock: PhaseClock = field(default_factory=PhaseClock)

    @property
    def checkpoints(self) -> Path:
        """The folder of the trial's training checkpoints (``<trial_dir>/checkpoints``, or the
        ``checkpoint_dir`` it was given)."""
        return self.checkpoint_dir or self.trial_dir / CHECKPOINTS_DIR

    @property
    def meter_settings(self) -> dict[str, Any]:
        """Every meter of a trial: its country, on or off, CodeCarbon's emissions.csv in the
        trial."""
        return {
            "country_iso_code": self.cfg.country_iso_code,
            "enabled": self.cfg.measure_energy,
            "tracking_mode": self.cfg.energy_tracking,
            "output_dir": self.trial_dir,
        }

    @property
    def timing_budget(self) -> TimingBudget:
        """What bounds the trial's timing and inference energy: the config's timing settings,
        metered with :attr:`meter_settings`."""
        cfg = self.cfg
        return TimingBudget(
            repeats=cfg.timing_repeats,
            seconds=cfg.timing_seconds,
            max_batches=cfg.timing_batches,
            energy_seconds=cfg.energy_seconds,
            meter=self.meter_settings,
        )

    @property
    def timing_threads(self) -> int:
        """CPU threads while timing and metering (0: leave torch's setting, as on a GPU)."""
        return self.cfg.timing_threads if self.device.type == "cpu" else 0

    def tokenize(self, tokenizer: Any) -> dict[str, TokenizedSplit]:
        """Every split in ``tokenizer``'s pieces with the teacher's labels (cached on disk)."""
        with self.clock.phase(M.PHASE_TOKENISE):
            return tokenize_splits(
                self.splits,
                tokenizer,
                self.teacher.config.label2id,
                max_length=self.cfg.max_length,
                cache_dir=self.cache_dir / "tokens",
            )
