"""Pareto analysis of a compression study: fronts, hypervolume, readers and plots. No Ray needed.

>>> from analysis import read_results, pareto_front, write_plots
>>> table = read_results("results/paper")  # doctest: +SKIP
>>> front = pareto_front(table, {"accuracy": "max", "speedup": "max", "emissions_kg": "min"})
... # doctest: +SKIP
>>> write_plots(table, "results/paper")  # doctest: +SKIP

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
from analysis.plots import (
    config_label,
    plot_front,
    plot_front_html,
    plot_relative,
    plot_relative_html,
    plot_study,
    write_plots,
)
from analysis.readers import read_optuna, read_results, read_summary, read_tune_experiment
from analysis.relative import paper_relative, relative_to_baseline

__all__ = [
    "baseline_rows",
    "config_label",
    "excluded_rows",
    "exclusion_reasons",
    "hypervolume",
    "paper_relative",
    "pareto_front",
    "pareto_ranks",
    "parse_objectives",
    "plot_front",
    "plot_front_html",
    "plot_relative",
    "plot_relative_html",
    "plot_study",
    "read_optuna",
    "read_results",
    "read_summary",
    "read_tune_experiment",
    "reference_point",
    "relative_to_baseline",
    "write_plots",
]
