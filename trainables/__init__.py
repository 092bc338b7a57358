"""Components of one compression trial: data, teacher, pruning, compaction, distillation,
measurement, and the trainable that runs them. Plain PyTorch; only ``train_trial`` needs Ray.

Names load lazily, so ``python -m trainables.teacher`` and ``python -m trainables.bench_compaction``
run without importing the rest.

>>> from trainables import PruningConfig, prune_model, compact_model  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # data
    "DataError": "data",
    "DataSplits": "data",
    "MAHANEWS_LABELS": "data",
    "load_splits": "data",
    "tokenize_splits": "data",
    # teacher
    "Teacher": "teacher",
    "TeacherError": "teacher",
    "build_tiny_teacher": "teacher",
    "load_teacher": "teacher",
    "prepare_teacher": "teacher",
    # pruning and compaction
    "PruningConfig": "pruning",
    "prune_model": "pruning",
    "set_pruning_step": "pruning",
    "model_density": "pruning",
    "regularization_loss": "pruning",
    "compact_model": "compaction",
    "save_compact": "compaction",
    "load_compact": "compaction",
    "parameter_counts": "compaction",
    "model_flops": "compaction",
    "speedup_ideal": "compaction",
    # distillation and measurement
    "distillation_loss": "distillation",
    "TeacherLogitsCache": "distillation",
    "time_inference": "measure",
    "EnergyMeter": "measure",
    # the trial
    "TrialConfig": "config",
    "PRESETS": "presets",
    "get_preset": "presets",
    "run_trial": "trainable",
    "train_trial": "trainable",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'trainables' has no attribute {name!r}")
    return getattr(importlib.import_module(f"trainables.{module}"), name)
