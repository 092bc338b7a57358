"""What each panel of the study's figures shows, computed once from a results table.

A :class:`View` is plain data (numbers and strings): the PNG renderer (:mod:`analysis.render_png`)
and the HTML renderer (:mod:`analysis.render_html`) draw the same views, so the two files cannot
disagree. Accuracy is stored as a fraction and shown in percent.

>>> views = study_views(table, paper=False)  # doctest: +SKIP
>>> [v.title for v in views]  # doctest: +SKIP
['accuracy vs speedup, coloured by emissions_kg', ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import moocore
import numpy as np
import pandas as pd

from analysis.front import RANK, Objectives, as_minimisation, baseline_rows, pareto_ranks
from analysis.labels import config_label, merge_marks, number_front
from analysis.relative import (
    ACCURACY_CHANGE,
    EMISSIONS_RATIO,
    SPEEDUP_VS_BASELINE,
    accuracy_percent,
    paper_relative,
    relative_to_baseline,
)
from search_spaces.paper import PAPER_BASELINE
from trainables.metrics import (
    ACCURACY,
    DENSITY,
    EMISSIONS_KG,
    NUM_PARAMETERS,
    OBJECTIVES,
    SPEEDUP,
    TARGET_DENSITY,
)

AXIS_LABELS = {
    ACCURACY: "accuracy (%)",
    SPEEDUP: "speedup (× the baseline's inference speed)",
    EMISSIONS_KG: "emissions (kg CO₂eq, inference on the test set)",
    ACCURACY_CHANGE: "accuracy change vs own baseline (points)",
    SPEEDUP_VS_BASELINE: "speedup vs own baseline (×)",
    EMISSIONS_RATIO: "emissions / own baseline's",
}
# Config columns worth showing with a point (hover); whichever the table has.
CONFIG_COLUMNS = (
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
CMAP = "viridis"
_MARK = "_mark"  # a working column: each row's number on the plots ("" off the front)


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
    labels: tuple[str, ...]  # each point's configuration (config_label)
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


def _values(table: pd.DataFrame, column: str) -> np.ndarray:
    if column == ACCURACY:
        return accuracy_percent(table[column]).to_numpy()
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)


def _ranked(
    results: pd.DataFrame, objectives: dict[str, str]
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Every row with its rank (``<NA>`` when excluded) and its mark; the key of the marks."""
    table = results.copy()
    table[RANK] = pareto_ranks(results, objectives).to_numpy()
    valid = table[RANK].notna().to_numpy()
    marks, key = number_front(table[valid], objectives)
    column = np.full(len(table), "", dtype=object)
    column[valid] = marks
    table[_MARK] = column
    return table, key


def _shown(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The valid rows with a finite value in every one of ``columns``."""
    for column in columns:
        if column not in table.columns:
            raise ValueError(
                f"column {column!r} is not in the results; available: {', '.join(table.columns)}"
            )
    keep = table[RANK].notna().to_numpy(dtype=bool, copy=True)
    for column in columns:
        keep &= np.isfinite(_values(table, column))
    return table[keep]


def _details(table: pd.DataFrame, metrics: Sequence[str]) -> tuple[str, ...]:
    columns = [c for c in dict.fromkeys((*CONFIG_COLUMNS, *metrics)) if c in table.columns]
    return tuple(
        "\n".join(f"{c}: {f'{v:.4g}' if isinstance(v, float) else v}" for c, v in row.items())
        for row in table[columns].to_dict("records")
    )


def _points(
    shown: pd.DataFrame,
    xs: np.ndarray,
    ys: np.ndarray,
    metrics: Sequence[str],
    key: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    marks = shown[_MARK].tolist()
    present = set(marks) - {""}
    return {
        "x": xs,
        "y": ys,
        "on_front": (shown[RANK] == 0).to_numpy(dtype=bool),
        "labels": tuple(config_label(row) for row in shown.to_dict("records")),
        "marks": tuple(merge_marks(xs.tolist(), ys.tolist(), marks)),
        "details": _details(shown, metrics),
        "key": tuple(entry for entry in key if entry[0] in present),
    }


def _staircase(
    xs: np.ndarray, ys: np.ndarray, directions: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the staircase through the points non-dominated in (x, y) alone.

    Between two neighbours the boundary of the dominated region keeps the y of the point that
    covers that stretch of x: the right one when x is maximised, the left one when minimised.
    """
    points = as_minimisation(np.column_stack([xs, ys]), list(directions))
    on = moocore.is_nondominated(points, keep_weakly=True)
    order = np.argsort(xs[on], kind="stable")
    px, py = xs[on][order], ys[on][order]
    vx, vy = [px[0]], [py[0]]
    for i in range(1, len(px)):
        corner = (px[i - 1], py[i]) if directions[0] == "max" else (px[i], py[i - 1])
        vx += [corner[0], px[i]]
        vy += [corner[1], py[i]]
    return np.array(vx), np.array(vy)


def _wide(values: np.ndarray) -> bool:
    """Whether an axis wants a log scale: positive values spanning more than 30x."""
    positive = values[values > 0]
    return len(positive) >= 2 and positive.max() / positive.min() > 30


def _front_view(
    table: pd.DataFrame,
    key: Sequence[tuple[str, str]],
    objectives: dict[str, str],
    x: str,
    y: str,
    color: str | None,
) -> View:
    color = color if color is not None and color in table.columns else None
    shown = _shown(table, [x, y] + ([color] if color else []))
    xs, ys = _values(shown, x), _values(shown, y)
    staircase = None
    if x in objectives and y in objectives and len(shown):
        staircase = _staircase(xs, ys, (objectives[x], objectives[y]))
    metrics = [*objectives, x, y, NUM_PARAMETERS, DENSITY]
    return View(
        title=f"{y} vs {x}, coloured by {color}" if color else f"{y} vs {x}",
        x_name=x,
        y_name=y,
        x_label=AXIS_LABELS.get(x, x),
        y_label=AXIS_LABELS.get(y, y),
        colour=_values(shown, color) if color and len(shown) else None,
        colour_label=AXIS_LABELS.get(color, color) if color else "",
        **_points(shown, xs, ys, metrics, key),
        front_falls=objectives.get(x, "max") == objectives.get(y, "max"),
        staircase=staircase,
        staircase_name=f"front in {x} and {y} only",
        log_x=_wide(xs),
        log_y=_wide(ys),
    )


def _paper_series() -> PaperSeries:
    table = paper_relative()
    rows = table.to_dict("records")
    return PaperSeries(
        name=f"paper Table I (GPU; vs its {PAPER_BASELINE.accuracy:.2f} baseline)",
        x=table[SPEEDUP_VS_BASELINE].to_numpy(dtype=float),
        y=table[ACCURACY_CHANGE].to_numpy(dtype=float),
        marks=tuple(chr(ord("A") + i) for i in range(len(rows))),
        labels=tuple(f"paper: {r['name']}" for r in rows),
        details=tuple(
            f"accuracy {r['accuracy_percent']:.2f}%\nspeedup {r[SPEEDUP]:.2f}×\n"
            f"params {r[NUM_PARAMETERS] / 1e6:.0f}M"
            for r in rows
        ),
    )


def _relative_view(
    table: pd.DataFrame, key: Sequence[tuple[str, str]], objectives: dict[str, str], paper: bool
) -> View | None:
    has_baseline = not baseline_rows(table).empty
    if not (has_baseline or paper):
        return None
    axes = [SPEEDUP_VS_BASELINE, ACCURACY_CHANGE]
    if has_baseline:
        shown = _shown(relative_to_baseline(table), axes)
        title = "change vs own baseline" + (": this study and the paper" if paper else "")
    else:  # nothing of ours to show: no rows, the relative columns empty
        shown = table.iloc[:0].reindex(columns=[*table.columns, *axes, EMISSIONS_RATIO])
        title = "no baseline row in the results: the paper only"
    xs, ys, ratio = (shown[c].to_numpy(dtype=float) for c in (*axes, EMISSIONS_RATIO))
    return View(
        title=title,
        x_name=SPEEDUP_VS_BASELINE,
        y_name=ACCURACY_CHANGE,
        x_label=AXIS_LABELS[SPEEDUP_VS_BASELINE],
        y_label=AXIS_LABELS[ACCURACY_CHANGE],
        colour=ratio if len(ratio) and np.isfinite(ratio).all() else None,
        colour_label=AXIS_LABELS[EMISSIONS_RATIO],
        **_points(shown, xs, ys, [*objectives, *axes, EMISSIONS_RATIO], key),
        front_name="this study: Pareto front",
        dominated_name="this study: dominated",
        crosshair=(1.0, 0.0),
        paper=_paper_series() if paper else None,
    )


def front_view(
    results: pd.DataFrame,
    objectives: Objectives | None = None,
    *,
    x: str = SPEEDUP,
    y: str = ACCURACY,
    color: str | None = EMISSIONS_KG,
) -> View:
    """``y`` against ``x``: the front over all objectives, the dominated rows, ``color`` per point.

    A staircase joins the points non-dominated in these two axes alone, when both are objectives.
    Excluded rows (errors, missing values) are left out.

    >>> view = front_view(table, x="emissions_kg", color="speedup")  # doctest: +SKIP
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    table, key = _ranked(results, objectives)
    return _front_view(table, key, objectives, x, y, color)


def relative_view(
    results: pd.DataFrame, objectives: Objectives | None = None, *, paper: bool = False
) -> View | None:
    """Accuracy change (points) vs speedup, each relative to its own baseline.

    The study's points are coloured by their emissions ratio to the study's baseline; with
    ``paper`` the paper's Table I (relative to its 92.43 baseline) is a separate series. Without
    a baseline row the study has no relative points: the view holds the paper alone, or is
    ``None`` when ``paper`` is off.

    >>> relative_view(table, paper=True).paper.labels[1]  # doctest: +SKIP
    'paper: 25% pruning'
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    table, key = _ranked(results, objectives)
    return _relative_view(table, key, objectives, paper)


def study_views(
    results: pd.DataFrame, objectives: Objectives | None = None, *, paper: bool = False
) -> list[View]:
    """The study's views: accuracy vs speedup, accuracy vs emissions, the relative view.

    A view whose columns the results lack is left out, and so is the relative view without a
    baseline row and without ``paper``. A table without accuracy and speedup (e.g. an Optuna
    study without metric names: ``values_0``, ...) shows its first objective against the next.

    >>> [v.x_name for v in study_views(table)]  # doctest: +SKIP
    ['speedup', 'emissions_kg', 'speedup_vs_baseline']
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    table, key = _ranked(results, objectives)
    columns = set(results.columns)
    views: list[View | None] = []
    if {ACCURACY, SPEEDUP} <= columns:
        views.append(_front_view(table, key, objectives, SPEEDUP, ACCURACY, EMISSIONS_KG))
    if {ACCURACY, EMISSIONS_KG} <= columns:
        views.append(_front_view(table, key, objectives, EMISSIONS_KG, ACCURACY, SPEEDUP))
    if {ACCURACY, SPEEDUP} <= columns:
        views.append(_relative_view(table, key, objectives, paper))
    if views:
        return [v for v in views if v is not None]
    names = list(objectives)
    if len(names) < 2:
        raise ValueError(
            f"nothing to plot: the results lack {ACCURACY} with {SPEEDUP} or {EMISSIONS_KG}, "
            f"and one objective ({names[0]}) makes no scatter"
        )
    first = names[0]
    return [
        _front_view(table, key, objectives, x, first, next((n for n in names[1:] if n != x), None))
        for x in names[1:3]
    ]
