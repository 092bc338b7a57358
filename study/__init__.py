"""The study: ``python -m study.run`` runs the paper's grid or an Optuna search on Ray Tune.

The summary needs no Ray; ``study.tuner`` (Ray, Optuna) is imported only once a study starts.

>>> from study import summary_table, write_summary  # doctest: +SKIP
"""

from study.summary import TrialRecord, summary_markdown, summary_table, write_summary

__all__ = ["TrialRecord", "summary_markdown", "summary_table", "write_summary"]
