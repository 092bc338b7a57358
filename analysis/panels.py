"""What a panel of the study's figures is (:class:`View`), and the look both renderers share.

A view is plain data, computed once by :mod:`analysis.views` and drawn by
:mod:`analysis.render_png` and :mod:`analysis.render_html`: axis titles, the words of a title,
colours and the hover columns are defined here once, so the two files cannot disagree.

>>> axis_label("accuracy"), "accuracy" in PERCENT
('test accuracy (%)', True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.relative import ACCURACY_CHANGE, EMISSIONS_RATIO, SPEEDUP_VS_BASELINE
from analysis.replicates import RATIO_METRICS
from analysis.rows import CONFIGURATION, N_SEEDS
from trainables.metrics import (
    ACCURACY,
    EMISSIONS_KG,
    MACRO_F1,
    SPEEDUP,
    TARGET_DENSITY,
    VAL_ACCURACY,
    VAL_MACRO_F1,
)

# What each column means on an axis: (words, unit). Every quality axis says which split its
# numbers come from; speedups say what they are over.
AXIS_WORDS: dict[str, tuple[str, str]] = {
    ACCURACY: ("test accuracy", "%"),
    VAL_ACCURACY: ("validation accuracy", "%"),
    MACRO_F1: ("test macro-F1", ""),
    VAL_MACRO_F1: ("validation macro-F1", ""),
    SPEEDUP: ("speedup over the teacher", "×"),
    EMISSIONS_KG: ("emissions per test pass", "kg CO₂eq"),
    ACCURACY_CHANGE: ("test accuracy change vs own baseline", "points"),
    SPEEDUP_VS_BASELINE: ("speedup over own baseline", "×"),
    EMISSIONS_RATIO: ("emissions / own baseline's", ""),
}
# Columns that are CodeCarbon readings: "estimated" when it had no power counter to read.
ENERGY_COLUMNS = (EMISSIONS_KG, EMISSIONS_RATIO)


def axis_label(
    column: str, *, log: bool = False, estimated: bool = False, mean: bool = False
) -> str:
    """What ``column`` means on an axis or a colour bar, with its unit; ``log`` says the axis
    is logarithmic, ``estimated`` marks an energy column estimated from time, ``mean`` that
    points are means over seeds. Other columns keep their own name.

    >>> axis_label("speedup", log=True)
    'speedup over the teacher (×, log)'
    >>> axis_label("emissions_kg", estimated=True)
    'emissions per test pass, estimated (kg CO₂eq)'
    >>> axis_label("speedup", mean=True)
    'speedup over the teacher (×), geometric mean ×/÷ sd'
    """
    words, unit = AXIS_WORDS.get(column, (column, ""))
    if estimated and column in ENERGY_COLUMNS:
        words += ", estimated"
    units = ", ".join(part for part in (unit, "log" if log else "") if part)
    label = f"{words} ({units})" if units else words
    if not mean:
        return label
    ratio = column in RATIO_METRICS or column == SPEEDUP_VS_BASELINE
    return f"{label}, {GEOMETRIC_MEAN_NOTE if ratio else MEAN_NOTE}"


# A metric in a title, with its split; other columns keep their own name.
WORDS = {
    ACCURACY: "test accuracy",
    VAL_ACCURACY: "validation accuracy",
    MACRO_F1: "test macro-F1",
    VAL_MACRO_F1: "validation macro-F1",
    SPEEDUP: "speedup",
    EMISSIONS_KG: "emissions",
}
# Stored as fractions, shown in percent.
PERCENT = (ACCURACY, VAL_ACCURACY)
# What an error bar spans, said in the legend and on the axes it is drawn along.
ERROR_NAME = "± 1 sd over seeds (speedup ×/÷ geometric sd)"
MEAN_NOTE = "mean ± sd"
GEOMETRIC_MEAN_NOTE = "geometric mean ×/÷ sd"  # ratios over seeds
# Config columns worth showing with a point (hover); whichever the table has.
CONFIG_COLUMNS = (
    CONFIGURATION,
    N_SEEDS,
    "seeds",
    "name",
    "trial_id",
    "kind",
    TARGET_DENSITY,
    "distil",
    "temperature",
    "alpha_distil",
    "method",
    "preset",
    "seed",
    "learning_rate",
    "epochs",
)
# The look both renderers share.
FRONT_EDGE = "black"
PAPER_COLOUR = "#d62728"
REFERENCE_COLOUR = "#ff7f0e"
CMAP = "viridis"


@dataclass(frozen=True)
class PaperSeries:
    """The paper's Table I, relative to its own baseline (it reports no emissions)."""

    name: str  # the legend entry
    x: np.ndarray
    y: np.ndarray
    marks: tuple[str, ...]  # "A", "B", ... drawn beside each point
    labels: tuple[str, ...]  # what each mark stands for
    details: tuple[str, ...]  # lines for a hover box


@dataclass(frozen=True)
class Reference:
    """Models drawn beside the front for comparison, never ranked: the TF-IDF + LR classifier."""

    name: str  # the legend entry
    x: np.ndarray
    y: np.ndarray
    # error bars as (below, above) distances, shape (2, points) (NaN: none), or None: no bars
    x_err: np.ndarray | None
    y_err: np.ndarray | None
    labels: tuple[str, ...]  # drawn beside each marker
    details: tuple[str, ...]  # lines for a hover box


@dataclass(frozen=True)
class View:
    """One panel: points of the study (front and dominated), optionally the paper's series."""

    title: str
    x_name: str  # the column drawn on x
    y_name: str
    x_label: str  # the axis title
    y_label: str
    x: np.ndarray
    y: np.ndarray
    on_front: np.ndarray  # bool per point: on the front over all objectives
    colour: np.ndarray | None  # a value per point, or None for one plain colour
    colour_label: str
    labels: tuple[str, ...]  # each point's configuration (point_label)
    marks: tuple[str, ...]  # the number drawn beside a front point, "" elsewhere
    details: tuple[str, ...]  # lines for a hover box, one string per point
    key: tuple[tuple[str, str], ...]  # (mark, what it stands for) for the marks in this view
    front_name: str = "Pareto front (all objectives)"
    dominated_name: str = "dominated"
    front_falls: bool = True  # the front runs from top left to bottom right (both axes one way)
    staircase: tuple[np.ndarray, np.ndarray] | None = None  # vertices of the 2-D front
    staircase_name: str = ""
    log_x: bool = False
    log_y: bool = False
    crosshair: tuple[float, float] | None = None  # where both baselines sit
    paper: PaperSeries | None = None
    note: str = ""  # a second title line: what chose the front
    # Error bars per point as (below, above), shape (2, points) (NaN: no bar, e.g. one seed), or
    # None: no bars on that axis.
    x_err: np.ndarray | None = None
    y_err: np.ndarray | None = None
    error_name: str = ""  # the legend entry of the error bars
    reference: Reference | None = None
