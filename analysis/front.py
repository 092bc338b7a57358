"""Pareto fronts over a results table: objectives, validity, non-dominated ranks, hypervolume.

A results table is a ``pandas.DataFrame`` with one row per trial and one column per metric (the
names in ``trainables.metrics``). Objectives map a column name to ``"max"`` or ``"min"``; by
default the study's (``OBJECTIVES``), which select on validation accuracy. Non-dominated sorting
and hypervolume come from ``moocore`` (C implementations, exact, with duplicates sharing a rank);
this module only chooses the rows, the table (trials, or configurations over seeds) and the
directions.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import moocore
import numpy as np
import pandas as pd

from analysis.configurations import (
    CONFIG_METRICS,
    config_columns,
    config_table,
    configuration_ids,
)
from analysis.errors import PairingWarning, SelectionWarning
from analysis.rows import (
    MAJORITY_REASON,
    N_SEEDS,
    RANK,
    REASON,
    REFERENCE_KINDS,
    REFERENCE_REASON,
    STATUS,
    baseline_rows,
    finished_mask,
    finished_rows,
    is_kind,
    majority_mask,
)
from trainables.metrics import OBJECTIVES, TEST_OF

Objectives = Mapping[str, str]

DIRECTIONS = ("max", "min")


def _has_values(results: pd.DataFrame, column: str) -> bool:
    if column not in results.columns:
        return False
    return bool(np.isfinite(pd.to_numeric(results[column], errors="coerce").astype(float)).any())


def default_objectives(results: pd.DataFrame) -> dict[str, str]:
    """The study's objectives (``OBJECTIVES``: validation accuracy, speedup, emissions) for
    ``results``.

    A table without validation numbers (written before trials reported them) falls back to the
    test metric, with a :class:`SelectionWarning`: a front chosen on test makes its own test
    numbers optimistic.

    >>> default_objectives(pd.DataFrame({"val_accuracy": [0.8], "speedup": [1.0],
    ...                                  "emissions_kg": [1e-6]}))
    {'val_accuracy': 'max', 'speedup': 'max', 'emissions_kg': 'min'}
    """
    objectives: dict[str, str] = {}
    for name, direction in OBJECTIVES.items():
        test = TEST_OF.get(name)
        if test is not None and not _has_values(results, name) and test in results.columns:
            warnings.warn(
                f"no {name} in the results (a table from before validation metrics): the front "
                f"is chosen on {test}, the test split, so its test numbers are optimistic",
                SelectionWarning,
                stacklevel=2,
            )
            name = test
        objectives[name] = direction
    return objectives


def _objectives(results: pd.DataFrame, objectives: Objectives | None) -> dict[str, str]:
    return default_objectives(results) if objectives is None else dict(objectives)


def parse_objectives(spec: str) -> dict[str, str]:
    """Parse ``"accuracy:max,speedup:max,emissions_kg:min"`` into ``{name: direction}``.

    A name without a direction takes the study's default direction for that metric.

    >>> parse_objectives("accuracy:max,emissions_kg:min")
    {'accuracy': 'max', 'emissions_kg': 'min'}
    >>> parse_objectives("speedup")
    {'speedup': 'max'}
    """
    objectives: dict[str, str] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, direction = (s.strip() for s in item.partition(":"))
        if not direction:
            if name not in OBJECTIVES:
                raise ValueError(
                    f"objective {name!r} has no direction and no default; "
                    f"write {name}:max or {name}:min"
                )
            direction = OBJECTIVES[name]
        direction = direction.lower()
        if direction not in DIRECTIONS:
            raise ValueError(f"objective {name!r} has direction {direction!r}; use 'max' or 'min'")
        if name in objectives:
            raise ValueError(f"objective {name!r} is given twice in {spec!r}")
        objectives[name] = direction
    if not objectives:
        raise ValueError(f"no objectives in {spec!r}; e.g. 'accuracy:max,speedup:max'")
    return objectives


def _check_objectives(results: pd.DataFrame, objectives: Objectives) -> None:
    if not objectives:
        raise ValueError("at least one objective is needed")
    bad = {n: d for n, d in objectives.items() if d not in DIRECTIONS}
    if bad:
        raise ValueError(f"directions must be 'max' or 'min', got {bad}")
    missing = [n for n in objectives if n not in results.columns]
    if missing:
        older = [(n, TEST_OF[n]) for n in missing if TEST_OF.get(n) in results.columns]
        hint = ""
        if older:
            name, test = older[0]
            hint = f" (results from before validation metrics: select on {test}:{objectives[name]})"
        raise ValueError(
            f"objective column(s) {missing} not in the results{hint}; "
            f"available columns: {', '.join(map(str, results.columns))}"
        )


def _objective_values(results: pd.DataFrame, objectives: Objectives) -> pd.DataFrame:
    values = results[list(objectives)].apply(pd.to_numeric, errors="coerce")
    return values.astype(float)


def as_minimisation(values: np.ndarray, directions: list[str]) -> np.ndarray:
    """Negate maximised columns. Done here, not via moocore's ``maximise=``: moocore 0.3.2
    reads ``maximise=[False]`` as "maximise" when there is a single objective."""
    signs = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    return values * signs


def exclusion_reasons(results: pd.DataFrame, objectives: Objectives | None = None) -> pd.Series:
    """Why each row cannot be on a front: ``"status ERROR"``, ``"no accuracy"``, ... or ``None``.

    A row is excluded when its ``status`` (if the table has one) is not ``TERMINATED``, when
    one of its objective values is missing or not finite, when its validation accuracy is not
    above always answering the most common label (:data:`MAJORITY_REASON`, whatever the
    objectives: a collapsed model is chosen by nobody), or when it is a reference and not a
    compression (``kind == "classical"``: :data:`REFERENCE_REASON`).

    >>> t = pd.DataFrame({"accuracy": [0.8, float("nan"), 0.9], "speedup": [1.0, 2.0, 9.0],
    ...                   "kind": ["prune", "prune", "classical"]})
    >>> exclusion_reasons(t, {"accuracy": "max", "speedup": "max"}).tolist()
    [None, 'no accuracy', 'reference, not a compression']
    """
    objectives = _objectives(results, objectives)
    _check_objectives(results, objectives)
    values = _objective_values(results, objectives)
    # Positional masks throughout: a concatenated table may repeat index labels.
    reasons = np.full(len(results), None, dtype=object)
    for name in reversed(list(objectives)):
        reasons[~np.isfinite(values[name].to_numpy())] = f"no {name}"
    reasons[majority_mask(results)] = MAJORITY_REASON
    if STATUS in results.columns:
        status = results[STATUS]
        unfinished = ~finished_mask(results)
        reasons[unfinished] = ("status " + status[unfinished].astype(str)).to_numpy()
    reasons[is_kind(results, REFERENCE_KINDS)] = REFERENCE_REASON
    return pd.Series(reasons, index=results.index, dtype=object)


def excluded_rows(results: pd.DataFrame, objectives: Objectives | None = None) -> pd.DataFrame:
    """The rows left off every front, with a ``reason`` column (see :func:`exclusion_reasons`).

    >>> t = pd.DataFrame({"accuracy": [0.8, 0.7], "speedup": [1, 2],
    ...                   "status": ["TERMINATED", "ERROR"]})
    >>> excluded_rows(t, {"accuracy": "max", "speedup": "max"})["reason"].tolist()
    ['status ERROR']
    """
    reasons = exclusion_reasons(results, objectives).to_numpy()
    excluded = pd.notna(reasons)
    out = results[excluded].copy()
    out[REASON] = reasons[excluded]
    return out


def pareto_ranks(results: pd.DataFrame, objectives: Objectives | None = None) -> pd.Series:
    """Non-dominated sorting: rank 0 is the Pareto front, rank 1 the front once 0 is removed, ...

    Rows with equal objective values share a rank (duplicates on the front are all rank 0).
    Excluded rows (see :func:`exclusion_reasons`) get ``<NA>``. Default objectives: see
    :func:`default_objectives`.

    >>> t = pd.DataFrame({"accuracy": [0.9, 0.8, 0.8, 0.7], "speedup": [1.0, 2.0, 2.0, 1.5]})
    >>> pareto_ranks(t, {"accuracy": "max", "speedup": "max"}).tolist()
    [0, 0, 0, 1]
    """
    objectives = _objectives(results, objectives)
    valid = exclusion_reasons(results, objectives).isna().to_numpy()
    ranks = pd.array([pd.NA] * len(results), dtype="Int64")
    if valid.any():
        points = _objective_values(results, objectives).to_numpy()[valid]
        ranks[valid] = moocore.pareto_rank(as_minimisation(points, list(objectives.values())))
    return pd.Series(ranks, index=results.index, name=RANK)


def pareto_front(
    results: pd.DataFrame, objectives: Objectives | None = None, *, max_rank: int = 0
) -> pd.DataFrame:
    """The rows on the Pareto front (``rank <= max_rank``), every column kept, plus ``rank``.

    Sorted by rank, then by the first objective from best to worst. Where seeds replicate
    configurations, choose among configurations: ``pareto_front(per_configuration(results))``.

    >>> t = pd.DataFrame({"name": ["a", "b", "c"], "accuracy": [0.9, 0.8, 0.7],
    ...                   "speedup": [1.0, 2.0, 1.5]})
    >>> pareto_front(t, {"accuracy": "max", "speedup": "max"})["name"].tolist()
    ['a', 'b']
    """
    objectives = _objectives(results, objectives)
    ranks = pareto_ranks(results, objectives)
    keep = (ranks.notna() & (ranks <= max_rank)).to_numpy(dtype=bool, na_value=False)
    front = results[keep].copy()
    front[RANK] = ranks.to_numpy()[keep].astype(int)
    first, direction = next(iter(objectives.items()))
    return front.sort_values([RANK, first], ascending=[True, direction == "min"], kind="stable")


def hypervolume(
    results: pd.DataFrame,
    objectives: Objectives | None = None,
    reference: Mapping[str, float] | None = None,
) -> float:
    """Volume of objective space dominated by the valid rows and bounded by a reference point.

    The reference defaults to the baseline's row (see :func:`reference_point`). Only
    points better than the reference in every objective add volume, so with the baseline as
    reference a run that loses any accuracy adds none; pass a lower accuracy bound to count them.

    >>> t = pd.DataFrame({"accuracy": [0.9, 0.8], "speedup": [1.0, 2.0]})
    >>> round(hypervolume(t, {"accuracy": "max", "speedup": "max"},
    ...                   {"accuracy": 0.7, "speedup": 0.5}), 3)
    0.2
    """
    objectives = _objectives(results, objectives)
    ref = reference_point(results, objectives, reference)
    valid = exclusion_reasons(results, objectives).isna().to_numpy()
    points = _objective_values(results, objectives).to_numpy()[valid]
    if len(points) == 0:
        return 0.0
    directions = list(objectives.values())
    corner = as_minimisation(np.array([ref[n] for n in objectives]), directions)
    return float(moocore.hypervolume(as_minimisation(points, directions), ref=corner))


def per_configuration(results: pd.DataFrame, *, always: bool = False) -> pd.DataFrame:
    """The table a front is chosen from: ``results`` when every configuration has at most one
    finished row (unless ``always``: then the summary with its intervals all the same), else one
    row per configuration of the finished rows, over its seeds.

    Configurations are :func:`analysis.configuration_ids` (rows that differ only in
    seed; a table without config columns has none). The rows are
    :func:`analysis.config_table`'s, with each ``<metric>_mean`` named as the metric
    itself, so that fronts, views and the relative table read the means unchanged, beside
    ``<metric>_sd`` (ddof=1, NaN for one seed) and ``n_seeds``. A table that is already per
    configuration (it has ``n_seeds``) is returned as it is.

    >>> t = pd.DataFrame({"kind": ["prune"] * 2, "target_density": [0.5] * 2, "seed": [1, 2],
    ...                   "accuracy": [0.78, 0.80]})
    >>> row = per_configuration(t).iloc[0]
    >>> int(row["n_seeds"]), round(float(row["accuracy"]), 3), round(float(row["accuracy_sd"]), 4)
    (2, 0.79, 0.0141)
    """
    if N_SEEDS in results.columns:
        return results
    finished = finished_rows(results)
    # Without config columns (an Optuna study's bare objective values) rows cannot be told
    # apart as configurations: every row stays a point of its own.
    if len(finished) < 2 or not config_columns(finished):
        return results
    if not always and not configuration_ids(finished).duplicated().any():
        return results
    with warnings.catch_warnings():
        # Fronts and plots read the means and sds only; a missing prediction file matters to
        # the paired differences, which the study's summary reports with this warning.
        warnings.simplefilter("ignore", PairingWarning)
        # A fresh index: config_table looks rows up by label, and a concatenated table (a
        # search and its confirmation) can repeat labels.
        table = config_table(finished.reset_index(drop=True))
    means = {f"{m}_mean": m for m in CONFIG_METRICS}
    table = table.drop(columns=[m for m in means.values() if m in table.columns])
    return table.rename(columns=means)


def reference_point(
    results: pd.DataFrame,
    objectives: Objectives | None = None,
    reference: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The hypervolume reference: ``reference`` if given, else the baseline's objective values.

    Several valid baseline rows (repeated seeds) are averaged. Without a baseline and without
    ``reference`` this raises ``ValueError`` saying how to give one.

    >>> t = pd.DataFrame({"kind": ["baseline", "prune"], "accuracy": [0.8, 0.7],
    ...                   "speedup": [1.0, 2.0]})
    >>> reference_point(t, {"accuracy": "max", "speedup": "max"})
    {'accuracy': 0.8, 'speedup': 1.0}
    """
    objectives = _objectives(results, objectives)
    if reference is not None:
        missing = [n for n in objectives if n not in reference]
        if missing:
            raise ValueError(
                f"the reference point {dict(reference)} lacks objective(s) {missing}; "
                "give a value for every objective"
            )
        return {n: float(reference[n]) for n in objectives}
    _check_objectives(results, objectives)
    baseline = baseline_rows(results)
    baseline = baseline[exclusion_reasons(baseline, objectives).isna().to_numpy()]
    if baseline.empty:
        example = ",".join(f"{n}=..." for n in objectives)
        raise ValueError(
            "no finished baseline row (kind == 'baseline' or name == 'baseline') with all of "
            f"{list(objectives)} in the results, so there is no default reference point; "
            f"give one, e.g. --reference {example}"
        )
    means = _objective_values(baseline, objectives).mean()
    return {n: float(means[n]) for n in objectives}
