"""What every teacher module shares: the :class:`Teacher` record, its error, the label order and
the name of the file beside a built teacher's weights.

>>> label2id_for(["b", "a"])
{'a': 0, 'b': 1}
"""

from __future__ import annotations

from dataclasses import dataclass

from trainables.data import MAHANEWS_LABELS
from trainables.errors import TrainablesError

# Beside a built teacher's weights: its test metrics, recipe config and data source.
TEACHER_INFO = "teacher.json"


class TeacherError(TrainablesError, RuntimeError):
    """A teacher could not be loaded; the message says how to pass one that can."""


@dataclass
class Teacher:
    """Where a teacher lives and what is known about it."""

    path: str  # a local folder (or a hub id for a model the hub serves)
    metrics: dict[str, float]


def label2id_for(labels: list[str]) -> dict[str, int]:
    """MahaNews order when the data's labels are MahaNews topics, else sorted order."""
    if set(labels) <= set(MAHANEWS_LABELS):
        return {label: i for i, label in enumerate(MAHANEWS_LABELS)}
    return {label: i for i, label in enumerate(sorted(labels))}
