"""A configuration's replicates summarised: means and spreads, ratios as ratios, and a
confirmation's seeds apart from the search run that selected them.

Used by :func:`analysis.config_table`. Every final metric has an arithmetic ``<metric>_mean``
and ``<metric>_sd`` over the seeds, except the ratios (:data:`RATIO_METRICS`): their
``<metric>_mean`` is the geometric mean and their spread the geometric sd ``<metric>_gsd``. The
payback is the mean training emissions over the mean saving per prediction. In a confirmation's
table the search rows are shown beside the confirmation's (``search_<metric>``), never pooled.

>>> speedups = pd.DataFrame({"speedup": [1.0, 4.0], "accuracy": [0.8, 0.9]})
>>> summary = metric_summary(speedups, pd.Series([float("nan")] * 2))
>>> summary["speedup_mean"], round(summary["accuracy_mean"], 3)
(2.0, 0.85)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from analysis.rows import (
    GSD_SUFFIX,
    PHASE,
    PHASE_CONFIRM,
    PHASE_SEARCH,
    SD_SUFFIX,
    numeric_column,
)
from analysis.statistics import configuration_payback
from trainables import metrics as M

# Ratios: their <metric>_mean is the geometric mean over the seeds (speedups 1 and 4 average to
# 2, not 2.5; a doubling and a halving cancel, as they should for a ratio) and their spread the
# geometric sd <metric>_gsd = exp(sd of the logs), a factor >= 1 (mean ×/÷ gsd spans one sd on
# the log scale). Every other final metric has an arithmetic <metric>_mean and <metric>_sd.
RATIO_METRICS: tuple[str, ...] = (
    M.SPEEDUP,
    M.SPEEDUP_FORWARD,
    M.SPEEDUP_VS_FP32,
    M.SPEEDUP_IDEAL,
    M.ENERGY_RATIO,
)
# What a confirmation's table shows of the search run(s) that selected a configuration, as
# search_<metric> (their mean; one run as a rule), beside the confirmation's own numbers, and
# their trial ids.
SEARCH_PREFIX = "search_"
SEARCH_TRIAL_IDS = "search_trial_ids"
SEARCH_METRICS: tuple[str, ...] = (M.VAL_ACCURACY, M.ACCURACY, M.SPEEDUP, M.EMISSIONS_KG)


def sd(values: pd.Series) -> float:
    """The sample standard deviation (ddof=1) of the values given; NaN for fewer than two."""
    return float(values.std(ddof=1)) if values.notna().sum() > 1 else math.nan


def geometric_mean_and_sd(values: pd.Series) -> tuple[float, float]:
    """The geometric mean of positive ratios and their geometric sd (``exp`` of the sd of the
    logs, ddof=1; NaN for one value). Missing and non-positive values (not ratios) are left out;
    NaN, NaN when none is left.

    >>> geometric_mean_and_sd(pd.Series([1.0, 4.0]))  # not 2.5
    (2.0, 2.665144142690225)
    """
    ratios = pd.to_numeric(values, errors="coerce").astype(float)
    logs = np.log(ratios[ratios > 0])
    if logs.empty:
        return math.nan, math.nan
    return float(np.exp(logs.mean())), float(np.exp(sd(logs)))


def metric_summary(group: pd.DataFrame, savings: pd.Series) -> dict[str, float]:
    """One configuration's replicates (``group``) as ``<metric>_mean`` and ``<metric>_sd``, or
    for :data:`RATIO_METRICS` ``<metric>_mean`` (geometric) and ``<metric>_gsd``; and
    ``payback_predictions_mean``: the mean training emissions over the mean emissions saved per
    prediction (``savings``, :func:`analysis.statistics.prediction_savings` of the rows)."""
    out: dict[str, float] = {}
    for metric in M.SUMMARISED_METRICS:
        values = numeric_column(group, metric)
        if metric in RATIO_METRICS:
            mean, spread = geometric_mean_and_sd(values)
            out[f"{metric}_mean"], out[metric + GSD_SUFFIX] = mean, spread
        else:
            out[f"{metric}_mean"] = float(values.mean()) if values.notna().any() else math.nan
            out[metric + SD_SUFFIX] = sd(values)
    train = numeric_column(group, M.TRAIN_EMISSIONS_KG)
    out[f"{M.PAYBACK_PREDICTIONS}_mean"] = configuration_payback(train, savings)
    return out


def summary_columns() -> list[str]:
    """The columns :func:`metric_summary` fills, in table order."""
    columns: list[str] = []
    for metric in M.SUMMARISED_METRICS:
        columns += [
            f"{metric}_mean",
            metric + (GSD_SUFFIX if metric in RATIO_METRICS else SD_SUFFIX),
        ]
    return [*columns, f"{M.PAYBACK_PREDICTIONS}_mean"]


def split_confirmation(
    finished: pd.DataFrame, ids: pd.Series
) -> tuple[pd.DataFrame, pd.Series, dict[str, pd.DataFrame]]:
    """A confirmation's table (a ``phase`` column with confirm rows): the confirm rows and
    their ids (fresh index), and the search rows of each confirmed configuration by its id.
    Search-only configurations, never confirmed, are left out. Any other table: as it is."""
    if PHASE not in finished.columns:
        return finished, ids, {}
    phase = finished[PHASE].astype(str).str.strip().str.lower()
    confirm = (phase == PHASE_CONFIRM).to_numpy()
    if not confirm.any():
        return finished, ids, {}
    confirmed = set(ids[confirm])
    search = finished[(phase == PHASE_SEARCH).to_numpy() & ids.isin(confirmed).to_numpy()]
    selecting = {
        str(config_id): rows for config_id, rows in search.groupby(ids[search.index].to_numpy())
    }
    rows = finished[confirm].reset_index(drop=True)
    return rows, ids[confirm].reset_index(drop=True), selecting


def search_columns(search: pd.DataFrame | None) -> dict[str, Any]:
    """The selecting search run(s) of a confirmed configuration: ``search_<metric>`` of
    :data:`SEARCH_METRICS` (their mean, geometric for a ratio) and ``search_trial_ids`` (left
    "" here: the caller names the trials); NaN when the search had none (a search without a
    baseline trial, for the confirmation's baseline)."""
    out: dict[str, Any] = {}
    for metric in SEARCH_METRICS:
        if search is None or search.empty:
            value = math.nan
        elif metric in RATIO_METRICS:
            value = geometric_mean_and_sd(numeric_column(search, metric))[0]
        else:
            value = numeric_column(search, metric).mean()
        out[SEARCH_PREFIX + metric] = float(value)
    out[SEARCH_TRIAL_IDS] = ""
    return out
