"""Pareto analysis of a compression study: fronts, hypervolume, readers and plots. No Ray needed.

>>> from analysis import read_results, pareto_front, write_plots
>>> table = read_results("results/paper")  # doctest: +SKIP
>>> front = pareto_front(table, {"accuracy": "max", "speedup": "max", "emissions_kg": "min"})
... # doctest: +SKIP
>>> write_plots(table, "results/paper", paper=True)  # doctest: +SKIP

Figures are computed once as views (:func:`study_views`: plain data) and drawn by two renderers
(:func:`png_figure`, :func:`html_figures` / :func:`html_page`).

From a shell: ``python -m analysis.pareto RESULTS [--objectives accuracy:max,speedup:max]``.
"""

from analysis.front import (
    baseline_rows,
    excluded_rows,
    exclusion_reasons,
    hypervolume,
    pareto_front,
    pareto_ranks,
    parse_objectives,
    reference_point,
)
from analysis.labels import config_label
from analysis.optuna_plots import hypervolume_reference, write_optuna_plots
from analysis.plots import write_plots
from analysis.readers import read_optuna, read_results, read_summary, read_tune_experiment
from analysis.relative import compares_with_paper, paper_relative, relative_to_baseline
from analysis.render_html import html_figures, html_page
from analysis.render_png import png_figure
from analysis.views import PaperSeries, View, front_view, relative_view, study_views

__all__ = [
    "PaperSeries",
    "View",
    "baseline_rows",
    "compares_with_paper",
    "config_label",
    "excluded_rows",
    "exclusion_reasons",
    "front_view",
    "html_figures",
    "html_page",
    "hypervolume",
    "hypervolume_reference",
    "paper_relative",
    "pareto_front",
    "pareto_ranks",
    "parse_objectives",
    "png_figure",
    "read_optuna",
    "read_results",
    "read_summary",
    "read_tune_experiment",
    "reference_point",
    "relative_to_baseline",
    "relative_view",
    "study_views",
    "write_optuna_plots",
    "write_plots",
]
