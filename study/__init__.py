"""The study: ``python -m study.run`` runs the paper's grid or an Optuna search on Ray Tune.

The summary needs no Ray; ``study.tuner`` (Ray, Optuna) is imported only once a study starts.
Every error a user can fix before anything runs is a :class:`UsageError`.

>>> from study import TrialRecord, summary_table
>>> table = summary_table([TrialRecord("t1", "TERMINATED", {"accuracy": 0.8},
...                                    {"name": "baseline", "kind": "baseline"})])
>>> row = table.iloc[0]
>>> row["name"], row["status"], float(row["accuracy"])
('baseline', 'TERMINATED', 0.8)
"""

from study.errors import UsageError
from study.records import TrialRecord
from study.summary import front_models, summary_markdown, summary_table, write_summary

__all__ = [
    "TrialRecord",
    "UsageError",
    "front_models",
    "summary_markdown",
    "summary_table",
    "write_summary",
]
