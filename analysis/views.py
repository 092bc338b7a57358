"""What each panel of the study's figures shows, computed once from a results table.

A :class:`View` is plain data (numbers and strings): the PNG renderer (:mod:`analysis.render_png`)
and the HTML renderer (:mod:`analysis.render_html`) draw the same views, so the two files cannot
disagree. Accuracy is stored as a fraction and shown in percent.

The front is chosen on the objectives (by default validation accuracy, speedup, emissions) and
drawn at the points' test numbers: the y axis is test accuracy, the title says what chose the
front. Where seeds replicate configurations, each point is a configuration's mean with error bars
of one standard deviation over its seeds. The TF-IDF + LR reference is a labelled star beside the
front, never on it.

>>> table = pd.DataFrame({"kind": ["baseline", "prune", "prune"],
...                       "target_density": [1.0, 0.5, 0.25],
...                       "accuracy": [0.90, 0.88, 0.85], "val_accuracy": [0.89, 0.87, 0.86],
...                       "speedup": [1.0, 1.6, 2.5], "emissions_kg": [3e-6, 2e-6, 1e-6]})
>>> [v.title for v in study_views(table, paper=False)]  # doctest: +ELLIPSIS
['test accuracy vs speedup, coloured by emissions', ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import moocore
import numpy as np
import pandas as pd

from analysis.front import (
    Objectives,
    as_minimisation,
    default_objectives,
    pareto_ranks,
    per_configuration,
)
from analysis.labels import energy_estimated, merge_marks, number_front, point_label
from analysis.panels import (
    CONFIG_COLUMNS,
    ERROR_NAME,
    PERCENT,
    WORDS,
    PaperSeries,
    Reference,
    View,
    axis_label,
)
from analysis.relative import (
    ACCURACY_CHANGE,
    EMISSIONS_RATIO,
    SPEEDUP_VS_BASELINE,
    accuracy_percent,
    paper_relative,
    relative_to_baseline,
)
from analysis.rows import (
    GSD_SUFFIX,
    RANK,
    SD_SUFFIX,
    baseline_rows,
    finished_rows,
    reference_rows,
)
from search_spaces.paper import PAPER_BASELINE
from trainables.metrics import (
    ACCURACY,
    DENSITY,
    EMISSIONS_KG,
    NUM_PARAMETERS,
    SPEEDUP,
    TEST_OF,
)

_MARK = "_mark"  # a working column: each row's number on the plots ("" off the front)


def _values(table: pd.DataFrame, column: str) -> np.ndarray:
    if column in PERCENT:
        return accuracy_percent(table[column]).to_numpy()
    return pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)


def _errors(table: pd.DataFrame, column: str) -> np.ndarray | None:
    """``column``'s bars over seeds as (below, above), shape (2, rows), in the axis' unit: ± its
    ``_sd``, or ×/÷ its ``_gsd`` for a ratio (uneven); None when there is no spread for it.

    >>> t = pd.DataFrame({"speedup": [2.0], "speedup_gsd": [1.5], "accuracy": [0.8],
    ...                   "accuracy_sd": [0.01]})
    >>> _errors(t, "speedup").round(3).tolist(), _errors(t, "accuracy").round(3).tolist()
    ([[0.667], [1.0]], [[1.0], [1.0]])
    """
    if column + GSD_SUFFIX in table.columns:
        factor = pd.to_numeric(table[column + GSD_SUFFIX], errors="coerce").to_numpy(dtype=float)
        centre = _values(table, column)
        bars = np.stack([centre - centre / factor, centre * factor - centre])
    elif column + SD_SUFFIX in table.columns:
        sd = pd.to_numeric(table[column + SD_SUFFIX], errors="coerce").to_numpy(dtype=float)
        sd = sd * 100.0 if column in PERCENT else sd
        bars = np.stack([sd, sd])
    else:
        return None
    return bars if np.isfinite(bars).any() else None


def _word(column: str, estimated: bool = False) -> str:
    word = WORDS.get(column, column)
    return f"{word} (estimated)" if estimated and column == EMISSIONS_KG else word


def chosen_on(objectives: Objectives, *, directions: bool = False, estimated: bool = False) -> str:
    """The objectives in words, each with its split (and direction); ``estimated`` marks
    emissions estimated from time.

    >>> chosen_on({"val_accuracy": "max", "emissions_kg": "min"}, estimated=True)
    'validation accuracy, emissions (estimated)'
    >>> chosen_on({"accuracy": "max"}, directions=True)
    'test accuracy (max)'
    """
    words = [
        f"{_word(n, estimated)} ({d})" if directions else _word(n, estimated)
        for n, d in objectives.items()
    ]
    return ", ".join(words)


def _shown_metrics(objectives: Objectives, *columns: str) -> list[str]:
    """Metrics for a point's hover box: the objectives, the test metric of each validation
    objective (the front's test numbers next to the numbers that chose it), the axes."""
    tests = [TEST_OF[n] for n in objectives if n in TEST_OF]
    metrics = [*objectives, *tests, *columns, NUM_PARAMETERS, DENSITY]
    return [*metrics, *(m + SD_SUFFIX for m in metrics)]


def _ranked(
    results: pd.DataFrame, objectives: Objectives | None
) -> tuple[pd.DataFrame, list[tuple[str, str]], dict[str, str]]:
    """Every row (or configuration, see :func:`analysis.front.per_configuration`) with its rank
    (``<NA>`` when excluded) and its mark; the key of the marks; the objectives."""
    objectives = default_objectives(results) if objectives is None else dict(objectives)
    table = per_configuration(results).copy()
    table[RANK] = pareto_ranks(table, objectives).to_numpy()
    valid = table[RANK].notna().to_numpy()
    marks, key = number_front(table[valid], objectives)
    column = np.full(len(table), "", dtype=object)
    column[valid] = marks
    table[_MARK] = column
    return table, key, objectives


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
        "labels": tuple(point_label(row) for row in shown.to_dict("records")),
        "marks": tuple(merge_marks(xs.tolist(), ys.tolist(), marks)),
        "details": _details(shown, metrics),
        "key": tuple(entry for entry in key if entry[0] in present),
    }


def _reference(table: pd.DataFrame, x: str, y: str, metrics: Sequence[str]) -> Reference | None:
    """The finished reference rows with a value on both axes, or None when there are none."""
    rows = finished_rows(reference_rows(table))
    rows = rows[np.isfinite(_values(rows, x)) & np.isfinite(_values(rows, y))]
    if rows.empty:
        return None
    labels = tuple(point_label(row) for row in rows.to_dict("records"))
    return Reference(
        name=f"{' / '.join(dict.fromkeys(labels))} (reference, not a compression)",
        x=_values(rows, x),
        y=_values(rows, y),
        x_err=_errors(rows, x),
        y_err=_errors(rows, y),
        labels=labels,
        details=_details(rows, metrics),
    )


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


def _wide(values: np.ndarray, reference: Reference | None = None, axis: str = "x") -> bool:
    """Whether an axis wants a log scale: positive values, the reference's too, spanning more
    than 30x (a TF-IDF model can be far faster and cleaner than every compressed one)."""
    if reference is not None:
        values = np.concatenate([values, getattr(reference, axis)])
    positive = values[values > 0]
    return len(positive) >= 2 and positive.max() / positive.min() > 30


def _front_view(
    table: pd.DataFrame,
    key: Sequence[tuple[str, str]],
    objectives: dict[str, str],
    x: str,
    y: str,
    color: str | None,
    estimated: bool = False,
) -> View:
    color = color if color is not None and color in table.columns else None
    shown = _shown(table, [x, y] + ([color] if color else []))
    xs, ys = _values(shown, x), _values(shown, y)
    x_err, y_err = _errors(shown, x), _errors(shown, y)
    staircase = None
    # Only through the axes that chose the front: a staircase through test numbers would draw
    # a front that was never selected.
    if x in objectives and y in objectives and len(shown):
        staircase = _staircase(xs, ys, (objectives[x], objectives[y]))
    metrics = _shown_metrics(objectives, x, y)
    title = f"{_word(y, estimated)} vs {_word(x, estimated)}"
    reference = _reference(table, x, y, metrics)
    log_x, log_y = _wide(xs, reference, "x"), _wide(ys, reference, "y")
    return View(
        title=f"{title}, coloured by {_word(color, estimated)}" if color else title,
        x_name=x,
        y_name=y,
        x_label=axis_label(x, log=log_x, estimated=estimated, mean=x_err is not None),
        y_label=axis_label(y, log=log_y, estimated=estimated, mean=y_err is not None),
        colour=_values(shown, color) if color and len(shown) else None,
        colour_label=axis_label(color, estimated=estimated) if color else "",
        **_points(shown, xs, ys, metrics, key),
        front_falls=objectives.get(x, "max") == objectives.get(y, "max"),
        staircase=staircase,
        staircase_name=f"front in {_word(x, estimated)} and {_word(y, estimated)} only",
        log_x=log_x,
        log_y=log_y,
        note=f"front chosen on {chosen_on(objectives, estimated=estimated)}",
        x_err=x_err,
        y_err=y_err,
        error_name=ERROR_NAME if x_err is not None or y_err is not None else "",
        reference=reference,
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
    table: pd.DataFrame,
    key: Sequence[tuple[str, str]],
    objectives: dict[str, str],
    paper: bool,
    estimated: bool = False,
) -> View | None:
    has_baseline = not baseline_rows(table).empty
    if not (has_baseline or paper):
        return None
    axes = [SPEEDUP_VS_BASELINE, ACCURACY_CHANGE]
    metrics = _shown_metrics(objectives, *axes, EMISSIONS_RATIO)
    reference = None
    if has_baseline:
        relative = relative_to_baseline(table)
        shown = _shown(relative, axes)
        reference = _reference(relative, *axes, metrics)
        title = "change vs own baseline" + (": this study and the paper" if paper else "")
    else:  # nothing of ours to show: no rows, the relative columns empty
        shown = table.iloc[:0].reindex(columns=[*table.columns, *axes, EMISSIONS_RATIO])
        title = "no baseline row in the results: the paper only"
    xs, ys, ratio = (shown[c].to_numpy(dtype=float) for c in (*axes, EMISSIONS_RATIO))
    x_err, y_err = _errors(shown, SPEEDUP_VS_BASELINE), _errors(shown, ACCURACY_CHANGE)
    series = _paper_series() if paper else None
    # Speedup is a ratio: on a log axis when it spans much, as in the first panel (a TF-IDF
    # reference hundreds of times faster would squeeze every compression point into the corner).
    spans = [xs, *([series.x] if series is not None else [])]
    log_x = _wide(np.concatenate(spans), reference, "x")
    return View(
        title=title,
        x_name=SPEEDUP_VS_BASELINE,
        y_name=ACCURACY_CHANGE,
        x_label=axis_label(SPEEDUP_VS_BASELINE, log=log_x, mean=x_err is not None),
        y_label=axis_label(ACCURACY_CHANGE, mean=y_err is not None),
        colour=ratio if len(ratio) and np.isfinite(ratio).all() else None,
        colour_label=axis_label(EMISSIONS_RATIO, estimated=estimated),
        **_points(shown, xs, ys, metrics, key),
        front_name="this study: Pareto front",
        dominated_name="this study: dominated",
        crosshair=(1.0, 0.0),
        paper=series,
        log_x=log_x,
        note=f"front chosen on {chosen_on(objectives, estimated=estimated)}",
        x_err=x_err,
        y_err=y_err,
        error_name=ERROR_NAME if x_err is not None or y_err is not None else "",
        reference=reference,
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

    The front is chosen on ``objectives`` (:func:`analysis.front.default_objectives` when None)
    and drawn where its points lie on these axes: by default test accuracy against speedup. A
    staircase joins the points non-dominated in these two axes alone, when both are objectives.
    Excluded rows (errors, missing values) are left out; the classical reference is
    ``view.reference``. With replicated configurations each point is a configuration's mean and
    ``x_err`` / ``y_err`` hold one sd over its seeds.

    >>> table = pd.DataFrame({"kind": ["baseline", "prune", "prune"],
    ...                       "target_density": [1.0, 0.5, 0.25],
    ...                       "accuracy": [0.90, 0.88, 0.85], "val_accuracy": [0.89, 0.87, 0.86],
    ...                       "speedup": [1.0, 1.6, 2.5], "emissions_kg": [3e-6, 2e-6, 1e-6]})
    >>> view = front_view(table, x="emissions_kg", color="speedup")
    >>> view.title, view.marks
    ('test accuracy vs emissions, coloured by speedup', ('1', '2', '3'))
    """
    table, key, objectives = _ranked(results, objectives)
    return _front_view(table, key, objectives, x, y, color, energy_estimated(results))


def relative_view(
    results: pd.DataFrame, objectives: Objectives | None = None, *, paper: bool = False
) -> View | None:
    """Accuracy change (points) vs speedup, each relative to its own baseline.

    The study's points are coloured by their emissions ratio to the study's baseline; with
    ``paper`` the paper's Table I (relative to its 92.43 baseline) is a separate series. Without
    a baseline row the study has no relative points: the view holds the paper alone, or is
    ``None`` when ``paper`` is off.

    >>> table = pd.DataFrame({"kind": ["baseline", "prune", "prune"],
    ...                       "target_density": [1.0, 0.5, 0.25],
    ...                       "accuracy": [0.90, 0.88, 0.85], "val_accuracy": [0.89, 0.87, 0.86],
    ...                       "speedup": [1.0, 1.6, 2.5], "emissions_kg": [3e-6, 2e-6, 1e-6]})
    >>> relative_view(table, paper=True).paper.labels[1]
    'paper: 25% pruning'
    """
    table, key, objectives = _ranked(results, objectives)
    return _relative_view(table, key, objectives, paper, energy_estimated(results))


def study_views(
    results: pd.DataFrame, objectives: Objectives | None = None, *, paper: bool = False
) -> list[View]:
    """The study's views: test accuracy vs speedup, vs emissions, and the relative view.

    A view whose columns the results lack is left out, and so is the relative view without a
    baseline row and without ``paper``. A table without accuracy and speedup (e.g. an Optuna
    study without metric names: ``values_0``, ...) shows its first objective against the next.

    >>> table = pd.DataFrame({"kind": ["baseline", "prune", "prune"],
    ...                       "target_density": [1.0, 0.5, 0.25],
    ...                       "accuracy": [0.90, 0.88, 0.85], "val_accuracy": [0.89, 0.87, 0.86],
    ...                       "speedup": [1.0, 1.6, 2.5], "emissions_kg": [3e-6, 2e-6, 1e-6]})
    >>> [v.x_name for v in study_views(table)]
    ['speedup', 'emissions_kg', 'speedup_vs_baseline']
    """
    table, key, objectives = _ranked(results, objectives)
    estimated = energy_estimated(results)
    columns = set(table.columns)
    views: list[View | None] = []
    if {ACCURACY, SPEEDUP} <= columns:
        views.append(
            _front_view(table, key, objectives, SPEEDUP, ACCURACY, EMISSIONS_KG, estimated)
        )
    if {ACCURACY, EMISSIONS_KG} <= columns:
        views.append(
            _front_view(table, key, objectives, EMISSIONS_KG, ACCURACY, SPEEDUP, estimated)
        )
    if {ACCURACY, SPEEDUP} <= columns:
        views.append(_relative_view(table, key, objectives, paper, estimated))
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
        _front_view(
            table,
            key,
            objectives,
            x,
            first,
            next((n for n in names[1:] if n != x), None),
            estimated,
        )
        for x in names[1:3]
    ]
