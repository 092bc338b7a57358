"""The result row of a trial, one builder for every kind.

A kind reports the metrics it has; :func:`result_row` puts them in the row's order and gives
every column the kind does not have its default from :data:`COLUMNS` (NaN where a quantity does
not exist for the model, e.g. the density of a model without an encoder; 0 where it counts
nothing, e.g. the training cost of a trial that trains nothing).

>>> from trainables.config import TrialConfig
>>> cfg = TrialConfig(name="t", kind="classical", precision="fp32")
>>> row = result_row(cfg, {key: 1.0 for key, default in COLUMNS.items() if default is REQUIRED})
>>> row["name"], row[M.DENSITY], row[M.HEADS], row[M.PRECISION_USED], M.VOCAB_SIZE in row
('t', nan, 0, 'fp32', False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainables import metrics as M
from trainables.config import TrialConfig
from trainables.data import text_groups
from trainables.measure import InferenceEnergy, PhaseClock

# Defaults that are not values: a column every kind must report, and one only some rows have.
REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()
OPTIONAL: Any = type("Optional", (), {"__repr__": lambda self: "OPTIONAL"})()
MODEL_DIR = "model_dir"

# Every column after ``name`` and ``kind``, in the row's order, with its default.
COLUMNS: dict[str, Any] = {
    M.ACCURACY: REQUIRED,
    M.MACRO_F1: REQUIRED,
    M.VAL_ACCURACY: REQUIRED,
    M.VAL_MACRO_F1: REQUIRED,
    M.VAL_MAJORITY: REQUIRED,  # from the saved validation labels (trainables.trial.run)
    M.SPEEDUP: REQUIRED,
    M.SPEEDUP_VS_FP32: REQUIRED,
    # no encoder: no forward pass, no FLOP ratio, no kept fraction, nothing kept
    M.SPEEDUP_FORWARD: math.nan,
    M.SPEEDUP_IDEAL: math.nan,
    M.TOKENISE_SHARE: math.nan,
    M.INFERENCE_SECONDS: REQUIRED,
    M.TEACHER_INFERENCE_SECONDS: REQUIRED,
    M.TIMED_BATCHES: REQUIRED,
    M.TIMED_ROWS: REQUIRED,
    M.TIMING_ROUNDS: REQUIRED,
    M.NUM_PARAMETERS: REQUIRED,
    M.ENCODER_PARAMETERS: 0,
    M.TEACHER_NUM_PARAMETERS: REQUIRED,
    M.PARAM_REDUCTION: REQUIRED,
    M.DENSITY: math.nan,
    M.HEADS: 0,
    M.FFN_NEURONS: 0,
    M.LAYERS: 0,
    M.LAYERS_DROPPED: 0,
    M.MODEL_MB: REQUIRED,
    M.MODEL_MB_IN_MEMORY: math.nan,  # no torch state dict (TF-IDF)
    M.EMISSIONS_KG: REQUIRED,
    M.ENERGY_KWH: REQUIRED,
    M.EMISSIONS_KG_PER_1K: REQUIRED,
    M.ENERGY_KWH_PER_1K: REQUIRED,
    M.TEACHER_EMISSIONS_KG_PER_1K: REQUIRED,
    M.ENERGY_RATIO: REQUIRED,
    M.ENERGY_METHOD: REQUIRED,
    M.MACHINE_SHARED: REQUIRED,
    # no training: no cost, no epoch
    M.TRAIN_EMISSIONS_KG: 0.0,
    M.TRAIN_ENERGY_KWH: 0.0,
    M.TRAIN_SECONDS: 0.0,
    M.EPOCH: 0,
    M.PRECISION_USED: REQUIRED,
    M.VOCAB_SIZE: OPTIONAL,  # only models with a vocabulary
    M.VOCAB_COVERAGE: OPTIONAL,  # only trimmed vocabularies
    M.RESUMED_FROM_EPOCH: 0,
    M.STUDENT_REUSED: False,
    # where the wall time went (phase_columns): a phase a kind does not have took 0 s (the
    # TF-IDF model has no teacher logits, compaction or tokens of its own), so totals add up
    **dict.fromkeys(M.PHASES, 0.0),
    M.PHASE_OTHER: REQUIRED,
    M.TRIAL_SECONDS: REQUIRED,
    MODEL_DIR: OPTIONAL,  # only trials that save a model
    M.PREDICTIONS_FILE: OPTIONAL,  # added when the predictions are saved
}


@dataclass
class Outcome:
    """What a kind's recipe hands back: its metrics (columns of :data:`COLUMNS`), per-example
    predictions (:func:`label_predictions`) and per-epoch history."""

    metrics: dict[str, Any]
    predictions: dict[str, np.ndarray]
    history: list[dict[str, float]] = field(default_factory=list)


def result_row(cfg: TrialConfig, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``name``, ``kind``, then every column of :data:`COLUMNS` in order: the kind's value, else
    the column's default; ``precision_used`` is the trial's (resolved) precision.

    Raises ``KeyError`` for a required column the kind left out or a column nobody knows.
    """
    unknown = set(metrics) - set(COLUMNS)
    if unknown:
        raise KeyError(f"metrics {sorted(unknown)} are not result columns; add them to COLUMNS")
    given = {**metrics, M.PRECISION_USED: cfg.precision}
    row: dict[str, Any] = {"name": cfg.name, "kind": cfg.kind}
    for column, default in COLUMNS.items():
        if column in given:
            row[column] = given[column]
        elif default is REQUIRED:
            raise KeyError(f"the {cfg.kind} trial reported no {column!r}, which every row needs")
        elif default is not OPTIONAL:
            row[column] = default
    return row


def phase_columns(clock: PhaseClock) -> dict[str, float]:
    """Where a trial's wall time went, as result columns: every phase of
    :data:`trainables.metrics.PHASES` (0 when not entered), ``phase_other_s`` (the rest) and
    ``trial_seconds`` (:meth:`PhaseClock.elapsed`), so the phases add up to ``trial_seconds``.

    >>> ticks = iter([0.0, 1.0, 4.0, 10.0]).__next__
    >>> clock = PhaseClock(clock=ticks)
    >>> with clock.phase(M.PHASE_TRAIN):
    ...     pass
    >>> columns = phase_columns(clock)
    >>> [columns[name] for name in (M.PHASE_TRAIN, M.PHASE_SAVE, M.PHASE_OTHER, M.TRIAL_SECONDS)]
    [3.0, 0.0, 7.0, 10.0]
    """
    seconds = clock.seconds()
    unknown = set(seconds) - set(M.PHASES)
    if unknown:
        raise KeyError(f"phases {sorted(unknown)} are not in trainables.metrics.PHASES; add them")
    total = clock.elapsed()
    columns = {name: seconds.get(name, 0.0) for name in M.PHASES}
    # what no phase covered; never below 0 by a float's rounding
    columns[M.PHASE_OTHER] = max(total - sum(columns.values()), 0.0)
    columns[M.TRIAL_SECONDS] = total
    return columns


def label_predictions(
    test_pred: np.ndarray,
    test_gold: np.ndarray,
    val_pred: np.ndarray,
    val_gold: np.ndarray,
    *,
    test_texts: Sequence[str],
) -> dict[str, np.ndarray]:
    """The per-example label ids a trial saves (``predictions.npz``), with ``test_group``: one
    id per test row, equal for copies of one (whitespace-collapsed) text, the unit the paired
    statistics resample and count (:func:`trainables.data.text_groups`)."""
    groups = text_groups(test_texts)
    if groups.shape != np.shape(test_gold):
        raise ValueError(
            f"{len(groups)} test texts for {np.size(test_gold)} test labels; pass the texts of "
            "the split the predictions were made on"
        )
    return {
        "test_pred": test_pred,
        "test_gold": test_gold,
        "val_pred": val_pred,
        "val_gold": val_gold,
        "test_group": groups,
    }


def energy_metrics(
    model: InferenceEnergy, teacher: InferenceEnergy, test_size: int, cfg: TrialConfig
) -> dict[str, Any]:
    """The model's inference energy and the teacher's, metered in the same trial over the same
    timed test batches (the baseline trial's model is the teacher); per pass over the whole test
    set (the paper's column) is the per-prediction figure times ``test_size``."""
    return {
        M.EMISSIONS_KG: model.emissions_kg_per_1k * test_size / 1000.0,
        M.ENERGY_KWH: model.energy_kwh_per_1k * test_size / 1000.0,
        M.EMISSIONS_KG_PER_1K: model.emissions_kg_per_1k,
        M.ENERGY_KWH_PER_1K: model.energy_kwh_per_1k,
        M.TEACHER_EMISSIONS_KG_PER_1K: teacher.emissions_kg_per_1k,
        M.ENERGY_RATIO: teacher.energy_kwh / model.energy_kwh if model.energy_kwh > 0 else math.nan,
        M.ENERGY_METHOD: model.method,
        M.MACHINE_SHARED: cfg.machine_shared,
    }
