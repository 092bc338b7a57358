"""What the study knows about a trial when it ends, and its status in the summary.

>>> status_of({"accuracy": 0.8}, error=None), status_of({}, error="boom")
('PENDING', 'ERROR')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from analysis.rows import FAILED, FINISHED, UNFINISHED, finished_report

WALL_SECONDS = "wall_seconds"


@dataclass
class TrialRecord:
    """What the study knows about one trial when it ends: status, last report, config."""

    trial_id: str
    status: str  # TERMINATED | ERROR | PENDING (an interrupted study's unfinished trial)
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    path: str = ""


def status_of(metrics: Mapping[str, Any], error: object | None) -> str:
    """TERMINATED once the final report is in (:func:`analysis.rows.finished_report`), ERROR if
    the trial failed, else PENDING."""
    if error is not None:
        return FAILED
    return FINISHED if finished_report(metrics) else UNFINISHED


def count_by_status(records: Sequence[TrialRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts
