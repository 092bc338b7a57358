"""Paired differences and payback: a bootstrap interval, an exact McNemar test, emissions paid back.

A compressed model and the baseline are compared on the same test examples, from the trials'
prediction files (:func:`read_test_predictions`): a paired bootstrap interval over examples and
seeds (:func:`paired_bootstrap_delta`) and, for a single seed, an exact McNemar test
(:func:`mcnemar_exact`); :func:`compare_predictions` does both for two files.
:func:`payback_predictions` says how many predictions a compressed model needs to make before its
training emissions are paid back (over seeds: :func:`configuration_payback`, a ratio of means).
The per-configuration table built on these is
:func:`analysis.config_table`.

Pure functions; no Ray.

>>> import numpy as np
>>> candidate = np.array([[True, True, True, False]])  # one seed, four test examples
>>> baseline = np.array([True, False, True, False])
>>> mcnemar_exact(candidate[0], baseline)
1.0
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from analysis.rows import baseline_mask, finished_rows, numeric_column
from trainables import metrics as M

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
    saved_per_prediction = (float(baseline_emissions_kg_per_1k) - float(emissions_kg_per_1k)) / 1e3
    return _payback(float(train_emissions_kg), saved_per_prediction)


def _payback(train_kg: float, saved_kg_per_prediction: float) -> float:
    if math.isnan(train_kg) or math.isnan(saved_kg_per_prediction):
        return math.nan
    if saved_kg_per_prediction <= 0.0:
        return math.inf
    return train_kg / saved_kg_per_prediction


def prediction_savings(table: pd.DataFrame) -> pd.Series:
    """Per row, the emissions (kg) saved per prediction against the teacher: the teacher's
    ``emissions_kg_per_1k`` measured in the row's own trial (``teacher_emissions_kg_per_1k``,
    same load as the model's) or, for rows without one (older studies), the finished baseline
    rows' mean, minus the row's own, over 1,000. NaN for baseline rows and where there is
    neither; negative when the model costs more per prediction.

    >>> t = pd.DataFrame({"kind": ["baseline", "prune"], "emissions_kg_per_1k": [3e-6, 2e-6],
    ...                   "teacher_emissions_kg_per_1k": [3e-6, 4e-6]})
    >>> (prediction_savings(t) * 1e9).round(6).tolist()  # µg saved per prediction
    [nan, 2.0]
    """
    is_baseline = baseline_mask(table)
    finished_baseline = finished_rows(table[is_baseline.to_numpy()])
    reference = numeric_column(finished_baseline, M.EMISSIONS_KG_PER_1K).mean()
    own = numeric_column(table, M.TEACHER_EMISSIONS_KG_PER_1K)
    teacher = own.where(own.notna(), reference)
    saved = (teacher - numeric_column(table, M.EMISSIONS_KG_PER_1K)) / 1000.0
    return saved.where(~is_baseline.to_numpy(), math.nan).rename("saved_kg_per_prediction")


def payback_column(table: pd.DataFrame) -> pd.Series:
    """:func:`payback_predictions` per row, against the teacher of :func:`prediction_savings`
    (the one measured in the row's own trial, else the finished baseline rows' mean); NaN for
    baseline rows and where there is neither.

    >>> t = pd.DataFrame({"kind": ["baseline", "prune", "prune"], "status": ["TERMINATED"] * 3,
    ...                   "train_emissions_kg": [float("nan"), 1e-3, 1e-3],
    ...                   "emissions_kg_per_1k": [3e-6, 2e-6, 2e-6],
    ...                   "teacher_emissions_kg_per_1k": [3e-6, float("nan"), 4e-6]})
    >>> [round(v, 3) for v in payback_column(t)]
    [nan, 1000000.0, 500000.0]
    """
    train = numeric_column(table, M.TRAIN_EMISSIONS_KG)
    saved = prediction_savings(table)
    values = [_payback(t, s) for t, s in zip(train, saved, strict=True)]
    return pd.Series(values, index=table.index, dtype=float, name=M.PAYBACK_PREDICTIONS)


def configuration_payback(train_emissions_kg: pd.Series, savings: pd.Series) -> float:
    """The payback of a configuration over its seeds: the mean training emissions over the mean
    emissions saved per prediction (:func:`prediction_savings`), over the seeds that have both.
    ``inf`` ("never") only when the mean saving is <= 0: one seed that saves nothing does not
    make the configuration never pay back. NaN when no seed has both.

    >>> train = pd.Series([1e-3, 1e-3])
    >>> configuration_payback(train, pd.Series([2e-9, 0.0]))  # 1e-3 / 1e-9, not never
    1000000.0
    >>> configuration_payback(train, pd.Series([1e-9, -2e-9]))
    inf
    """
    train = pd.to_numeric(train_emissions_kg, errors="coerce").astype(float).to_numpy()
    saved = pd.to_numeric(savings, errors="coerce").astype(float).to_numpy()
    both = ~(np.isnan(train) | np.isnan(saved))
    if not both.any():
        return math.nan
    return _payback(float(train[both].mean()), float(saved[both].mean()))


# --------------------------------------------------------------------------------------------
# Prediction files


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
