"""Replicates and uncertainty: configurations over seeds, paired differences to the baseline.

A study with ``--seeds N`` (or a ``--confirm`` re-run) has several finished trials per
configuration that differ only in ``seed``. This module groups them (:func:`configuration_ids`,
:func:`configuration_labels`), summarises each configuration over its seeds (:func:`config_table`)
and compares it with the baseline on the same test examples, from the trials' prediction files:
a paired bootstrap interval over examples and seeds (:func:`paired_bootstrap_delta`) and, for a
single seed, an exact McNemar test (:func:`mcnemar_exact`). :func:`payback_predictions` says how
many predictions a compressed model needs to make before its training emissions are paid back.

Pure functions of a results table (``summary.csv`` or :func:`analysis.read_results`); no Ray.

>>> import numpy as np
>>> candidate = np.array([[True, True, True, False]])  # one seed, four test examples
>>> baseline = np.array([True, False, True, False])
>>> mcnemar_exact(candidate[0], baseline)
1.0
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from analysis.front import FINISHED, STATUS, baseline_rows
from analysis.labels import CONFIGURATION, config_label
from trainables import metrics as M

# Config keys that do not make a configuration: the replicate's seed, the display name, where
# caches live, and whether other trials happened to share the machine (a measuring condition,
# not a setting: a --confirm re-run of the same configuration may run alone).
BOOKKEEPING = frozenset({"name", M.SEED, "cache_dir", M.MACHINE_SHARED})
DATA_PREFIX = "data/"
CONFIGURATION_ID = "configuration_id"

# Metrics summarised per configuration as <metric>_mean and <metric>_sd, in table order: every
# final metric (fronts and views read a configuration's means under the metric's own name, see
# analysis.front.per_configuration), and the payback computed against the baseline.
CONFIG_METRICS: tuple[str, ...] = (*M.FINAL_METRICS, M.PAYBACK_PREDICTIONS)
DELTA_COLUMNS = (
    "delta_accuracy_mean",
    "delta_accuracy_ci_low",
    "delta_accuracy_ci_high",
    "mcnemar_p",
    "ci_excludes_zero",
)


class PairingWarning(UserWarning):
    """A configuration could not be paired with the baseline; its delta columns are NaN."""


# --------------------------------------------------------------------------------------------
# Configurations


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
# Tests and intervals


def _as_2d(correct: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(correct)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(
            f"{name} must be (seeds x examples) or (examples,) booleans, got shape {array.shape}"
        )
    return array.astype(bool)


def paired_bootstrap_delta(
    candidate_correct: np.ndarray,
    baseline_correct: np.ndarray,
    *,
    n_boot: int = 2000,
    rng_seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Accuracy difference candidate - baseline on the same test examples, with a percentile
    bootstrap interval over examples and seeds: ``(observed difference, low, high)``.

    Each bootstrap draw resamples the example indices (the same ones for candidate and
    baseline: the pairing) and the candidate's seeds (and the baseline's, when it has several),
    so the interval covers both test-set and training-seed variation.

    ``candidate_correct``: (seeds x examples) or (examples,) booleans; ``baseline_correct`` the
    same for the baseline, on the same examples in the same order.

    >>> rng = np.random.default_rng(1)
    >>> gold_hit = rng.random(2000) < 0.8
    >>> better = gold_hit | (rng.random((3, 2000)) < 0.25)  # fixes ~5 points of the errors
    >>> mean, low, high = paired_bootstrap_delta(better, gold_hit)
    >>> 0 < low < mean < high
    True
    """
    candidate = _as_2d(candidate_correct, "candidate_correct")
    baseline = _as_2d(baseline_correct, "baseline_correct")
    if candidate.shape[1] != baseline.shape[1]:
        raise ValueError(
            f"candidate has {candidate.shape[1]} examples, baseline {baseline.shape[1]}; "
            "pair predictions on the same test examples"
        )
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), e.g. 0.95, got {level}")
    n_examples = candidate.shape[1]
    n_cand, n_base = candidate.shape[0], baseline.shape[0]
    observed = float(candidate.mean() - baseline.mean())

    rng = np.random.default_rng(rng_seed)
    # An example enters a statistic only through its pattern of correctness (one bit per
    # candidate and baseline seed), so resampling N examples with replacement is drawing
    # pattern counts from a multinomial: the same bootstrap, without a (draws x N) index array.
    patterns, counts = np.unique(
        np.concatenate([candidate, baseline]).T, axis=0, return_counts=True
    )
    weights = rng.multinomial(n_examples, counts / n_examples, size=n_boot)
    accuracy = weights @ patterns.astype(float) / n_examples  # (draws, seeds of both)
    cand_acc, base_acc = accuracy[:, :n_cand], accuracy[:, n_cand:]
    pick_cand = rng.integers(n_cand, size=(n_boot, n_cand))
    pick_base = rng.integers(n_base, size=(n_boot, n_base))
    deltas = np.take_along_axis(cand_acc, pick_cand, axis=1).mean(axis=1) - np.take_along_axis(
        base_acc, pick_base, axis=1
    ).mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(deltas, [tail, 1.0 - tail])
    return observed, float(low), float(high)


def mcnemar_exact(candidate_correct: np.ndarray, baseline_correct: np.ndarray) -> float:
    """Exact two-sided McNemar p-value for one candidate and the baseline on the same examples:
    a binomial test of the discordant pairs (candidate right and baseline wrong, b; the reverse,
    c) against p = 1/2. 1.0 when there are no discordant pairs.

    >>> cand = np.array([True] + [False] * 9 + [True] * 5)
    >>> base = np.array([False] + [True] * 9 + [True] * 5)
    >>> mcnemar_exact(cand, base)  # b = 1, c = 9: 2 * P(X <= 1 | n=10, p=1/2)
    0.021484375
    """
    candidate = np.asarray(candidate_correct, dtype=bool)
    baseline = np.asarray(baseline_correct, dtype=bool)
    if candidate.ndim != 1 or candidate.shape != baseline.shape:
        raise ValueError(
            f"mcnemar_exact needs two 1-D arrays over the same examples, got shapes "
            f"{candidate.shape} and {baseline.shape}; pass one seed's correctness per model"
        )
    b = int(np.sum(candidate & ~baseline))
    c = int(np.sum(~candidate & baseline))
    if b + c == 0:
        return 1.0
    return float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


# --------------------------------------------------------------------------------------------
# Payback


def payback_predictions(
    train_emissions_kg: float, emissions_kg_per_1k: float, baseline_emissions_kg_per_1k: float
) -> float:
    """Predictions until a compressed model's training emissions are paid back by what it
    saves per prediction against the baseline: ``train / ((baseline_per_1k - per_1k) / 1000)``.

    ``inf`` when it saves nothing (or costs more) per prediction; NaN when any input is NaN.
    The baseline itself has nothing to pay back: its callers give it NaN.

    >>> round(payback_predictions(2e-3, 1e-6, 3e-6))  # 2 g to train, saves 2 µg per prediction
    1000000
    >>> payback_predictions(2e-3, 3e-6, 3e-6), payback_predictions(float("nan"), 1e-6, 3e-6)
    (inf, nan)
    """
    train, per_1k, baseline_per_1k = (
        float(train_emissions_kg),
        float(emissions_kg_per_1k),
        float(baseline_emissions_kg_per_1k),
    )
    if math.isnan(train) or math.isnan(per_1k) or math.isnan(baseline_per_1k):
        return math.nan
    saved_per_prediction = (baseline_per_1k - per_1k) / 1000.0
    if saved_per_prediction <= 0.0:
        return math.inf
    return train / saved_per_prediction


def _finished(table: pd.DataFrame) -> pd.DataFrame:
    """Rows whose status is TERMINATED, or missing (a table without statuses, or a row of a
    per-configuration table, holds finished rows only: the same rule as analysis.front)."""
    if STATUS not in table.columns:
        return table
    status = table[STATUS]
    return table[(status.isna() | (status.astype(str) == FINISHED)).to_numpy()]


def _numeric(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table.columns:
        return pd.Series(math.nan, index=table.index, dtype=float)
    return pd.to_numeric(table[column], errors="coerce").astype(float)


def _is_baseline(table: pd.DataFrame) -> pd.Series:
    # Positional: a concatenated table (a search and its confirmation) may repeat index labels.
    positions = baseline_rows(table.reset_index(drop=True)).index.to_numpy()
    mask = np.zeros(len(table), dtype=bool)
    mask[positions] = True
    return pd.Series(mask, index=table.index)


def payback_column(table: pd.DataFrame) -> pd.Series:
    """:func:`payback_predictions` per row, against the teacher's ``emissions_kg_per_1k``
    measured in the row's own trial (``teacher_emissions_kg_per_1k``, same load as the model's)
    or, for rows without one (older studies), the finished baseline rows' mean; NaN for baseline
    rows and where there is neither.

    >>> t = pd.DataFrame({"kind": ["baseline", "prune", "prune"], "status": ["TERMINATED"] * 3,
    ...                   "train_emissions_kg": [float("nan"), 1e-3, 1e-3],
    ...                   "emissions_kg_per_1k": [3e-6, 2e-6, 2e-6],
    ...                   "teacher_emissions_kg_per_1k": [3e-6, float("nan"), 4e-6]})
    >>> [round(v, 3) for v in payback_column(t)]
    [nan, 1000000.0, 500000.0]
    """
    is_baseline = _is_baseline(table)
    finished_baseline = _finished(table[is_baseline.to_numpy()])
    reference = _numeric(finished_baseline, M.EMISSIONS_KG_PER_1K).mean()
    own = _numeric(table, M.TEACHER_EMISSIONS_KG_PER_1K)
    teacher = own.where(own.notna(), reference)
    train = _numeric(table, M.TRAIN_EMISSIONS_KG)
    per_1k = _numeric(table, M.EMISSIONS_KG_PER_1K)
    values = [
        math.nan if baseline else payback_predictions(t, p, r)
        for baseline, t, p, r in zip(is_baseline, train, per_1k, teacher, strict=True)
    ]
    return pd.Series(values, index=table.index, dtype=float, name=M.PAYBACK_PREDICTIONS)


# --------------------------------------------------------------------------------------------
# The configuration table


def _trial_name(row: Mapping[str, Any], fallback: object) -> str:
    for key in ("trial_id", "name"):
        value = row.get(key)
        if _canonical(value):
            return str(value)
    return str(fallback)


class _Predictions:
    """Reads each trial's test predictions once; a missing or unreadable file is a warning and
    None, never an exception: the study must still write its summary."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        self.missing: list[str] = []  # trials without a file: warn_missing() names them

    def test(self, row: Mapping[str, Any], trial: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(correct, gold) over the test split, or None."""
        path = _canonical(row.get(M.PREDICTIONS_FILE))
        if not path:
            self.missing.append(trial)
            return None
        if path not in self._cache:
            self._cache[path] = self._read(path, trial)
        return self._cache[path]

    @staticmethod
    def _read(path: str, trial: str) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            pred, gold = read_test_predictions(path)
        except ValueError as error:
            warnings.warn(
                f"cannot read the predictions of trial {trial} from {path}: {error}; its "
                "configuration gets no paired difference to the baseline",
                PairingWarning,
                stacklevel=2,
            )
            return None
        return pred == gold, gold

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


def read_test_predictions(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(test_pred, test_gold)`` label ids from a prediction file (a trial's
    ``predictions.npz``, or ``python -m trainables.commands.teacher --predictions``); ``ValueError``
    naming the file and what is wrong with it otherwise."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name]) for name in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"cannot read {path} as an .npz file: {error}") from None
    missing = [name for name in ("test_pred", "test_gold") if name not in arrays]
    if missing:
        raise ValueError(
            f"{path} has no {' or '.join(missing)} array (it has {sorted(arrays)}); "
            "expected test_pred and test_gold"
        )
    pred, gold = arrays["test_pred"], arrays["test_gold"]
    if pred.ndim != 1 or pred.shape != gold.shape:
        raise ValueError(
            f"{path}: test_pred has shape {pred.shape} and test_gold {gold.shape}; "
            "expected two 1-D arrays of the same length"
        )
    return pred, gold


def compare_predictions(
    candidate: str | Path, baseline: str | Path, *, n_boot: int = 2000, rng_seed: int = 0
) -> dict[str, float | int]:
    """Two models' test predictions on the same examples: both accuracies, the paired
    difference (candidate - baseline) with its 95% bootstrap interval over examples, and the
    exact McNemar p-value. ``ValueError`` when the two were not tested on the same labels."""
    cand_pred, cand_gold = read_test_predictions(candidate)
    base_pred, base_gold = read_test_predictions(baseline)
    if not np.array_equal(cand_gold, base_gold):
        raise ValueError(
            f"{candidate} and {baseline} were not tested on the same examples "
            f"({cand_gold.size} vs {base_gold.size} labels, or different labels); compare "
            "predictions on one test split"
        )
    cand, base = cand_pred == cand_gold, base_pred == base_gold
    delta, low, high = paired_bootstrap_delta(cand, base, n_boot=n_boot, rng_seed=rng_seed)
    return {
        "examples": int(cand.size),
        "candidate_accuracy": float(cand.mean()),
        "baseline_accuracy": float(base.mean()),
        "delta_accuracy": delta,
        "delta_accuracy_ci_low": low,
        "delta_accuracy_ci_high": high,
        "candidate_only_right": int(np.sum(cand & ~base)),
        "baseline_only_right": int(np.sum(~cand & base)),
        "mcnemar_p": mcnemar_exact(cand, base),
    }


def _stack(
    rows: pd.DataFrame, predictions: _Predictions, what: str
) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(correct: seeds x examples, gold, first trial) of a group of rows, or None when a row's
    predictions are missing or the rows were tested on different examples."""
    corrects: list[np.ndarray] = []
    gold: np.ndarray | None = None
    first = ""
    for index, row in rows.iterrows():
        trial = _trial_name(row, index)
        read = predictions.test(row.to_dict(), trial)
        if read is None:
            return None
        if gold is None:
            gold, first = read[1], trial
        elif not np.array_equal(gold, read[1]):
            warnings.warn(
                f"trials {first} and {trial} of {what} were tested on different test examples "
                "(test_gold differs); no paired difference for it",
                PairingWarning,
                stacklevel=2,
            )
            return None
        corrects.append(read[0])
    assert gold is not None  # rows is never empty
    return np.stack(corrects), gold, first


def _sd(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if values.notna().sum() > 1 else math.nan


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

    Columns: ``configuration`` (label), ``kind``, ``n_seeds``, ``seeds``, ``<metric>_mean`` and
    ``<metric>_sd`` (ddof=1, NaN for one seed) for :data:`CONFIG_METRICS`; the paired
    difference in test accuracy to the baseline: ``delta_accuracy_mean``,
    ``delta_accuracy_ci_low`` / ``_high`` (95% bootstrap over test examples and seeds, see
    :func:`paired_bootstrap_delta`), ``ci_excludes_zero``, ``mcnemar_p`` (single-seed
    configurations against a baseline whose replicates predict alike; NaN otherwise); then the
    configuration's config columns, ``energy_method`` (distinct values), ``machine_shared``
    (any replicate), ``trial_ids`` and ``configuration_id``.

    The baseline rows (``kind == "baseline"``) are the reference: their own configuration has
    delta 0 by definition and no interval or test (NaN, ``ci_excludes_zero`` False). Every
    other delta is NaN when there is no finished baseline, when a replicate's or the
    baseline's prediction file is missing or unreadable, or when they were tested on
    different examples (the last two with a :class:`PairingWarning` naming the trials).
    ``payback_predictions`` is recomputed per row with :func:`payback_column`.

    >>> t = pd.DataFrame({"status": ["TERMINATED"] * 3, "trial_id": ["a", "b", "c"],
    ...                   "kind": ["prune"] * 3, "target_density": [0.5] * 3,
    ...                   "seed": [1, 2, 3], "accuracy": [0.80, 0.82, 0.84]})
    >>> row = config_table(t).iloc[0]
    >>> row["configuration"], int(row["n_seeds"]), row["seeds"], float(row["accuracy_sd"].round(3))
    ('50% pruning', 3, '1 2 3', 0.02)
    """
    # A fresh index: rows are looked up by label below, and a concatenated table may repeat them.
    finished = _finished(table).reset_index(drop=True)
    columns = config_columns(finished)
    metric_columns = [f"{m}_{s}" for m in CONFIG_METRICS for s in ("mean", "sd")]
    head = [CONFIGURATION, "kind", "n_seeds", "seeds"]
    tail = [M.ENERGY_METHOD, M.MACHINE_SHARED, "trial_ids", CONFIGURATION_ID]
    config_out = [c.removeprefix("config/") for c in columns if c != "kind"]
    if finished.empty:
        return pd.DataFrame(columns=[*head, *metric_columns, *DELTA_COLUMNS, *config_out, *tail])

    finished[M.PAYBACK_PREDICTIONS] = payback_column(finished)
    ids = configuration_ids(finished)
    labels = configuration_labels(finished, ids)
    is_baseline = _is_baseline(finished)
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
        for metric in CONFIG_METRICS:
            values = _numeric(group, metric)
            out[f"{metric}_mean"] = float(values.mean()) if values.notna().any() else math.nan
            out[f"{metric}_sd"] = _sd(values)
        if bool(is_baseline.loc[group.index].all()):  # the reference itself
            out.update(_reference_delta())
        else:
            out.update(_delta(group, reference, predictions, n_boot=n_boot, rng_seed=rng_seed))
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
    return pd.DataFrame(rows, columns=[*head, *metric_columns, *DELTA_COLUMNS, *config_out, *tail])


def _reference_delta() -> dict[str, Any]:
    return {
        "delta_accuracy_mean": 0.0,
        "delta_accuracy_ci_low": math.nan,
        "delta_accuracy_ci_high": math.nan,
        "mcnemar_p": math.nan,
        "ci_excludes_zero": False,
    }


def _no_delta() -> dict[str, Any]:
    return {**_reference_delta(), "delta_accuracy_mean": math.nan}


def _baseline_reference(
    baseline: pd.DataFrame, predictions: _Predictions
) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The baseline's (correct: replicates x examples, gold, first trial), or None."""
    if baseline.empty:
        return None
    return _stack(baseline, predictions, "the baseline")


def _delta(
    group: pd.DataFrame,
    reference: tuple[np.ndarray, np.ndarray, str] | None,
    predictions: _Predictions,
    *,
    n_boot: int,
    rng_seed: int,
) -> dict[str, Any]:
    if reference is None:
        return _no_delta()
    stacked = _stack(group, predictions, "one configuration")
    if stacked is None:
        return _no_delta()
    correct, gold, trial = stacked
    base_correct, base_gold, base_trial = reference
    if not np.array_equal(gold, base_gold):
        warnings.warn(
            f"trial {trial} and the baseline trial {base_trial} were tested on different test "
            f"examples ({gold.size} vs {base_gold.size} labels, or different labels); no paired "
            "difference for its configuration",
            PairingWarning,
            stacklevel=2,
        )
        return _no_delta()
    mean, low, high = paired_bootstrap_delta(
        correct, base_correct, n_boot=n_boot, rng_seed=rng_seed
    )
    distinct_baselines = np.unique(base_correct, axis=0)
    single = correct.shape[0] == 1 and distinct_baselines.shape[0] == 1
    return {
        "delta_accuracy_mean": mean,
        "delta_accuracy_ci_low": low,
        "delta_accuracy_ci_high": high,
        "mcnemar_p": mcnemar_exact(correct[0], distinct_baselines[0]) if single else math.nan,
        "ci_excludes_zero": bool(low > 0.0 or high < 0.0),
    }


# --------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis.statistics CANDIDATE.npz BASELINE.npz``: one JSON line comparing two
    models' test predictions (:func:`compare_predictions`); a bad file exits 2 with one line."""
    import argparse
    import json

    parser = argparse.ArgumentParser(
        prog="python -m analysis.statistics",
        description="Paired comparison of two models' test predictions (npz files with test_pred "
        "and test_gold: a trial's predictions.npz or the teacher command's --predictions)",
    )
    parser.add_argument("candidate", help="predictions of the model to compare")
    parser.add_argument("baseline", help="predictions of the reference model")
    parser.add_argument("--n-boot", type=int, default=2000, help="bootstrap draws")
    args = parser.parse_args(argv)
    try:
        result = compare_predictions(args.candidate, args.baseline, n_boot=args.n_boot)
    except ValueError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
