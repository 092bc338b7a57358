"""Optuna's own figures of a search study, written beside ours: Pareto front, hypervolume history.

Optuna draws every trial of the study it stores, in the study's own objective names
(``study.metric_names``); ours (:mod:`analysis.plots`) draw the results table.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.readers import load_optuna_study

if TYPE_CHECKING:
    import optuna

# How far the hypervolume reference lies beyond the worst completed value, as a share of the range.
REFERENCE_MARGIN = 0.1


def hypervolume_reference(
    values: Sequence[Sequence[float]], maximise: Sequence[bool]
) -> list[float]:
    """A reference point worse than every point: per objective, the worst value pushed out by
    ``REFERENCE_MARGIN`` (10%) of the values' range; when all values are equal, by 10% of the
    value's magnitude, or by 0.1 when it is zero.

    >>> reference = hypervolume_reference([[0.8, 1, 2e-6], [0.7, 3, 1e-6]], [True, True, False])
    >>> [f"{v:.3g}" for v in reference]
    ['0.69', '0.8', '2.1e-06']
    >>> hypervolume_reference([[0.5], [0.5]], [True])
    [0.45]
    """
    points = np.asarray(values, dtype=float)
    reference = []
    for column, up in zip(points.T, maximise, strict=True):
        low, high = float(column.min()), float(column.max())
        worst = low if up else high
        pad = REFERENCE_MARGIN * ((high - low) or abs(worst) or 1.0)
        reference.append(worst - pad if up else worst + pad)
    return reference


def _completed_values(study: optuna.Study) -> list[list[float]]:
    import optuna

    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return [list(t.values) for t in trials if t.values and np.isfinite(t.values).all()]


def write_optuna_plots(
    storage: str, study_name: str | None, directory: str | Path
) -> dict[str, Path]:
    """Write Optuna's ``plot_pareto_front`` and ``plot_hypervolume_history`` as HTML.

    Files: ``optuna_pareto_front.html`` (2 or 3 objectives) and
    ``optuna_hypervolume_history.html`` in ``directory``, plotly.js embedded (they open offline).
    The hypervolume's reference point is :func:`hypervolume_reference` of the completed trials:
    the worst value of each objective pushed out by 10% of its range.

    Returns ``{"pareto_front": path, "hypervolume_history": path}``; an empty dict, with a
    warning saying why, for a single-objective study or one without a completed trial.

    >>> write_optuna_plots("sqlite:///results/sweep/optuna.db", "sweep", "results/sweep")
    ... # doctest: +SKIP
    {'pareto_front': PosixPath('results/sweep/optuna_pareto_front.html'), ...}
    """
    import optuna

    study = load_optuna_study(storage, study_name)
    if len(study.directions) < 2:
        warnings.warn(
            f"no Optuna plots: study {study.study_name!r} has one objective (no Pareto front)",
            stacklevel=2,
        )
        return {}
    values = _completed_values(study)
    if not values:
        warnings.warn(
            f"no Optuna plots: study {study.study_name!r} has no completed trial yet", stacklevel=2
        )
        return {}
    maximise = [d == optuna.study.StudyDirection.MAXIMIZE for d in study.directions]
    figures = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if len(study.directions) <= 3:
            figures["pareto_front"] = optuna.visualization.plot_pareto_front(study)
        figures["hypervolume_history"] = optuna.visualization.plot_hypervolume_history(
            study, hypervolume_reference(values, maximise)
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, figure in figures.items():
        written[name] = directory / f"optuna_{name}.html"
        figure.write_html(written[name], include_plotlyjs=True)
    return written
