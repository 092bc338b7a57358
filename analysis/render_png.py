"""Draw views (:mod:`analysis.views`) with matplotlib: one panel per view, side by side.

Front points are large and outlined, dominated ones small and faded, one colour scale per panel;
front points carry their number and a key under the panels says what each number stands for.
Replicated configurations carry error bars; the classical reference is a labelled star.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.labels import mark_side
from analysis.panels import (
    CMAP,
    FRONT_EDGE,
    PAPER_COLOUR,
    REFERENCE_COLOUR,
    PaperSeries,
    Reference,
    View,
)

PANEL_INCHES = 6.4
PNG_DPI = 100  # so three panels make a 1920 x 640 PNG
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


def _scatter(ax: Axes, view: View) -> None:
    """Front points large and outlined, dominated ones small and faded; one colour scale."""
    colour = view.colour
    scatter = None
    for front in (True, False):
        mask = view.on_front if front else ~view.on_front
        if not mask.any():
            continue
        style = {"color": "tab:blue"}
        if colour is not None:
            style = {"c": colour[mask], "cmap": CMAP, "vmin": colour.min(), "vmax": colour.max()}
        drawn = ax.scatter(
            view.x[mask],
            view.y[mask],
            s=90 if front else 28,
            alpha=1.0 if front else 0.55,
            edgecolors=FRONT_EDGE if front else "none",
            linewidths=1.2 if front else 0,
            zorder=3 if front else 2,
            label=view.front_name if front else view.dominated_name,
            **style,
        )
        scatter = scatter or drawn
    if colour is not None and scatter is not None:
        ax.figure.colorbar(scatter, ax=ax, label=view.colour_label, pad=0.01)


def _error_bars(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    x_err: np.ndarray | None,
    y_err: np.ndarray | None,
    label: str,
) -> None:
    """Bars (below, above: shape (2, points)) at the points that have a finite one on either
    axis, none elsewhere."""
    has = np.zeros(len(x), dtype=bool)
    for err in (x_err, y_err):
        if err is not None:
            has |= np.isfinite(err).any(axis=0)
    if not has.any():
        return
    ax.errorbar(
        x[has],
        y[has],
        xerr=None if x_err is None else np.nan_to_num(x_err[:, has]),
        yerr=None if y_err is None else np.nan_to_num(y_err[:, has]),
        fmt="none",
        ecolor="0.35",
        elinewidth=1,
        capsize=2.5,
        zorder=2.5,  # over the dominated points, under the front's markers
        label=label,
    )


def _reference(ax: Axes, reference: Reference) -> None:
    _error_bars(ax, reference.x, reference.y, reference.x_err, reference.y_err, "_nolegend_")
    ax.scatter(
        reference.x,
        reference.y,
        marker="*",
        s=260,
        color=REFERENCE_COLOUR,
        edgecolors="black",
        linewidths=0.8,
        zorder=4,
        label=reference.name,
    )
    _label_points(
        ax,
        reference,
        reference.labels,
        xytext=(0, 9),
        ha="center",
        va="bottom",
        color=REFERENCE_COLOUR,
        weight="bold",
    )


def _label_points(
    ax: Axes, points: Reference | PaperSeries, texts: tuple[str, ...], **look: Any
) -> None:
    """Each text beside its point, in 8 pt with a halo; ``look``: the rest of its style."""
    for x, y, text in zip(points.x, points.y, texts, strict=True):
        ax.annotate(
            text, (x, y), textcoords="offset points", fontsize=8, path_effects=_HALO, **look
        )


def _marks(ax: Axes, view: View) -> None:
    for x, y, mark in zip(view.x, view.y, view.marks, strict=True):
        if not mark:
            continue
        dx, dy = mark_side(mark, view.front_falls)
        ax.annotate(
            mark,
            (x, y),
            xytext=(5 * dx, 4 * dy),
            textcoords="offset points",
            ha="left" if dx > 0 else "right",
            va="bottom" if dy > 0 else "top",
            fontsize=8,
            weight="bold",
            path_effects=_HALO,
        )


def _draw(ax: Axes, view: View) -> None:
    if view.crosshair is not None:
        ax.axhline(view.crosshair[1], color="0.5", lw=0.8)
        ax.axvline(view.crosshair[0], color="0.5", lw=0.8)
    if view.staircase is not None:
        ax.plot(*view.staircase, ls="--", lw=1, color="0.4", zorder=1, label=view.staircase_name)
    _error_bars(ax, view.x, view.y, view.x_err, view.y_err, view.error_name)
    _scatter(ax, view)
    _marks(ax, view)
    if view.reference is not None:
        _reference(ax, view.reference)
    if view.paper is not None:
        paper = view.paper
        ax.scatter(
            paper.x,
            paper.y,
            marker="D",
            s=55,
            facecolors="none",
            edgecolors=PAPER_COLOUR,
            linewidths=1.5,
            zorder=4,
            label=paper.name,
        )
        _label_points(
            ax, paper, paper.marks, xytext=(5, -4), va="top", color=PAPER_COLOUR, style="italic"
        )
    if view.log_x:
        ax.set_xscale("log")
    if view.log_y:
        ax.set_yscale("log")
    ax.set_xlabel(view.x_label)
    ax.set_ylabel(view.y_label)
    ax.set_title(f"{view.title}\n{view.note}" if view.note else view.title, fontsize=10)
    ax.margins(0.12)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.8)


def _key(fig: Figure, views: Sequence[View]) -> None:
    """A table under the panels: each mark and the configuration it stands for."""
    entries = list(dict.fromkeys(entry for view in views for entry in view.key))
    paper = next((v.paper for v in views if v.paper is not None), None)
    if paper is not None:
        entries += list(zip(paper.marks, paper.labels, strict=True))
    if not entries:
        return
    handles = [Line2D([], [], linestyle="none") for _ in entries]
    rows = max(3, -(-len(entries) // (2 * len(views))))  # about two columns per panel
    legend = fig.legend(
        handles,
        [f"{mark}   {label}" for mark, label in entries],
        loc="outside lower center",
        ncols=-(-len(entries) // rows),
        fontsize=8,
        handlelength=0,
        handletextpad=0,
        columnspacing=2.5,
        frameon=False,
    )
    paper_marks = set(paper.marks) if paper is not None else set()
    for (mark, _), text in zip(entries, legend.get_texts(), strict=True):
        if mark in paper_marks:
            text.set_color(PAPER_COLOUR)


def png_figure(views: Sequence[View]) -> Figure:
    """The views side by side, 640 x 640 pixels each, with the key of the numbered points.

    >>> import pandas as pd
    >>> from analysis import study_views
    >>> rows = [("baseline", 1.0, 0.90, 0.89, 1.0, 3e-6), ("prune", 0.5, 0.88, 0.87, 1.6, 2e-6)]
    >>> columns = ["kind", "target_density", "accuracy", "val_accuracy", "speedup", "emissions_kg"]
    >>> figure = png_figure(study_views(pd.DataFrame(rows, columns=columns)))
    >>> [round(inches * figure.dpi) for inches in figure.get_size_inches()][0]
    1920
    """
    if not views:
        raise ValueError("no views to draw")
    fig, axes = plt.subplots(
        1,
        len(views),
        figsize=(PANEL_INCHES * len(views), PANEL_INCHES),
        dpi=PNG_DPI,
        layout="constrained",
        squeeze=False,
    )
    for view, ax in zip(views, axes[0], strict=True):
        _draw(ax, view)
    _key(fig, views)
    return fig
