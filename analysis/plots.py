"""Figures of a results table: the front in two metrics, and the view relative to the baseline.

Pure functions from a table to a figure (matplotlib for PNG, plotly for interactive HTML), plus
:func:`write_plots` that writes both. Accuracy is stored as a fraction and drawn in percent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt
import moocore
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from analysis.front import RANK, Objectives, as_minimisation, baseline_rows, pareto_ranks
from analysis.relative import (
    ACCURACY_CHANGE,
    EMISSIONS_RATIO,
    SPEEDUP_VS_BASELINE,
    accuracy_percent,
    paper_relative,
    relative_to_baseline,
)
from search_spaces.paper import PAPER_ALPHA_DISTIL, PAPER_BASELINE, PAPER_TEMPERATURE
from trainables.metrics import (
    ACCURACY,
    EMISSIONS_KG,
    NUM_PARAMETERS,
    OBJECTIVES,
    SPEEDUP,
)

PNG_SIZE_INCHES = (19.2, 6.4)
PNG_DPI = 100  # so a PNG is 1920 x 640 pixels

AXIS_LABELS = {
    ACCURACY: "accuracy (%)",
    SPEEDUP: "speedup (× the baseline's inference speed)",
    EMISSIONS_KG: "emissions (kg CO₂eq, inference on the test set)",
    ACCURACY_CHANGE: "accuracy change vs own baseline (points)",
    SPEEDUP_VS_BASELINE: "speedup vs own baseline (×)",
    EMISSIONS_RATIO: "emissions / own baseline's",
}
# Config columns worth showing next to a point; whichever the table has.
CONFIG_COLUMNS = (
    "name",
    "trial_id",
    "kind",
    "density",
    "config/density",
    "distil",
    "temperature",
    "alpha_distil",
    "method",
    "preset",
    "seed",
    "learning_rate",
    "epochs",
)
_FRONT_EDGE = "black"
_PAPER_COLOUR = "#d62728"
_CMAP = "viridis"


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value) and not (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number


def config_label(row: Mapping[str, Any]) -> str:
    """A short description of a trial's configuration, in the paper's words.

    Density 0.75 is "25% pruning"; distillation adds "+ KD", with its temperature and alpha when
    they differ from the paper's. Rows without a config fall back to their name or trial id.

    >>> config_label({"kind": "prune", "density": 0.75, "distil": True, "temperature": 2.0,
    ...               "alpha_distil": 0.9})
    '25% pruning + KD'
    >>> config_label({"kind": "prune", "density": 0.4, "distil": True, "temperature": 4.0,
    ...               "alpha_distil": 0.5})
    '60% pruning + KD (T=4, α=0.5)'
    """
    name = row.get("name")
    if str(row.get("kind", "")).lower() == "baseline" or str(name).lower() == "baseline":
        return "baseline"
    density = _number(row.get("config/density", row.get("density")))
    if math.isnan(density):
        for fallback in (name, row.get("trial_id")):
            if fallback is not None and not (isinstance(fallback, float) and math.isnan(fallback)):
                return str(fallback)
        return "?"
    label = f"{(1.0 - density) * 100:.0f}% pruning"
    if _is_true(row.get("distil")):
        label += " + KD"
        temperature = _number(row.get("temperature", PAPER_TEMPERATURE))
        alpha = _number(row.get("alpha_distil", PAPER_ALPHA_DISTIL))
        if not (
            math.isclose(temperature, PAPER_TEMPERATURE) and math.isclose(alpha, PAPER_ALPHA_DISTIL)
        ):
            label += f" (T={temperature:g}, α={alpha:g})"
    return label


def _labels(rows: pd.DataFrame, xs: np.ndarray, ys: np.ndarray) -> list[str]:
    """One label per drawn point: points at the same place share one ("… ×2"), the others get
    ""; a label used at two places gets the trial id, so each names one point."""
    configs = [config_label(r) for r in rows.to_dict("records")]
    ids = (
        rows["trial_id"].astype(str).tolist() if "trial_id" in rows else list(map(str, rows.index))
    )
    places: dict[tuple[float, float], list[int]] = {}
    for i, place in enumerate(zip(xs.tolist(), ys.tolist(), strict=True)):
        places.setdefault(place, []).append(i)
    labels = [""] * len(configs)
    for members in places.values():
        names = list(dict.fromkeys(configs[i] for i in members))
        label = " / ".join(names)
        labels[members[0]] = f"{label} ×{len(members)}" if len(names) == 1 < len(members) else label
    used = pd.Series([configs[m[0]] for m in places.values()]).value_counts()
    for members in places.values():
        first = members[0]
        if used.get(configs[first], 0) > 1 and len(members) == 1:
            labels[first] += f" #{ids[first]}"
    return labels


def _values(table: pd.DataFrame, column: str) -> pd.Series:
    if column == ACCURACY:
        return accuracy_percent(table[column])
    return pd.to_numeric(table[column], errors="coerce").astype(float)


def _plotted(
    results: pd.DataFrame, objectives: Objectives | None, columns: list[str]
) -> pd.DataFrame:
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    table = results.copy()
    table[RANK] = pareto_ranks(results, objectives).to_numpy()
    table = table[table[RANK].notna().to_numpy()]
    for column in columns:
        if column not in table.columns:
            raise ValueError(
                f"column {column!r} is not in the results; available: {', '.join(table.columns)}"
            )
    finite = np.ones(len(table), dtype=bool)
    for column in columns:
        finite &= np.isfinite(_values(table, column).to_numpy())
    return table[finite]


def _front_2d(x: np.ndarray, y: np.ndarray, directions: tuple[str, str]) -> np.ndarray:
    points = as_minimisation(np.column_stack([x, y]), list(directions))
    return moocore.is_nondominated(points, keep_weakly=True)


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0.0) * max(h, 0.0)


# Candidate label offsets in points, nearest first: right, left, above, below, then diagonals.
_OFFSETS = [
    (dx * r, dy * r)
    for r in (7, 16, 28, 42)
    for dx, dy in ((1, 0.3), (-1, 0.3), (0, 1), (0, -1.3), (1, 1), (-1, 1), (1, -1), (-1, -1))
]


def _place_labels(
    ax: Axes,
    xs: np.ndarray,
    ys: np.ndarray,
    labels: list[str],
    taken: list[Bbox],
    text: dict[str, Any],
) -> None:
    """Greedy placement: each label takes the nearest offset that overlaps ``taken`` least."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    named = [(x, y, label) for x, y, label in zip(xs, ys, labels, strict=True) if label]
    for x, y, label in sorted(named, key=lambda t: (-t[1], t[0])):
        best = None
        for dx, dy in _OFFSETS:
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            va = "bottom" if dy > 0 else "top"
            annotation = ax.annotate(
                label,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                **text,
            )
            box = annotation.get_window_extent(renderer).expanded(1.05, 1.15)
            outside = box.width * box.height - _overlap(box, frame)
            distance = 0.5 * math.hypot(dx, dy)  # prefer near places among equally free ones
            cost = sum(_overlap(box, b) for b in taken) + 4 * outside + distance
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, annotation, box, dx, dy)
            else:
                annotation.remove()
            if cost <= distance:
                break
        _, annotation, box, dx, dy = best
        annotation.set_in_layout(False)
        if math.hypot(dx, dy) > 10:
            leader = ax.annotate(
                "",
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                arrowprops={
                    "arrowstyle": "-",
                    "color": "0.5",
                    "lw": 0.6,
                    "shrinkA": 0,
                    "shrinkB": 3,
                },
            )
            leader.set_in_layout(False)
        taken.append(box)


def _marker_boxes(ax: Axes, half_width: float = 5.0) -> list[Bbox]:
    points = [c.get_offsets() for c in ax.collections if len(c.get_offsets())]
    if not points:
        return []
    pixels = ax.transData.transform(np.concatenate(points))
    return [
        Bbox.from_extents(px - half_width, py - half_width, px + half_width, py + half_width)
        for px, py in pixels
    ]


def _label_all(fig: Figure, pending: list[_Labels]) -> None:
    """Place every label once the layout is final: points, legends and earlier labels avoided."""
    fig.canvas.draw()
    fig.set_layout_engine("none")  # freeze the layout the labels are measured against
    renderer = fig.canvas.get_renderer()
    taken: dict[Axes, list[Bbox]] = {}
    for ax, *_ in pending:
        if ax in taken:
            continue
        taken[ax] = _marker_boxes(ax)
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            legend.set_loc(tuple(ax.transAxes.inverted().transform((box.x0, box.y0))))
            taken[ax].append(box)
    for ax, xs, ys, labels, text in pending:
        _place_labels(ax, xs, ys, labels, taken[ax], text)


def _maybe_log(ax: Axes, axis: str, values: np.ndarray) -> None:
    positive = values[values > 0]
    if len(positive) >= 2 and positive.max() / positive.min() > 30:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


_Labels = tuple[Axes, np.ndarray, np.ndarray, list[str], dict[str, Any]]


def _scatter_split(
    ax: Axes,
    xs: np.ndarray,
    ys: np.ndarray,
    on_front: np.ndarray,
    colour: np.ndarray | None,
    front_label: str,
    dominated_label: str,
) -> Any:
    """Front points large and outlined, dominated ones small and faded; one colour scale."""

    def colour_kw(mask: np.ndarray) -> dict[str, Any]:
        if colour is None:
            return {"color": "tab:blue"}
        return {"c": colour[mask], "cmap": _CMAP, "vmin": colour.min(), "vmax": colour.max()}

    scatter = ax.scatter(
        xs[on_front],
        ys[on_front],
        s=90,
        edgecolors=_FRONT_EDGE,
        linewidths=1.2,
        zorder=3,
        label=front_label,
        **colour_kw(on_front),
    )
    if (~on_front).any():
        ax.scatter(
            xs[~on_front],
            ys[~on_front],
            s=28,
            alpha=0.55,
            linewidths=0,
            zorder=2,
            label=dominated_label,
            **colour_kw(~on_front),
        )
    return scatter


def _draw_front(
    ax: Axes, results: pd.DataFrame, objectives: dict[str, str], x: str, y: str, color: str | None
) -> list[_Labels]:
    color = color if color is not None and color in results.columns else None
    table = _plotted(results, objectives, [x, y] + ([color] if color else []))
    xs, ys = _values(table, x).to_numpy(), _values(table, y).to_numpy()
    on_front = (table[RANK] == 0).to_numpy()
    colour = _values(table, color).to_numpy() if color and len(table) else None
    scatter = _scatter_split(
        ax, xs, ys, on_front, colour, "Pareto front (all objectives)", "dominated"
    )
    if x in objectives and y in objectives and len(table):
        mask = _front_2d(xs, ys, (objectives[x], objectives[y]))
        order = np.argsort(xs[mask])
        ax.plot(
            xs[mask][order],
            ys[mask][order],
            ls="--",
            lw=1,
            color="0.4",
            zorder=1,
            drawstyle="steps-pre" if objectives[x] == "max" else "steps-post",
            label=f"front in {x} and {y} only",
        )
    if colour is not None:
        ax.figure.colorbar(scatter, ax=ax, label=AXIS_LABELS.get(color, color), pad=0.01)
    _maybe_log(ax, "x", xs)
    _maybe_log(ax, "y", ys)
    ax.set_xlabel(AXIS_LABELS.get(x, x))
    ax.set_ylabel(AXIS_LABELS.get(y, y))
    ax.set_title(f"{y} vs {x}, coloured by {color}" if color else f"{y} vs {x}")
    ax.margins(0.12)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.8)
    return [
        (
            ax,
            xs[on_front],
            ys[on_front],
            _labels(table[on_front], xs[on_front], ys[on_front]),
            {"fontsize": 8},
        )
    ]


def _draw_relative(
    ax: Axes, results: pd.DataFrame, objectives: dict[str, str], paper: bool
) -> list[_Labels]:
    labels: list[_Labels] = []
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(1, color="0.5", lw=0.8)
    has_baseline = not baseline_rows(results).empty
    if paper:
        table_i = paper_relative()
        xs, ys = table_i[SPEEDUP_VS_BASELINE].to_numpy(), table_i[ACCURACY_CHANGE].to_numpy()
        ax.scatter(
            xs,
            ys,
            marker="D",
            s=55,
            facecolors="none",
            edgecolors=_PAPER_COLOUR,
            linewidths=1.5,
            zorder=4,
            label=f"paper Table I (GPU; vs its {PAPER_BASELINE.accuracy:.2f} baseline)",
        )
        paper_text = {"fontsize": 7, "color": _PAPER_COLOUR, "style": "italic"}
        labels.append((ax, xs, ys, table_i["name"].tolist(), paper_text))
    if has_baseline:
        table = _plotted(
            relative_to_baseline(results), objectives, [SPEEDUP_VS_BASELINE, ACCURACY_CHANGE]
        )
        xs, ys = table[SPEEDUP_VS_BASELINE].to_numpy(), table[ACCURACY_CHANGE].to_numpy()
        ratio = table[EMISSIONS_RATIO].to_numpy()
        colour = ratio if len(ratio) and np.isfinite(ratio).all() else None
        on_front = (table[RANK] == 0).to_numpy()
        scatter = _scatter_split(
            ax, xs, ys, on_front, colour, "this study: Pareto front", "this study: dominated"
        )
        if colour is not None:
            ax.figure.colorbar(scatter, ax=ax, label=AXIS_LABELS[EMISSIONS_RATIO], pad=0.01)
        labels.append(
            (
                ax,
                xs[on_front],
                ys[on_front],
                _labels(table[on_front], xs[on_front], ys[on_front]),
                {"fontsize": 8},
            )
        )
    ax.set_xlabel(AXIS_LABELS[SPEEDUP_VS_BASELINE])
    ax.set_ylabel(AXIS_LABELS[ACCURACY_CHANGE])
    title = "change vs own baseline: this study and the paper"
    ax.set_title(title if has_baseline else "no baseline row in the results: the paper only")
    ax.margins(0.12)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, framealpha=0.8)
    return labels


def plot_front(
    results: pd.DataFrame,
    objectives: Objectives | None = None,
    *,
    x: str = SPEEDUP,
    y: str = ACCURACY,
    color: str | None = EMISSIONS_KG,
) -> Figure:
    """Scatter ``y`` against ``x``; the Pareto front (over all objectives) highlighted and labelled.

    Points on the front are large, outlined and labelled with their configuration; dominated
    points are small and faded; ``color`` (emissions by default) colours every point. A dashed
    staircase joins the points that are non-dominated in these two axes alone, when both are
    objectives. Excluded rows (errors, missing values) are not drawn.

    >>> fig = plot_front(table)  # doctest: +SKIP
    >>> fig.savefig("front.png")  # doctest: +SKIP
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    fig, ax = plt.subplots(figsize=(8.0, 6.0), dpi=PNG_DPI, layout="constrained")
    _label_all(fig, _draw_front(ax, results, objectives, x, y, color))
    return fig


def plot_relative(
    results: pd.DataFrame, objectives: Objectives | None = None, *, paper: bool = True
) -> Figure:
    """Accuracy change (points) vs speedup, each relative to its own baseline; paper alongside.

    The study's points are coloured by their emissions ratio to the study's baseline; the
    paper's Table I rows (relative to its 92.43 baseline; no emissions reported) are a separate
    series. The crosshair at (1×, 0 points) is each baseline. Front points are labelled.

    >>> plot_relative(table).savefig("relative.png")  # doctest: +SKIP
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    fig, ax = plt.subplots(figsize=(8.0, 6.0), dpi=PNG_DPI, layout="constrained")
    _label_all(fig, _draw_relative(ax, results, objectives, paper))
    return fig


# A panel: ("front", x, y, colour) or ("relative", "", "", None).
_Panel = tuple[str, str, str, str | None]


def _panels(results: pd.DataFrame, objectives: dict[str, str]) -> list[_Panel]:
    """The study's three views when the table has its metrics, else the objectives pairwise."""
    columns = set(results.columns)
    panels: list[_Panel] = []
    if {ACCURACY, SPEEDUP} <= columns:
        panels.append(("front", SPEEDUP, ACCURACY, EMISSIONS_KG))
    if {ACCURACY, EMISSIONS_KG} <= columns:
        panels.append(("front", EMISSIONS_KG, ACCURACY, SPEEDUP))
    if {ACCURACY, SPEEDUP} <= columns:
        panels.append(("relative", "", "", None))
    if panels:
        return panels
    names = list(objectives)
    if len(names) < 2:
        raise ValueError(
            f"nothing to plot: the results lack {ACCURACY} with {SPEEDUP} or {EMISSIONS_KG}, "
            f"and one objective ({names[0]}) makes no scatter"
        )
    first = names[0]
    return [("front", x, first, next((n for n in names[1:] if n != x), None)) for x in names[1:3]]


def plot_study(results: pd.DataFrame, objectives: Objectives | None = None) -> Figure:
    """The three views side by side: accuracy vs speedup, accuracy vs emissions, relative view.

    A panel whose columns the results lack is left out; a table without accuracy and speedup
    (e.g. an Optuna study without metric names: ``values_0``, ...) shows its first objective
    against the next ones. The figure is 1920 x 640 pixels.

    >>> plot_study(table).savefig("pareto.png")  # doctest: +SKIP
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    panels = _panels(results, objectives)
    fig, axes = plt.subplots(
        1, len(panels), figsize=PNG_SIZE_INCHES, dpi=PNG_DPI, layout="constrained", squeeze=False
    )
    pending: list[_Labels] = []
    for (kind, x, y, colour), ax in zip(panels, axes[0], strict=True):
        if kind == "relative":
            pending += _draw_relative(ax, results, objectives, paper=True)
        else:
            pending += _draw_front(ax, results, objectives, x, y, colour)
    _label_all(fig, pending)
    return fig


def _hover(table: pd.DataFrame, metrics: list[str]) -> list[str]:
    columns = [c for c in (*CONFIG_COLUMNS, *metrics) if c in table.columns]
    lines = []
    for row in table[columns].to_dict("records"):
        parts = [f"<b>{config_label(row)}</b>"]
        for column, value in row.items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            parts.append(f"{column}: {value}")
        lines.append("<br>".join(parts))
    return lines


def _text_positions(n: int) -> list[str]:
    cycle = ("top right", "bottom left", "top left", "bottom right")
    return [cycle[i % len(cycle)] for i in range(n)]


def _html_scatter(
    table: pd.DataFrame,
    x: str,
    y: str,
    color: str | None,
    metrics: list[str],
    colorbar: str,
) -> list[go.Scatter]:
    xs, ys = _values(table, x).to_numpy(), _values(table, y).to_numpy()
    colour = _values(table, color).to_numpy() if color else None
    on_front = (table[RANK] == 0).to_numpy()
    hover = np.array(_hover(table, metrics), dtype=object)
    traces = []
    for front, name in ((True, "Pareto front"), (False, "dominated")):
        # Rows of this trace, best `y` first, so the cycled text positions alternate down the front.
        rows = np.flatnonzero(on_front if front else ~on_front)
        rows = rows[np.argsort(-ys[rows], kind="stable")]
        if not len(rows):
            continue
        marker: dict[str, Any] = {"size": 13 if front else 8, "opacity": 1.0 if front else 0.55}
        if front:
            marker["line"] = {"color": _FRONT_EDGE, "width": 1.5}
        if colour is not None:
            marker.update(
                color=colour[rows],
                colorscale=_CMAP.capitalize(),
                cmin=colour.min(),
                cmax=colour.max(),
                showscale=front,
                colorbar={"title": {"text": colorbar}},
            )
        text = _labels(table.iloc[rows], xs[rows], ys[rows]) if front else None
        traces.append(
            go.Scatter(
                x=xs[rows],
                y=ys[rows],
                mode="markers+text" if front else "markers",
                name=name,
                marker=marker,
                text=text,
                textposition=_text_positions(len(rows)) if front else None,
                hovertext=hover[rows],
                hoverinfo="text",
            )
        )
    return traces


def plot_front_html(
    results: pd.DataFrame,
    objectives: Objectives | None = None,
    *,
    x: str = SPEEDUP,
    y: str = ACCURACY,
    color: str | None = EMISSIONS_KG,
) -> go.Figure:
    """The interactive twin of :func:`plot_front`; hovering a point shows its config and metrics.

    >>> plot_front_html(table).write_html("front.html", include_plotlyjs=True)  # doctest: +SKIP
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    color = color if color is not None and color in results.columns else None
    table = _plotted(results, objectives, [x, y] + ([color] if color else []))
    metrics = list(dict.fromkeys([*objectives, x, y, NUM_PARAMETERS]))
    fig = go.Figure(
        _html_scatter(table, x, y, color, metrics, AXIS_LABELS.get(color or "", color or ""))
    )
    fig.update_layout(
        title=f"{y} vs {x}: the Pareto front over {', '.join(objectives)}",
        xaxis_title=AXIS_LABELS.get(x, x),
        yaxis_title=AXIS_LABELS.get(y, y),
        template="plotly_white",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def plot_relative_html(
    results: pd.DataFrame, objectives: Objectives | None = None, *, paper: bool = True
) -> go.Figure:
    """The interactive twin of :func:`plot_relative`.

    >>> fig = plot_relative_html(table)  # doctest: +SKIP
    >>> fig.write_html("relative.html", include_plotlyjs=True)  # doctest: +SKIP
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    fig = go.Figure()
    if not baseline_rows(results).empty:
        relative = relative_to_baseline(results)
        table = _plotted(relative, objectives, [SPEEDUP_VS_BASELINE, ACCURACY_CHANGE])
        ratio = table[EMISSIONS_RATIO]
        color = EMISSIONS_RATIO if len(ratio) and np.isfinite(ratio).all() else None
        metrics = [*objectives, SPEEDUP_VS_BASELINE, ACCURACY_CHANGE, EMISSIONS_RATIO]
        for trace in _html_scatter(
            table,
            SPEEDUP_VS_BASELINE,
            ACCURACY_CHANGE,
            color,
            metrics,
            AXIS_LABELS[EMISSIONS_RATIO],
        ):
            trace.name = f"this study: {trace.name}"
            fig.add_trace(trace)
    if paper:
        table_i = paper_relative()
        fig.add_trace(
            go.Scatter(
                x=table_i[SPEEDUP_VS_BASELINE],
                y=table_i[ACCURACY_CHANGE],
                mode="markers+text",
                name=f"paper Table I (GPU; vs its {PAPER_BASELINE.accuracy:.2f} baseline)",
                marker={"symbol": "diamond-open", "size": 11, "color": _PAPER_COLOUR},
                text=table_i["name"],
                textposition=_text_positions(len(table_i)),
                textfont={"color": _PAPER_COLOUR},
                hovertext=[
                    f"<b>paper: {r['name']}</b><br>accuracy {r['accuracy_percent']:.2f}%"
                    f"<br>speedup {r[SPEEDUP]:.2f}×<br>params {r[NUM_PARAMETERS] / 1e6:.0f}M"
                    for r in table_i.to_dict("records")
                ],
                hoverinfo="text",
            )
        )
    fig.add_hline(y=0, line={"color": "grey", "width": 1})
    fig.add_vline(x=1, line={"color": "grey", "width": 1})
    fig.update_layout(
        title="Change vs each study's own baseline: this study and the paper's Table I",
        xaxis_title=AXIS_LABELS[SPEEDUP_VS_BASELINE],
        yaxis_title=AXIS_LABELS[ACCURACY_CHANGE],
        template="plotly_white",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def _html_figures(results: pd.DataFrame, objectives: dict[str, str]) -> list[go.Figure]:
    return [
        plot_relative_html(results, objectives)
        if kind == "relative"
        else plot_front_html(results, objectives, x=x, y=y, color=colour)
        for kind, x, y, colour in _panels(results, objectives)
    ]


def write_plots(
    results: pd.DataFrame,
    directory: str | Path,
    objectives: Objectives | None = None,
    *,
    stem: str = "pareto",
) -> dict[str, Path]:
    """Write ``<stem>.png`` (:func:`plot_study`) and ``<stem>.html`` (the same views, interactive).

    The HTML embeds plotly.js, so it opens without a network. Returns ``{"png": ..., "html": ...}``.

    >>> write_plots(table, "results/paper")  # doctest: +SKIP
    {'png': PosixPath('results/paper/pareto.png'), 'html': PosixPath('results/paper/pareto.html')}
    """
    objectives = dict(OBJECTIVES if objectives is None else objectives)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png, html = directory / f"{stem}.png", directory / f"{stem}.html"
    fig = plot_study(results, objectives)
    try:
        fig.savefig(png, dpi=PNG_DPI)
    finally:
        plt.close(fig)
    parts = [
        figure.to_html(full_html=False, include_plotlyjs=(i == 0), default_height="640px")
        for i, figure in enumerate(_html_figures(results, objectives))
    ]
    title = f"Pareto front: {', '.join(f'{n} ({d})' for n, d in objectives.items())}"
    html.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body>\n<h2>{title}</h2>\n"
        + "\n".join(parts)
        + "\n</body></html>\n",
        encoding="utf-8",
    )
    return {"png": png, "html": html}
