"""Paired differences and payback: a bootstrap interval, exact McNemar, Holm, emissions paid back.

A compressed model and the baseline are compared on the same test examples, from the trials'
prediction files (:mod:`analysis.predictions`): a paired bootstrap interval over distinct test
texts and seeds (:func:`paired_bootstrap_delta`; :func:`paired_bootstrap_test` adds a p-value
from the same draws) and, for a single seed, an exact McNemar test counting each text once
(:func:`mcnemar_exact`); :func:`compare_predictions` does both for two files. The unit of
evidence is a distinct (whitespace-collapsed) test text: a model predicts every copy of a text
alike, so copies are one piece of evidence (SHC's test file has 2,761 rows over 2,402 texts).
:func:`holm_adjust` controls a family of such tests. :func:`payback_predictions` says how many
predictions a compressed model needs to make before its training emissions are paid back (over
seeds: :func:`configuration_payback`, a ratio of means). The per-configuration table built on
these is :func:`analysis.config_table`.

Pure functions; no Ray.

>>> import numpy as np
>>> candidate = np.array([[True, True, True, False]])  # one seed, four test examples
>>> baseline = np.array([True, False, True, False])
>>> mcnemar_exact(candidate[0], baseline)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from analysis.predictions import ROWS, TEXTS, read_predictions
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


def _group_codes(groups: np.ndarray, n_examples: int) -> np.ndarray:
    """``groups`` as codes 0..G-1 (one per distinct id), checked against the examples."""
    array = np.asarray(groups)
    if array.shape != (n_examples,) or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"groups must be one integer id per test example ({n_examples}), got shape "
            f"{array.shape} of {array.dtype}; pass test_group from the prediction file"
        )
    return np.unique(array, return_inverse=True)[1].reshape(-1)


class PairedBootstrap(NamedTuple):
    """What :func:`paired_bootstrap_test` gives: the observed difference, its interval and a
    two-sided bootstrap p-value from the same draws."""

    delta: float
    low: float
    high: float
    p_value: float


def paired_bootstrap_test(
    candidate_correct: np.ndarray,
    baseline_correct: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    n_boot: int = 2000,
    rng_seed: int = 0,
    level: float = 0.95,
) -> PairedBootstrap:
    """:func:`paired_bootstrap_delta` and, from the same draws, a two-sided p-value for "no
    difference": ``2 * min(share of draws <= 0, share >= 0)``, at least ``1 / n_boot``, at most 1.

    >>> rng = np.random.default_rng(1)
    >>> base = rng.random(500) < 0.8
    >>> paired_bootstrap_test(base, base).p_value  # every draw is 0: nothing to reject
    1.0
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
    both = np.concatenate([candidate, baseline]).T  # (examples, seeds of both)

    rng = np.random.default_rng(rng_seed)
    if groups is None:
        # An example enters a statistic only through its pattern of correctness (one bit per
        # candidate and baseline seed), so resampling N examples with replacement is drawing
        # pattern counts from a multinomial: the same bootstrap, without a (draws x N) array.
        patterns, counts = np.unique(both, axis=0, return_counts=True)
        weights = rng.multinomial(n_examples, counts / n_examples, size=n_boot)
        accuracy = weights @ patterns.astype(float) / n_examples  # (draws, seeds of both)
    else:
        # The same trick one level up: a text enters through its number of rows and how many
        # of them each seed gets right, so drawing G texts with replacement (all copies of a
        # text together, the same texts for candidate and baseline) is a multinomial over
        # those patterns; accuracy is then right rows over drawn rows.
        codes = _group_codes(groups, n_examples)
        n_groups = int(codes.max()) + 1
        right = np.zeros((n_groups, both.shape[1]), dtype=np.int64)
        np.add.at(right, codes, both.astype(np.int64))
        sizes = np.bincount(codes, minlength=n_groups)
        patterns, counts = np.unique(np.column_stack([sizes, right]), axis=0, return_counts=True)
        weights = rng.multinomial(n_groups, counts / n_groups, size=n_boot)
        rows_drawn = weights @ patterns[:, :1].astype(float)  # (draws, 1)
        accuracy = weights @ patterns[:, 1:].astype(float) / rows_drawn
    cand_acc, base_acc = accuracy[:, :n_cand], accuracy[:, n_cand:]
    pick_cand = rng.integers(n_cand, size=(n_boot, n_cand))
    pick_base = rng.integers(n_base, size=(n_boot, n_base))
    deltas = np.take_along_axis(cand_acc, pick_cand, axis=1).mean(axis=1) - np.take_along_axis(
        base_acc, pick_base, axis=1
    ).mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(deltas, [tail, 1.0 - tail])
    share = min(float(np.mean(deltas <= 0.0)), float(np.mean(deltas >= 0.0)))
    p_value = min(1.0, max(2.0 * share, 1.0 / n_boot))
    return PairedBootstrap(observed, float(low), float(high), p_value)


def paired_bootstrap_delta(
    candidate_correct: np.ndarray,
    baseline_correct: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    n_boot: int = 2000,
    rng_seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Accuracy difference candidate - baseline on the same test examples, with a percentile
    bootstrap interval over test texts and seeds: ``(observed difference, low, high)``.

    Each bootstrap draw resamples the test examples (the same ones for candidate and
    baseline: the pairing) and the candidate's seeds (and the baseline's, when it has several),
    so the interval covers both test-set and training-seed variation. With ``groups`` (one id
    per example, equal for copies of one text: a prediction file's ``test_group``) a draw
    resamples distinct texts, all copies of a text together: copies are one piece of evidence,
    and counting them apart makes the interval too narrow. Without, every row is its own text.

    ``candidate_correct``: (seeds x examples) or (examples,) booleans; ``baseline_correct`` the
    same for the baseline, on the same examples in the same order. The observed difference is
    over all rows, as the accuracies are.

    >>> rng = np.random.default_rng(1)
    >>> gold_hit = rng.random(2000) < 0.8
    >>> better = gold_hit | (rng.random((3, 2000)) < 0.25)  # fixes ~5 points of the errors
    >>> mean, low, high = paired_bootstrap_delta(better, gold_hit)
    >>> 0 < low < mean < high
    True
    """
    result = paired_bootstrap_test(
        candidate_correct,
        baseline_correct,
        groups=groups,
        n_boot=n_boot,
        rng_seed=rng_seed,
        level=level,
    )
    return result.delta, result.low, result.high


def text_rows(groups: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, int]:
    """``(rows, conflicting)``: the first row of each distinct text whose copies all carry one
    label (in order), and the number of texts whose copies carry different labels. Those are
    left out of counts per text: no prediction is right for all of their copies.

    >>> rows, conflicting = text_rows(np.array([0, 1, 0, 2, 2]), np.array([5, 6, 5, 7, 8]))
    >>> rows.tolist(), conflicting
    ([0, 1], 1)
    """
    gold = np.asarray(gold)
    codes = _group_codes(groups, gold.size)
    first = np.unique(codes, return_index=True)[1]
    labels = pd.Series(gold).groupby(codes).nunique().to_numpy()
    one_label = labels[codes[first]] == 1
    return np.sort(first[one_label]), int(np.sum(~one_label))


def mcnemar_exact(
    candidate_correct: np.ndarray,
    baseline_correct: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    gold: np.ndarray | None = None,
) -> float:
    """Exact two-sided McNemar p-value for one candidate and the baseline on the same examples:
    a binomial test of the discordant pairs (candidate right and baseline wrong, b; the reverse,
    c) against p = 1/2. 1.0 when there are no discordant pairs.

    With ``groups`` and ``gold`` a text counts once: each distinct text by its first row (a
    model predicts a text's copies alike), texts with conflicting labels left out
    (:func:`text_rows`). Without, every row counts.

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
    if (groups is None) != (gold is None):
        raise ValueError(
            "mcnemar_exact counts texts once only with both groups and gold (to find texts "
            "with conflicting labels); pass both, or neither to count rows"
        )
    if groups is not None:
        rows, _ = text_rows(groups, np.asarray(gold))
        candidate, baseline = candidate[rows], baseline[rows]
    b = int(np.sum(candidate & ~baseline))
    c = int(np.sum(~candidate & baseline))
    if b + c == 0:
        return 1.0
    return float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)


def holm_adjust(p_values: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (controls the chance of any false
    "significant" at the level). The family is every value that is not NaN; NaN stays NaN.
    Sorted ascending, the i-th of m (from 1) becomes ``max over j <= i of min(1, (m - j + 1)
    p_(j))``.

    >>> holm_adjust([0.01, 0.04, float("nan"), 0.03]).round(4).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    values = np.asarray(p_values, dtype=float)
    out = np.full(values.shape, math.nan)
    present = np.flatnonzero(~np.isnan(values))
    if present.size == 0:
        return out
    if np.any((values[present] < 0.0) | (values[present] > 1.0)):
        raise ValueError(f"p-values must lie in [0, 1], got {values[present].tolist()}")
    m = present.size
    order = present[np.argsort(values[present], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * values[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def holm_column(configs: pd.DataFrame) -> pd.Series:
    """``p_holm``: each configuration's ``p_value`` Holm-adjusted over the family of every
    configuration of ``configs`` that has one (the non-baseline configurations with a paired
    difference); NaN for the rest.

    >>> holm_column(pd.DataFrame({"p_value": [float("nan"), 0.01, 0.04, 0.03]})).tolist()
    [nan, 0.03, 0.06, 0.06]
    """
    values = pd.to_numeric(configs["p_value"], errors="coerce")
    return pd.Series(holm_adjust(values.to_numpy()), index=configs.index, name="p_holm")


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
# Two prediction files


def compare_predictions(
    candidate: str | Path, baseline: str | Path, *, n_boot: int = 2000, rng_seed: int = 0
) -> dict[str, Any]:
    """Two models' test predictions on the same examples: both accuracies (over rows), the
    paired difference (candidate - baseline) with its 95% bootstrap interval over distinct test
    texts, and the exact McNemar p-value counting each text once (texts with conflicting labels
    left out, ``conflicting_texts``). ``unit`` says what was resampled and counted: ``distinct
    texts`` when both files carry ``test_group``, else ``rows`` (older files: copies of a text
    count apart). ``ValueError`` when the two were not tested on the same labels and texts."""
    cand_file, base_file = read_predictions(candidate), read_predictions(baseline)
    if not np.array_equal(cand_file.gold, base_file.gold):
        raise ValueError(
            f"{candidate} and {baseline} were not tested on the same examples "
            f"({cand_file.gold.size} vs {base_file.gold.size} labels, or different labels); "
            "compare predictions on one test split"
        )
    groups = cand_file.group if base_file.group is not None else None
    if groups is not None and not np.array_equal(groups, base_file.group):
        raise ValueError(
            f"{candidate} and {baseline} group their test rows into texts differently "
            "(test_group differs): they were not tested on the same texts; compare "
            "predictions on one test split"
        )
    gold = cand_file.gold
    cand, base = cand_file.pred == gold, base_file.pred == gold
    result = paired_bootstrap_test(cand, base, groups=groups, n_boot=n_boot, rng_seed=rng_seed)
    if groups is None:
        unit, texts, conflicting, rows = ROWS, gold.size, 0, np.arange(gold.size)
    else:
        rows, conflicting = text_rows(groups, gold)
        unit, texts = TEXTS, int(np.unique(groups).size)
    return {
        "unit": unit,
        "texts": texts,
        "rows": int(gold.size),
        "conflicting_texts": conflicting,
        "examples": int(gold.size),
        "candidate_accuracy": float(cand.mean()),
        "baseline_accuracy": float(base.mean()),
        "delta_accuracy": result.delta,
        "delta_accuracy_ci_low": result.low,
        "delta_accuracy_ci_high": result.high,
        "candidate_only_right": int(np.sum(cand[rows] & ~base[rows])),
        "baseline_only_right": int(np.sum(~cand[rows] & base[rows])),
        "mcnemar_p": mcnemar_exact(cand[rows], base[rows]),
    }
