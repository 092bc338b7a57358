"""One trial of each kind, top to bottom: :func:`run_trial` (plain) and :func:`train_trial`
(the Ray Tune function trainable); each kind's steps are its recipe module (``prune``,
``baseline``, ``classical``) registered in :data:`RECIPES`."""

from trainables.trial.context import Reporter, Trial
from trainables.trial.result import Outcome, result_row
from trainables.trial.run import RECIPES, run_trial, start_trial, train_trial

__all__ = [
    "RECIPES",
    "Outcome",
    "Reporter",
    "Trial",
    "result_row",
    "run_trial",
    "start_trial",
    "train_trial",
]
