"""A study's disk: a finished trial's training checkpoints removed, the space the study takes.

A trial keeps one training checkpoint while it can resume (Tune's ``checkpoint_NNNNNN`` copy in
its storage folder, :mod:`trainables.trial.checkpoint`); once Tune marks it complete,
:func:`remove_training_checkpoints` removes it and the trial's model, predictions and metrics
stay. The study ends with :func:`remove_students` (the trained students twins shared) and
:func:`disk_line`.

>>> is_training_checkpoint("checkpoint_000002"), is_training_checkpoint("model")
(True, False)
>>> [size_text(n) for n in (512, 148_000_000, 6_200_000_000)]
['512 B', '148 MB', '6.2 GB']
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.fs

from trainables.trial.context import CHECKPOINTS_DIR

# Tune names the checkpoint copies it keeps in a trial's folder checkpoint_000000, ...
TUNE_CHECKPOINT_PREFIX = "checkpoint_"
# What marks a trial's folder in a study folder (Tune writes it when the trial starts).
TRIAL_MARKER = "params.json"
# The study's trained students, shared by twins (trainables.trial.students): a cache, removed
# when the study ends (a resumed study trains again what it misses).
STUDENTS_DIR = "students"


def is_training_checkpoint(name: str) -> bool:
    """Whether a folder of that name in a trial's folder is a training checkpoint: Tune's copy,
    or the trial's own ``checkpoints`` folder (synced to storage by earlier versions)."""
    return name == CHECKPOINTS_DIR or name.startswith(TUNE_CHECKPOINT_PREFIX)


def remove_training_checkpoints(filesystem: pyarrow.fs.FileSystem, trial_path: str) -> list[str]:
    """Remove the training checkpoints of a finished trial's folder ``trial_path`` on
    ``filesystem`` (a local folder or a bucket); return the removed folders' names."""
    selector = pyarrow.fs.FileSelector(trial_path, allow_not_found=True)
    removed = []
    for info in filesystem.get_file_info(selector):
        if info.type == pyarrow.fs.FileType.Directory and is_training_checkpoint(info.base_name):
            filesystem.delete_dir(info.path)
            removed.append(info.base_name)
    return sorted(removed)


def remove_students(study_dir: Path) -> None:
    """Remove the study's student cache (:data:`STUDENTS_DIR`): every trial that could reuse a
    student has run, and each kept its own model."""
    shutil.rmtree(study_dir / STUDENTS_DIR, ignore_errors=True)


def folder_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder`` (links not followed), as ``du`` counts them
    apart from block rounding."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                total += os.lstat(path).st_size
    return total


def disk_line(study_dir: Path) -> str:
    """One line: the study folder's size and its largest trial folder's."""
    total = folder_bytes(study_dir)
    trials = {d.name: folder_bytes(d) for d in study_dir.iterdir() if (d / TRIAL_MARKER).is_file()}
    line = f"disk: {size_text(total)} in {study_dir}"
    if trials:
        name = max(trials, key=lambda t: trials[t])
        line += f"; largest trial {size_text(trials[name])} ({name})"
    return line


def size_text(n: int) -> str:
    """Bytes in decimal units, two or three significant figures."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n} B"
