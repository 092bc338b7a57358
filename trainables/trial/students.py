"""Trained students shared by a study's rows that differ only after training.

An extended grid's "+ int8" and "+ vocab" rows train exactly the student of the row without
them (same settings, seed, teacher and training split), then quantise it or trim its vocabulary.
With ``student_cache`` set (the study sets ``results/NAME/students``), the first trial to train
a student stores its compact fp32 model and what the training cost there; a later trial with
the same :func:`training_key` loads it instead of training again, and reports the training
cost of the model it measured with ``student_reused`` true. Its int8 or trimmed row then
differs from its twin by the lever alone: the same weights, quantised or trimmed.

The key covers every trial setting but those that act after training (:data:`AFTER_TRAINING`),
the teacher's weights (path, size, time), the training split's tokens and labels, the installed
torch and transformers, and the source of this package: changed training code trains afresh. A
folder appears whole (written aside, then renamed) or not at all; two twins running side by side
both train, and the second keeps the first's folder.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
from pathlib import Path

import torch
import transformers
from torch import nn

from trainables.compress.compaction import load_compact, save_compact
from trainables.compress.distillation import tensor_fingerprint
from trainables.config import TrialConfig
from trainables.data import TokenizedSplit
from trainables.trial.checkpoint import Progress

# Settings that act after training (the lever, the measurement) or say where things go: a
# trial differing from another only in these trains the same student. Any other setting,
# including one added later, is part of the key.
AFTER_TRAINING = frozenset(
    {
        "name",
        "quantize",
        "vocab_trim",
        "cache_dir",
        "student_cache",
        "timing_repeats",
        "timing_threads",
        "timing_seconds",
        "timing_batches",
        "country_iso_code",
        "measure_energy",
        "energy_seconds",
        "energy_tracking",
        "machine_shared",
    }
)
PROGRESS_FILE = "training.json"


@functools.cache
def code_fingerprint() -> str:
    """A hash of this package's source files (``trainables/**/*.py``)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def training_key(cfg: TrialConfig, teacher_id: str, train: TokenizedSplit) -> str:
    """What a trained student depends on, hashed: two trials with the same key train the same
    student.

    >>> import torch
    >>> split = TokenizedSplit(torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3),
    ...                        torch.tensor([0, 1]))
    >>> a = training_key(TrialConfig(quantize="int8"), "t", split)
    >>> a == training_key(TrialConfig(name="twin"), "t", split)
    True
    >>> a == training_key(TrialConfig(seed=7), "t", split)
    False
    """
    settings = {
        key: value for key, value in dataclasses.asdict(cfg).items() if key not in AFTER_TRAINING
    }
    payload = {
        "settings": settings,
        "teacher": teacher_id,
        "train": tensor_fingerprint(train.input_ids, train.attention_mask, train.labels),
        "versions": [torch.__version__, transformers.__version__],
        "code": code_fingerprint(),
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclasses.dataclass(frozen=True)
class StudentCache:
    """One student's folder in a study's cache: ``<student_cache>/<training key>``."""

    folder: Path

    @classmethod
    def of(cls, cfg: TrialConfig, teacher_id: str, train: TokenizedSplit) -> StudentCache | None:
        """The trial's entry, or None when the trial has no ``student_cache``."""
        if not cfg.student_cache:
            return None
        return cls(Path(cfg.student_cache) / training_key(cfg, teacher_id, train))

    def load(self, device: torch.device | str) -> tuple[nn.Module, Progress] | None:
        """The stored compact student (fp32, eval mode, on ``device``) and its training's
        progress; None when no trial stored it yet."""
        progress_file = self.folder / PROGRESS_FILE
        if not progress_file.is_file():
            return None
        progress = Progress(**json.loads(progress_file.read_text()))
        return load_compact(self.folder, device, fp32=True), progress

    def store(self, compact: nn.Module, progress: Progress) -> None:
        """Store the compact student and its progress, unless another trial already did."""
        if (self.folder / PROGRESS_FILE).is_file():
            return
        aside = self.folder.with_name(f"{self.folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(aside, ignore_errors=True)
        save_compact(compact, aside)
        (aside / PROGRESS_FILE).write_text(json.dumps(dataclasses.asdict(progress)))
        try:
            aside.rename(self.folder)
        except OSError:  # a twin stored it first: keep theirs
            shutil.rmtree(aside, ignore_errors=True)
