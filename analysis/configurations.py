"""Configurations over seeds: which trials replicate one configuration, and its table.

A study with ``--seeds N`` (or a ``--confirm`` re-run) has several finished trials per
configuration that differ only in ``seed``. This module groups them (:func:`configuration_ids`,
:func:`configuration_labels`) and summarises each configuration over its seeds
(:func:`config_table`), with its paired difference to the baseline on the same test examples
(:mod:`analysis.statistics`). Ratios (:data:`analysis.replicates.RATIO_METRICS`) are summarised: a
geometric mean and a geometric standard deviation. In a confirmation's table (a ``phase``
column) a configuration is its confirmation seeds; the search run that selected it stands beside
them as ``search_*`` columns, never pooled into them.

Pure functions of a results table (``summary.csv`` or :func:`analysis.read_results`); no Ray.

>>> t = pd.DataFrame({"kind": ["baseline", "prune", "prune"], "target_density": [1.0, 0.5, 0.5],
...                   "seed": [1, 1, 2]})
>>> configuration_labels(t).tolist()
['baseline', '50% pruning', '50% pruning']
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import PairingWarning
from analysis.labels import config_label
from analysis.predictions import read_predictions
from analysis.replicates import (
    SEARCH_TRIAL_IDS,
    metric_summary,
    search_columns,
    split_confirmation,
    summary_columns,
)
from analysis.rows import CONFIGURATION, baseline_mask, finished_rows
from analysis.statistics import (
    holm_column,
    mcnemar_exact,
    paired_bootstrap_test,
    prediction_savings,
)
from trainables import metrics as M

# Config keys that do not make a configuration: the replicate's seed, the display name, where
# caches live, and whether other trials happened to share the machine (a measuring condition,
# not a setting: a --confirm re-run of the same configuration may run alone).
BOOKKEEPING = frozenset({"name", M.SEED, "cache_dir", "student_cache", M.MACHINE_SHARED})
DATA_PREFIX = "data/"
CONFIGURATION_ID = "configuration_id"

# Metrics summarised per configuration as <metric>_mean, in table order: every final metric
# (fronts and views read a configuration's means under the metric's own name, see
# analysis.per_configuration), and the payback computed against the baseline.
CONFIG_METRICS: tuple[str, ...] = (*M.SUMMARISED_METRICS, M.PAYBACK_PREDICTIONS)
# The paired difference to the baseline: its interval, its tests and their unit (test_texts
# distinct texts over test_rows rows; test_texts NaN when a prediction file has no test_group,
# each row then its own text).
DELTA_COLUMNS = (
    "delta_accuracy_mean",
    "delta_accuracy_ci_low",
    "delta_accuracy_ci_high",
    "mcnemar_p",
    "ci_excludes_zero",
    "p_value",
    "p_holm",
    "test_texts",
    "test_rows",
)


@functools.cache
def _trial_config_keys() -> tuple[str, ...]:
    # Imported here, not at the top: trainables.config pulls in torch, and `import analysis`
    # should stay light for a notebook that only reads a summary.
    from dataclasses import fields

    from trainables.config import TrialConfig

    return tuple(f.name for f in fields(TrialConfig))


def config_columns(table: pd.DataFrame) -> list[str]:
    """The columns of ``table`` that define a configuration: the trial-config keys except
    :data:`BOOKKEEPING`, the nested data spec as its ``data/<key>`` columns.

    A config key that collides with a metric column is stored as ``config/<key>`` by the
    summary; that column is used when present.
    """
    columns: list[str] = []
    for key in _trial_config_keys():
        if key in BOOKKEEPING or key == "data":
            continue
        for column in (f"config/{key}", key):
            if column in table.columns:
                columns.append(column)
                break
    columns += sorted(c for c in table.columns if c.startswith(DATA_PREFIX))
    return columns


def _canonical(value: Any) -> str:
    """One spelling per value, so a table read back from CSV groups as the original did:
    missing is "", numbers in 12 significant digits (4 and 4.0 alike), booleans as True/False."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        return format(float(value), ".12g")
    text = str(value).strip()
    return {"true": "True", "false": "False", "nan": ""}.get(text.lower(), text)


def configuration_ids(table: pd.DataFrame) -> pd.Series:
    """A string per row naming its configuration: ``key=value`` of :func:`config_columns`,
    joined by ``|``. Rows that differ only in seed (or name, trial id) share an id.

    >>> t = pd.DataFrame({"kind": ["prune"] * 3, "target_density": [0.5, 0.5, 0.75],
    ...                   "seed": [1, 2, 1]})
    >>> ids = configuration_ids(t)
    >>> ids[0] == ids[1] != ids[2], ids[0]
    (True, 'kind=prune|target_density=0.5')
    """
    columns = config_columns(table)
    if not columns:
        return pd.Series([""] * len(table), index=table.index, dtype=object)
    values = table[columns].map(_canonical)
    return values.apply(
        lambda row: "|".join(f"{c}={v}" for c, v in zip(columns, row, strict=True)), axis=1
    ).astype(object)


def configuration_labels(table: pd.DataFrame, ids: pd.Series | None = None) -> pd.Series:
    """A readable label per row (:func:`analysis.config_label` of its configuration); when two
    distinct configurations share a label, the second and later (in table order) get ``#2``, ...

    >>> t = pd.DataFrame({"kind": ["prune"] * 3, "target_density": [0.5, 0.5, 0.5],
    ...                   "learning_rate": [1e-4, 1e-4, 3e-5]})
    >>> configuration_labels(t).tolist()
    ['50% pruning', '50% pruning', '50% pruning #2']
    """
    ids = configuration_ids(table) if ids is None else ids
    # by position: a concatenated table repeats index labels
    positions = pd.Series(range(len(table))).groupby(ids.to_numpy(), sort=False).head(1)
    label_of: dict[str, str] = {}
    seen: dict[str, int] = {}
    for position in positions:
        config_id, row = ids.iloc[position], table.iloc[position]
        label = config_label(row.to_dict())
        seen[label] = seen.get(label, 0) + 1
        label_of[config_id] = label if seen[label] == 1 else f"{label} #{seen[label]}"
    return ids.map(label_of).astype(object)


# --------------------------------------------------------------------------------------------
# The configuration table


def _trial_name(row: Mapping[str, Any], fallback: object) -> str:
    for key in ("trial_id", "name"):
        value = row.get(key)
        if _canonical(value):
            return str(value)
    return str(fallback)


# One trial's test split: correct (bool per row), gold label ids, text group ids (or None).
_Tested = tuple[np.ndarray, np.ndarray, np.ndarray | None]
# A group of trials: correct (seeds x rows), gold, groups (None unless every file has them),
# the first trial's name.
_Stacked = tuple[np.ndarray, np.ndarray, np.ndarray | None, str]


class _Predictions:
    """Reads each trial's test predictions once; a missing or unreadable file is a warning and
    None, never an exception: the study must still write its summary."""

    def __init__(self) -> None:
        self._cache: dict[str, _Tested | None] = {}
        self.missing: list[str] = []  # trials without a file: warn_missing() names them

    def test(self, row: Mapping[str, Any], trial: str) -> _Tested | None:
        """(correct, gold, group or None) over the test split, or None."""
        path = _canonical(row.get(M.PREDICTIONS_FILE))
        if not path:
            self.missing.append(trial)
            return None
        if path not in self._cache:
            self._cache[path] = self._read(path, trial)
        return self._cache[path]

    @staticmethod
    def _read(path: str, trial: str) -> _Tested | None:
        try:
            pred, gold, group = read_predictions(path)
        except ValueError as error:
            warnings.warn(
                f"cannot read the predictions of trial {trial} from {path}: {error}; its "
                "configuration gets no paired difference to the baseline",
                PairingWarning,
                stacklevel=2,
            )
            return None
        return pred == gold, gold, group

    def warn_missing(self) -> None:
        """One warning naming the trials without a prediction file (a table written before
        trials saved them has none at all: one line, not one per trial)."""
        if not self.missing:
            return
        shown = ", ".join(self.missing[:5]) + (", ..." if len(self.missing) > 5 else "")
        warnings.warn(
            f"{len(self.missing)} trial(s) have no {M.PREDICTIONS_FILE} ({shown}); their "
            "configurations get no paired difference to the baseline (re-run them with a "
            "trainable that saves predictions)",
            PairingWarning,
            stacklevel=3,
        )


def _stack(rows: pd.DataFrame, predictions: _Predictions, what: str) -> _Stacked | None:
    """(correct: seeds x examples, gold, groups, first trial) of a group of rows, or None when
    a row's predictions are missing or the rows were tested on different examples. ``groups``
    is None when any file has none (written before files held test_group)."""
    corrects: list[np.ndarray] = []
    first_read: _Tested | None = None
    first = ""
    all_grouped = True
    for index, row in rows.iterrows():
        trial = _trial_name(row, index)
        read = predictions.test(row.to_dict(), trial)
        if read is None:
            return None
        if first_read is None:
            first_read, first = read, trial
        elif not _same_examples(first_read, read):
            warnings.warn(
                f"trials {first} and {trial} of {what} were tested on different test examples "
                "(test_gold or test_group differs); no paired difference for it",
                PairingWarning,
                stacklevel=2,
            )
            return None
        all_grouped = all_grouped and read[2] is not None
        corrects.append(read[0])
    assert first_read is not None  # rows is never empty
    groups = first_read[2] if all_grouped else None
    return np.stack(corrects), first_read[1], groups, first


def _same_examples(a: _Tested, b: _Tested) -> bool:
    """Same gold labels, and the same text groups where both files have them."""
    if not np.array_equal(a[1], b[1]):
        return False
    return a[2] is None or b[2] is None or np.array_equal(a[2], b[2])


def _joined(values: pd.Series) -> str:
    texts = [_canonical(v) for v in values]
    return "; ".join(dict.fromkeys(t for t in texts if t))


def _seeds_text(values: pd.Series) -> str:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return " ".join(_canonical(v) for v in sorted(numbers))


def _any_true(values: pd.Series) -> bool:
    return any(_canonical(v) == "True" for v in values)


def config_table(table: pd.DataFrame, *, n_boot: int = 2000, rng_seed: int = 0) -> pd.DataFrame:
    """One row per configuration of the finished trials (status TERMINATED, or none given),
    summarised over its seeds.

    Columns: ``configuration`` (label), ``kind``, ``n_seeds``, ``seeds``; per final metric
    ``<metric>_mean`` and ``<metric>_sd`` (ddof=1, NaN for one seed), except the ratios
    (:data:`analysis.replicates.RATIO_METRICS`: speedups, energy ratio) whose
    ``<metric>_mean`` is the geometric mean and whose spread is the geometric sd
    ``<metric>_gsd``; ``payback_predictions_mean``:
    mean training emissions / mean emissions saved per prediction (``inf``, "never", only when
    the mean saving is <= 0); the paired
    difference in test accuracy to the baseline: ``delta_accuracy_mean``,
    ``delta_accuracy_ci_low`` / ``_high`` (95% bootstrap over distinct test texts and seeds,
    see :func:`analysis.paired_bootstrap_delta`), ``ci_excludes_zero`` (that interval, not
    adjusted), ``mcnemar_p`` (exact, each text once; single-seed configurations against a
    baseline whose replicates predict alike; NaN otherwise), ``p_value`` (``mcnemar_p`` where
    there is one, else the bootstrap's two-sided p from the same draws), ``p_holm`` (Holm over
    every configuration of the table with a ``p_value``), ``test_texts`` and ``test_rows`` (the
    unit: NaN texts when a prediction file has no ``test_group``, each row then counted); then the
    configuration's config columns, ``energy_method`` (distinct values), ``machine_shared``
    (any replicate), ``trial_ids`` and ``configuration_id``.

    A confirmation's table (``phase`` ``search`` / ``confirm`` rows, see ``study.run
    --confirm``) has one row per confirmed configuration (the baseline included), summarised
    over its confirmation seeds only, paired against the confirmation's baseline; the search
    run(s) that selected it follow as ``search_val_accuracy``, ``search_accuracy``,
    ``search_speedup``, ``search_emissions_kg`` and ``search_trial_ids``.

    The baseline rows (``kind == "baseline"``) are the reference: their own configuration has
    delta 0 by definition and no interval or test (NaN, ``ci_excludes_zero`` False). Every
    other delta is NaN when there is no finished baseline, when a replicate's or the
    baseline's prediction file is missing or unreadable, or when they were tested on
    different examples (the last two with a :class:`PairingWarning` naming the trials).

    >>> t = pd.DataFrame({"status": ["TERMINATED"] * 3, "trial_id": ["a", "b", "c"],
    ...                   "kind": ["prune"] * 3, "target_density": [0.5] * 3,
    ...                   "seed": [1, 2, 3], "accuracy": [0.80, 0.82, 0.84]})
    >>> row = config_table(t).iloc[0]
    >>> row["configuration"], int(row["n_seeds"]), row["seeds"], float(row["accuracy_sd"].round(3))
    ('50% pruning', 3, '1 2 3', 0.02)
    """
    # A fresh index: rows are looked up by label below, and a concatenated table may repeat them.
    finished = finished_rows(table).reset_index(drop=True)
    columns = config_columns(finished)
    metric_columns = summary_columns()
    head = [CONFIGURATION, "kind", "n_seeds", "seeds"]
    tail = [M.ENERGY_METHOD, M.MACHINE_SHARED, "trial_ids", CONFIGURATION_ID]
    config_out = [c.removeprefix("config/") for c in columns if c != "kind"]
    if finished.empty:
        return pd.DataFrame(columns=[*head, *metric_columns, *DELTA_COLUMNS, *config_out, *tail])

    finished, ids, selecting = split_confirmation(finished, configuration_ids(finished))
    search_out = list(search_columns(None)) if selecting else []
    savings = prediction_savings(finished)
    labels = configuration_labels(finished, ids)
    is_baseline = baseline_mask(finished)
    predictions = _Predictions()
    reference = _baseline_reference(finished[is_baseline.to_numpy()], predictions)

    rows: list[dict[str, Any]] = []
    for config_id, group in finished.groupby(ids.to_numpy(), sort=False):
        first = group.iloc[0]
        out: dict[str, Any] = {
            CONFIGURATION: labels.loc[group.index[0]],
            "kind": first.get("kind", ""),
            "n_seeds": len(group),
            "seeds": _seeds_text(group[M.SEED]) if M.SEED in group.columns else "",
        }
        out.update(metric_summary(group, savings[group.index]))
        if bool(is_baseline.loc[group.index].all()):  # the reference itself
            out.update(_reference_delta())
        else:
            out.update(_delta(group, reference, predictions, n_boot=n_boot, rng_seed=rng_seed))
        if selecting:
            search = selecting.get(str(config_id))
            out.update(search_columns(search))
            if search is not None:
                names = (_trial_name(r, i) for i, r in search.iterrows())
                out[SEARCH_TRIAL_IDS] = " ".join(names)
        for column in columns:
            if column != "kind":
                out[column.removeprefix("config/")] = first[column]
        out[M.ENERGY_METHOD] = _joined(group[M.ENERGY_METHOD]) if M.ENERGY_METHOD in group else ""
        out[M.MACHINE_SHARED] = (
            _any_true(group[M.MACHINE_SHARED]) if M.MACHINE_SHARED in group else False
        )
        out["trial_ids"] = " ".join(_trial_name(r, i) for i, r in group.iterrows())
        out[CONFIGURATION_ID] = config_id
        rows.append(out)
    predictions.warn_missing()
    columns_out = [*head, *metric_columns, *DELTA_COLUMNS, *search_out, *config_out, *tail]
    configs = pd.DataFrame(rows, columns=columns_out)
    configs["p_holm"] = holm_column(configs)
    return configs


def _reference_delta() -> dict[str, Any]:
    return {
        **dict.fromkeys(DELTA_COLUMNS, math.nan),
        "delta_accuracy_mean": 0.0,
        "ci_excludes_zero": False,
    }


def _no_delta() -> dict[str, Any]:
    return {**_reference_delta(), "delta_accuracy_mean": math.nan}


def _baseline_reference(baseline: pd.DataFrame, predictions: _Predictions) -> _Stacked | None:
    """The baseline's (correct: replicates x examples, gold, groups, first trial), or None."""
    if baseline.empty:
        return None
    return _stack(baseline, predictions, "the baseline")


def _delta(
    group: pd.DataFrame,
    reference: _Stacked | None,
    predictions: _Predictions,
    *,
    n_boot: int,
    rng_seed: int,
) -> dict[str, Any]:
    """The paired difference of one configuration to the baseline over distinct test texts
    (rows when a file has no test_group) and seeds, with its p-value: exact McNemar for one
    seed against a baseline whose replicates predict alike, else the bootstrap's own."""
    if reference is None:
        return _no_delta()
    stacked = _stack(group, predictions, "one configuration")
    if stacked is None:
        return _no_delta()
    correct, gold, groups, trial = stacked
    base_correct, base_gold, base_groups, base_trial = reference
    same_groups = groups is None or base_groups is None or np.array_equal(groups, base_groups)
    if not (np.array_equal(gold, base_gold) and same_groups):
        warnings.warn(
            f"trial {trial} and the baseline trial {base_trial} were tested on different test "
            f"examples ({gold.size} vs {base_gold.size} labels, or different labels or text "
            "groups); no paired difference for its configuration",
            PairingWarning,
            stacklevel=2,
        )
        return _no_delta()
    groups = groups if base_groups is not None else None
    result = paired_bootstrap_test(
        correct, base_correct, groups=groups, n_boot=n_boot, rng_seed=rng_seed
    )
    distinct_baselines = np.unique(base_correct, axis=0)
    single = correct.shape[0] == 1 and distinct_baselines.shape[0] == 1
    by_text = {} if groups is None else {"groups": groups, "gold": gold}
    mcnemar = mcnemar_exact(correct[0], distinct_baselines[0], **by_text) if single else math.nan
    return {
        "delta_accuracy_mean": result.delta,
        "delta_accuracy_ci_low": result.low,
        "delta_accuracy_ci_high": result.high,
        "mcnemar_p": mcnemar,
        "ci_excludes_zero": bool(result.low > 0.0 or result.high < 0.0),
        "p_value": mcnemar if single else result.p_value,
        "p_holm": math.nan,  # over the table's family: holm_column
        "test_texts": math.nan if groups is None else int(np.unique(groups).size),
        "test_rows": int(gold.size),
    }
