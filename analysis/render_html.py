"""Draw views (:mod:`analysis.views`) with plotly: one interactive figure per view, one page.

The page embeds plotly.js, so it opens without a network. Hovering a point shows its
configuration and metrics; front points carry the same numbers as the PNG, and a key table under
the figures says what each number stands for. Replicated configurations carry error bars (a trace
of their own, named in the legend); the classical reference is a labelled star.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from analysis.labels import mark_side
from analysis.panels import (
    CMAP,
    ERROR_NAME,
    FRONT_EDGE,
    PAPER_COLOUR,
    REFERENCE_COLOUR,
    Reference,
    View,
)

HEIGHT = "640px"


def _hover(labels: Sequence[str], details: Sequence[str]) -> list[str]:
    return [
        f"<b>{html.escape(label)}</b><br>" + html.escape(lines).replace("\n", "<br>")
        for label, lines in zip(labels, details, strict=True)
    ]


def _position(dx: int, dy: int) -> str:
    return f"{'top' if dy > 0 else 'bottom'} {'right' if dx > 0 else 'left'}"


def _bar(err: np.ndarray | None, rows: np.ndarray) -> dict[str, Any] | None:
    """One axis' bars, (below, above) per point: even (± sd) or not (×/÷ a geometric sd)."""
    if err is None:
        return None
    return {
        "type": "data",
        "symmetric": False,
        "array": err[1, rows],
        "arrayminus": err[0, rows],
        "visible": True,
        "color": "#595959",
        "width": 3,
    }


def _error_bars(
    x: np.ndarray,
    y: np.ndarray,
    x_err: np.ndarray | None,
    y_err: np.ndarray | None,
    name: str,
    legend: bool = True,
) -> go.Scatter | None:
    """Bars at the points with a finite half-width on either axis (NaN draws none), as a trace
    of their own: the legend says what they span, and the points' traces stay as without them."""
    has = np.zeros(len(x), dtype=bool)
    for err in (x_err, y_err):
        if err is not None:
            has |= np.isfinite(err).any(axis=0)
    if not has.any():
        return None
    return go.Scatter(
        x=x[has],
        y=y[has],
        mode="markers",
        marker={"size": 1, "opacity": 0},  # the bars only: the points are drawn by their trace
        error_x=_bar(x_err, has),
        error_y=_bar(y_err, has),
        name=name,
        showlegend=legend,
        hoverinfo="skip",
    )


def _reference(reference: Reference) -> list[go.Scatter]:
    name = f"{reference.name} {ERROR_NAME}"
    bars = _error_bars(reference.x, reference.y, reference.x_err, reference.y_err, name, False)
    star = go.Scatter(
        x=reference.x,
        y=reference.y,
        mode="markers+text",
        name=reference.name,
        marker={
            "symbol": "star",
            "size": 18,
            "color": REFERENCE_COLOUR,
            "line": {"color": "black", "width": 1},
        },
        text=list(reference.labels),
        textposition="top center",
        textfont={"color": REFERENCE_COLOUR},
        hovertext=_hover(reference.labels, reference.details),
        hoverinfo="text",
    )
    return [star] if bars is None else [bars, star]


def _points(view: View) -> list[go.Scatter]:
    hover = _hover(view.labels, view.details)
    traces = []
    for front in (True, False):
        rows = [i for i, on in enumerate(view.on_front) if on == front]
        if not rows:
            continue
        marker: dict[str, Any] = {"size": 13 if front else 8, "opacity": 1.0 if front else 0.55}
        if front:
            marker["line"] = {"color": FRONT_EDGE, "width": 1.5}
        if view.colour is not None:
            marker.update(
                color=view.colour[rows],
                colorscale=CMAP.capitalize(),
                cmin=view.colour.min(),
                cmax=view.colour.max(),
                showscale=front,
                colorbar={"title": {"text": view.colour_label}},
            )
        traces.append(
            go.Scatter(
                x=view.x[rows],
                y=view.y[rows],
                mode="markers+text" if front else "markers",
                name=view.front_name if front else view.dominated_name,
                marker=marker,
                text=[view.marks[i] for i in rows] if front else None,
                textposition=[_position(*mark_side(view.marks[i], view.front_falls)) for i in rows],
                hovertext=[hover[i] for i in rows],
                hoverinfo="text",
            )
        )
    return traces


def _figure(view: View) -> go.Figure:
    fig = go.Figure()
    if view.staircase is not None:
        x, y = view.staircase
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=view.staircase_name,
                line={"dash": "dash", "color": "grey", "width": 1},
                hoverinfo="skip",
            )
        )
    bars = _error_bars(view.x, view.y, view.x_err, view.y_err, view.error_name)
    for trace in ([] if bars is None else [bars]) + _points(view):
        fig.add_trace(trace)
    if view.reference is not None:
        for trace in _reference(view.reference):
            fig.add_trace(trace)
    if view.paper is not None:
        paper = view.paper
        fig.add_trace(
            go.Scatter(
                x=paper.x,
                y=paper.y,
                mode="markers+text",
                name=paper.name,
                marker={"symbol": "diamond-open", "size": 11, "color": PAPER_COLOUR},
                text=list(paper.marks),
                textposition="bottom right",
                textfont={"color": PAPER_COLOUR},
                hovertext=_hover(paper.labels, paper.details),
                hoverinfo="text",
            )
        )
    if view.crosshair is not None:
        fig.add_hline(y=view.crosshair[1], line={"color": "grey", "width": 1})
        fig.add_vline(x=view.crosshair[0], line={"color": "grey", "width": 1})
    title = f"{html.escape(view.title)}<br><sup>{html.escape(view.note)}</sup>"
    fig.update_layout(
        title=title if view.note else view.title,
        xaxis_title=view.x_label,
        yaxis_title=view.y_label,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.15},
    )
    if view.log_x:
        fig.update_xaxes(type="log")
    if view.log_y:
        fig.update_yaxes(type="log")
    return fig


def html_figures(views: Sequence[View]) -> list[go.Figure]:
    """One plotly figure per view (:func:`html_page` puts them on a page)."""
    return [_figure(view) for view in views]


def _key_table(views: Sequence[View]) -> str:
    entries = list(dict.fromkeys(entry for view in views for entry in view.key))
    paper = next((v.paper for v in views if v.paper is not None), None)
    rows = [
        f"<tr><td><b>{html.escape(m)}</b></td><td>{html.escape(t)}</td></tr>" for m, t in entries
    ]
    if paper is not None:
        rows += [
            f"<tr style='color:{PAPER_COLOUR}'><td><i>{html.escape(m)}</i></td>"
            f"<td>{html.escape(t)}</td></tr>"
            for m, t in zip(paper.marks, paper.labels, strict=True)
        ]
    if not rows:
        return ""
    return (
        "<h3>Numbered points</h3>\n<table style='border-collapse:collapse' cellpadding='3'>\n"
        + "\n".join(rows)
        + "\n</table>"
    )


def html_page(views: Sequence[View], title: str) -> str:
    """A whole HTML page: ``title``, the views' figures (plotly.js embedded once), the key.

    >>> import pandas as pd
    >>> from analysis import study_views
    >>> table = pd.DataFrame({"kind": ["baseline", "prune", "prune"],
    ...                       "target_density": [1.0, 0.5, 0.25],
    ...                       "accuracy": [0.90, 0.88, 0.85], "val_accuracy": [0.89, 0.87, 0.86],
    ...                       "speedup": [1.0, 1.6, 2.5], "emissions_kg": [3e-6, 2e-6, 1e-6]})
    >>> html_page(study_views(table), "front").startswith("<!DOCTYPE html>")
    True
    """
    parts = [
        figure.to_html(full_html=False, include_plotlyjs=(i == 0), default_height=HEIGHT)
        for i, figure in enumerate(html_figures(views))
    ]
    heading = html.escape(title)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{heading}</title></head><body>\n<h2>{heading}</h2>\n"
        + "\n".join(parts)
        + f"\n{_key_table(views)}\n</body></html>\n"
    )
