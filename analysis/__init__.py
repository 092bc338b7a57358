"""Pareto analysis of a compression study: fronts, hypervolume, readers and plots. No Ray needed.

>>> import pandas as pd
>>> from analysis import pareto_front, per_configuration
>>> table = pd.DataFrame({"name": ["baseline", "50% pruning"], "kind": ["baseline", "prune"],
...                       "target_density": [1.0, 0.5], "accuracy": [0.90, 0.88],
...                       "val_accuracy": [0.89, 0.87], "speedup": [1.0, 1.6],
...                       "emissions_kg": [3e-6, 2e-6]})  # or read_results("results/paper")
>>> pareto_front(per_configuration(table))["name"].tolist()  # on val_accuracy, speedup, emissions
['baseline', '50% pruning']

``write_plots(table, "results/paper")`` draws them (``pareto.png``, ``pareto.html``).

Fronts are chosen on validation accuracy (``trainables.metrics.OBJECTIVES``) and reported with
their test numbers; replicated configurations (``--seeds``) are compared by their means over
seeds (:func:`per_configuration`); the TF-IDF + LR reference is drawn beside the front, never on
it. Figures are computed once as views (:func:`study_views`: plain data) and drawn by two
renderers (:func:`png_figure`, :func:`html_figures` / :func:`html_page`).

From a shell: ``python -m analysis.pareto RESULTS [--objectives val_accuracy:max,speedup:max]``;
two models' test predictions, paired: ``python -m analysis.compare CANDIDATE.npz BASELINE.npz``.
"""

from analysis.configurations import config_table, configuration_ids, configuration_labels
from analysis.errors import AnalysisWarning, PairingWarning, SelectionWarning
from analysis.front import (
    default_objectives,
    excluded_rows,
    exclusion_reasons,
    hypervolume,
    pareto_front,
    pareto_ranks,
    parse_objectives,
    per_configuration,
    reference_point,
)
from analysis.labels import config_label
from analysis.optuna_plots import hypervolume_reference, write_optuna_plots
from analysis.plots import write_plots
from analysis.predictions import TestPredictions, read_predictions, read_test_predictions
from analysis.readers import read_optuna, read_results, read_summary, read_tune_experiment
from analysis.relative import compares_with_paper, paper_relative, relative_to_baseline
from analysis.render_html import html_figures, html_page
from analysis.render_png import png_figure
from analysis.rows import baseline_rows, finished_rows, reference_rows
from analysis.statistics import (
    PairedBootstrap,
    compare_predictions,
    holm_adjust,
    mcnemar_exact,
    paired_bootstrap_delta,
    paired_bootstrap_test,
    payback_column,
    payback_predictions,
    text_rows,
)
from analysis.views import PaperSeries, Reference, View, front_view, relative_view, study_views

__all__ = [
    "AnalysisWarning",
    "PairedBootstrap",
    "PairingWarning",
    "PaperSeries",
    "Reference",
    "SelectionWarning",
    "TestPredictions",
    "View",
    "baseline_rows",
    "compare_predictions",
    "compares_with_paper",
    "config_label",
    "config_table",
    "configuration_ids",
    "configuration_labels",
    "default_objectives",
    "excluded_rows",
    "exclusion_reasons",
    "finished_rows",
    "front_view",
    "holm_adjust",
    "html_figures",
    "html_page",
    "hypervolume",
    "hypervolume_reference",
    "mcnemar_exact",
    "paired_bootstrap_delta",
    "paired_bootstrap_test",
    "paper_relative",
    "pareto_front",
    "pareto_ranks",
    "parse_objectives",
    "payback_column",
    "payback_predictions",
    "per_configuration",
    "png_figure",
    "read_optuna",
    "read_predictions",
    "read_results",
    "read_summary",
    "read_test_predictions",
    "read_tune_experiment",
    "reference_point",
    "reference_rows",
    "relative_to_baseline",
    "relative_view",
    "study_views",
    "text_rows",
    "write_optuna_plots",
    "write_plots",
]
