"""Which rows of a results table are what: finished, the baseline, the reference; column names.

A results table has one row per trial (or per configuration, see
:func:`analysis.per_configuration`). One rule says when a trial finished
(:func:`finished_report`: its last report has every final metric); the study's summary and
every reader write ``TERMINATED`` for such a trial and another status for the rest, whose
numbers (an interrupted trial's epoch report) are not final. These names and row selections are
shared by the fronts, the configuration table and the readers.

>>> t = pd.DataFrame({"kind": ["baseline", "prune", "classical"],
...                   "status": ["TERMINATED", "ERROR", "TERMINATED"]})
>>> finished_rows(t)["kind"].tolist(), baseline_rows(t)["kind"].tolist()
(['baseline', 'classical'], ['baseline'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from trainables.metrics import (
    FINAL_METRICS,
    KIND_BASELINE,
    KIND_CLASSICAL,
    VAL_ACCURACY,
    VAL_MAJORITY,
)

# The status of a finished trial (finished_report); every other status has no final metrics.
FINISHED = "TERMINATED"
FAILED = "ERROR"
# A trial without a final report that did not fail: interrupted, or still running.
UNFINISHED = "PENDING"
STATUS = "status"
RANK = "rank"
REASON = "reason"
BASELINE = KIND_BASELINE  # the value of `kind` (or `name`) that marks the unpruned model's row
# Kinds drawn beside the front for comparison but never ranked: the TF-IDF classifier is not a
# compression of the teacher, so it must neither join the compression front nor dominate it.
REFERENCE_KINDS = (KIND_CLASSICAL,)
REFERENCE_REASON = "reference, not a compression"
# A model no better on validation than always answering the most common label: it learnt the
# label counts only (a model pruned past collapse predicts one class for every text). It is the
# fastest of all, so a front would otherwise keep it, and with it a region no user wants.
MAJORITY_REASON = "no better than the most common label on validation"
# A table with this column holds one row per configuration (see analysis.per_configuration).
N_SEEDS = "n_seeds"
SD_SUFFIX = "_sd"  # `<metric>_sd`: the standard deviation over a configuration's seeds
GSD_SUFFIX = "_gsd"  # `<ratio>_gsd`: the geometric standard deviation over the seeds
# The column in which a per-configuration table (analysis.config_table) carries each
# configuration's label, told apart from others of the same words by "#2", ...
CONFIGURATION = "configuration"
# Which run a row of a confirmation's table comes from: the search that selected its
# configuration, or the confirmation's fresh seeds (study.run --confirm).
PHASE = "phase"
PHASE_SEARCH = "search"
PHASE_CONFIRM = "confirm"


def finished_report(report: Mapping[str, Any]) -> bool:
    """Whether a trial's last report is its final one: every metric of
    :data:`trainables.metrics.FINAL_METRICS` is in it (with any value: a model without an
    encoder reports its density as NaN). An epoch report lacks the speed and energy metrics.
    The one rule for "finished" of the study's summary and of every reader.

    >>> finished_report(dict.fromkeys(FINAL_METRICS, 0.5)), finished_report({"val_accuracy": 0.3})
    (True, False)
    """
    return all(name in report for name in FINAL_METRICS)


def majority_mask(results: pd.DataFrame) -> np.ndarray:
    """Per row, whether its validation accuracy is not above :data:`VAL_MAJORITY` (always
    answering the validation's most common label); False where either is missing.

    >>> majority_mask(pd.DataFrame({"val_accuracy": [0.8, 0.12, 0.5],
    ...                             "val_majority": [0.15, 0.15, None]})).tolist()
    [False, True, False]
    """
    if VAL_ACCURACY not in results.columns or VAL_MAJORITY not in results.columns:
        return np.zeros(len(results), dtype=bool)
    accuracy = pd.to_numeric(results[VAL_ACCURACY], errors="coerce").to_numpy(dtype=float)
    majority = pd.to_numeric(results[VAL_MAJORITY], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(accuracy <= majority)


def is_kind(results: pd.DataFrame, kinds: tuple[str, ...]) -> np.ndarray:
    """Per row, whether its ``kind`` is one of ``kinds`` (case and spaces ignored).

    >>> is_kind(pd.DataFrame({"kind": [" Classical", "prune"]}), REFERENCE_KINDS).tolist()
    [True, False]
    """
    if "kind" not in results.columns:
        return np.zeros(len(results), dtype=bool)
    return results["kind"].astype(str).str.strip().str.lower().isin(kinds).to_numpy()


def finished_mask(results: pd.DataFrame) -> np.ndarray:
    """Per row, whether its trial finished: ``status`` ``TERMINATED`` or missing.

    >>> finished_mask(pd.DataFrame({"status": ["TERMINATED", None, "ERROR"]})).tolist()
    [True, True, False]
    """
    if STATUS not in results.columns:
        return np.ones(len(results), dtype=bool)
    return (results[STATUS].isna() | (results[STATUS].astype(str) == FINISHED)).to_numpy()


def finished_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows whose trial finished: ``status`` ``TERMINATED`` or missing (a table without
    statuses, or a per-configuration table, holds finished rows only).

    >>> finished_rows(pd.DataFrame({"status": ["TERMINATED", "ERROR"]}))["status"].tolist()
    ['TERMINATED']
    """
    return results[finished_mask(results)]


def baseline_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The baseline's row(s): ``kind == "baseline"``, or ``name == "baseline"``, of the
    unmodified teacher (not a "baseline + int8" row: :func:`levered_mask`).

    >>> t = pd.DataFrame({"name": ["baseline", "50% pruning"], "kind": ["baseline", "prune"]})
    >>> baseline_rows(t)["name"].tolist()
    ['baseline']
    """
    mask = pd.Series(False, index=results.index)
    for column in ("kind", "name"):
        if column in results.columns:
            mask |= results[column].astype(str).str.strip().str.lower() == BASELINE
    return results[(mask & ~levered_mask(results)).to_numpy()]


def levered_mask(results: pd.DataFrame) -> pd.Series:
    """Per row, whether its model is changed after training by int8 or a trimmed vocabulary
    (``quantize`` other than none, ``vocab_trim`` true; Tune's tables call them ``config/...``):
    a baseline row so changed ("baseline + int8") is a configuration, not the reference.

    >>> levered_mask(pd.DataFrame({"quantize": ["none", "int8", None],
    ...                            "vocab_trim": [False, False, "True"]})).tolist()
    [False, True, True]
    """
    levered = pd.Series(False, index=results.index)
    for key, as_is in (("quantize", "none"), ("vocab_trim", "false")):
        for column in (key, f"config/{key}"):
            if column in results.columns:
                value = results[column].astype(str).str.strip().str.lower()
                levered |= ~value.isin([as_is, "nan", "none", "", "0", "0.0", "false"])
    return levered


def reference_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows drawn for comparison and never ranked: ``kind == "classical"`` (TF-IDF + LR).

    >>> t = pd.DataFrame({"kind": ["baseline", "prune", "classical"]})
    >>> reference_rows(t)["kind"].tolist()
    ['classical']
    """
    return results[is_kind(results, REFERENCE_KINDS)]


def baseline_mask(results: pd.DataFrame) -> pd.Series:
    """Per row, whether it is a baseline row (:func:`baseline_rows`), on ``results``' index.

    >>> baseline_mask(pd.DataFrame({"kind": ["baseline", "prune"]}, index=[3, 3])).tolist()
    [True, False]
    """
    # Positional: a concatenated table (a search and its confirmation) may repeat index labels.
    positions = baseline_rows(results.reset_index(drop=True)).index.to_numpy()
    mask = np.zeros(len(results), dtype=bool)
    mask[positions] = True
    return pd.Series(mask, index=results.index)


def numeric_column(results: pd.DataFrame, column: str) -> pd.Series:
    """``results[column]`` as floats (NaN where missing or not a number; all NaN without it).

    >>> numeric_column(pd.DataFrame({"a": ["1.5", "x"]}), "a").tolist()
    [1.5, nan]
    """
    if column not in results.columns:
        return pd.Series(np.nan, index=results.index, dtype=float)
    return pd.to_numeric(results[column], errors="coerce").astype(float)
