"""Results relative to their own baseline, so a CPU-scale study and the paper compare honestly.

Absolute numbers do not transfer between a tiny CPU study and the paper's GPU runs on the full
model; changes against each one's own baseline do: accuracy change in percentage points, speedup
over the baseline, emissions as a ratio of the baseline's. Our results store accuracy as a
fraction (0.79); the paper's Table I prints percent (92.43). Both become points here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.rows import GSD_SUFFIX, SD_SUFFIX, baseline_rows
from search_spaces.paper import PAPER_ACCURACY, PAPER_BASELINE, PAPER_TABLE
from trainables.metrics import ACCURACY, EMISSIONS_KG, NUM_PARAMETERS, SPEEDUP, TARGET_DENSITY

ACCURACY_CHANGE = "accuracy_change_points"
SPEEDUP_VS_BASELINE = "speedup_vs_baseline"
EMISSIONS_RATIO = "emissions_ratio"
# The study writes the paper's numbers beside its own (`paper_accuracy`, ...) only when its data
# is the paper's (MahaNews): the column's presence says that the comparison is like with like.


def compares_with_paper(results: pd.DataFrame) -> bool:
    """Whether the paper's Table I belongs beside these results: they carry ``paper_accuracy``.

    >>> compares_with_paper(pd.DataFrame({"accuracy": [0.8], "paper_accuracy": [0.9243]}))
    True
    """
    return PAPER_ACCURACY in results.columns


def accuracy_percent(accuracy: pd.Series) -> pd.Series:
    """Accuracy fractions (our results' unit) as percent; refuses values that are already percent.

    >>> accuracy_percent(pd.Series([0.5, 0.925])).tolist()
    [50.0, 92.5]
    """
    values = pd.to_numeric(accuracy, errors="coerce").astype(float)
    finite = values[np.isfinite(values)]
    if len(finite) and (finite.max() > 1.0 or finite.min() < 0.0):
        raise ValueError(
            f"column {accuracy.name or ACCURACY!r} holds values in "
            f"[{finite.min():g}, {finite.max():g}]; results store accuracy as a fraction "
            "in [0, 1] (0.79, not 79): divide percent values by 100"
        )
    return values * 100.0


def _baseline_value(baseline: pd.DataFrame, column: str) -> float:
    if column not in baseline.columns:
        return float("nan")
    values = pd.to_numeric(baseline[column], errors="coerce").astype(float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else float("nan")


def relative_to_baseline(results: pd.DataFrame) -> pd.DataFrame:
    """Add accuracy change (points), speedup over the baseline and emissions ratio to each row.

    The baseline is the row with ``kind == "baseline"`` (mean of them if several). A column the
    table lacks gives NaN in its relative column. A per-configuration table's spreads over seeds
    (``accuracy_sd``, ``speedup_sd``) get relative ones too, in the same units
    (``accuracy_change_points_sd`` in points, ``speedup_vs_baseline_gsd`` for a geometric sd),
    for error bars.

    >>> t = pd.DataFrame({"kind": ["baseline", "prune"], "accuracy": [0.80, 0.78],
    ...                   "speedup": [1.0, 2.5], "emissions_kg": [2e-6, 1e-6]})
    >>> relative = relative_to_baseline(t)
    >>> relative[["accuracy_change_points", "emissions_ratio"]].round(2).values.tolist()
    [[0.0, 1.0], [-2.0, 0.5]]
    """
    baseline = baseline_rows(results)
    if baseline.empty:
        raise ValueError(
            "no baseline row (kind == 'baseline' or name == 'baseline') in the results; "
            "a relative view needs the study's own baseline"
        )
    out = results.copy()
    nan = pd.Series(np.nan, index=results.index)
    if ACCURACY in results.columns:
        base = float(accuracy_percent(pd.Series([_baseline_value(baseline, ACCURACY)])).iloc[0])
        out[ACCURACY_CHANGE] = accuracy_percent(results[ACCURACY]) - base
    else:
        out[ACCURACY_CHANGE] = nan
    if ACCURACY + SD_SUFFIX in results.columns:
        sd = pd.to_numeric(results[ACCURACY + SD_SUFFIX], errors="coerce").astype(float)
        out[ACCURACY_CHANGE + SD_SUFFIX] = sd * 100.0
    for column, relative in ((SPEEDUP, SPEEDUP_VS_BASELINE), (EMISSIONS_KG, EMISSIONS_RATIO)):
        if column in results.columns:
            values = pd.to_numeric(results[column], errors="coerce").astype(float)
            out[relative] = values / _baseline_value(baseline, column)
        else:
            out[relative] = nan
        if column + SD_SUFFIX in results.columns:
            sd = pd.to_numeric(results[column + SD_SUFFIX], errors="coerce").astype(float)
            out[relative + SD_SUFFIX] = sd / _baseline_value(baseline, column)
        if column + GSD_SUFFIX in results.columns:  # a factor: the same over any fixed baseline
            out[relative + GSD_SUFFIX] = results[column + GSD_SUFFIX]
    return out


def paper_relative() -> pd.DataFrame:
    """The paper's Table I relative to its own 92.43 baseline (accuracy stays in percent here).

    The paper reports no emissions, so ``emissions_ratio`` is NaN.

    >>> paper_relative()["accuracy_change_points"].tolist()[:2]
    [0.0, -0.14]
    """
    rows = [
        {
            "name": row.name,
            "kind": "baseline" if row.is_baseline else "prune",
            TARGET_DENSITY: row.target_density,
            "distil": row.distil,
            NUM_PARAMETERS: row.num_parameters,
            SPEEDUP: row.speedup,
            "accuracy_percent": row.accuracy,
            ACCURACY_CHANGE: round(row.accuracy - PAPER_BASELINE.accuracy, 6),
            SPEEDUP_VS_BASELINE: row.speedup / PAPER_BASELINE.speedup,
            EMISSIONS_RATIO: np.nan,
        }
        for row in PAPER_TABLE
    ]
    return pd.DataFrame(rows)
