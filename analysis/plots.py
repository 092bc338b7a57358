"""Write a study's figures: the views computed once, drawn as a PNG and as an offline HTML page."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis.front import Objectives, default_objectives
from analysis.labels import energy_estimated
from analysis.relative import compares_with_paper
from analysis.render_html import html_page
from analysis.render_png import PNG_DPI, png_figure
from analysis.views import chosen_on, study_views


def write_plots(
    results: pd.DataFrame,
    directory: str | Path,
    objectives: Objectives | None = None,
    *,
    stem: str = "pareto",
    paper: bool | None = None,
) -> dict[str, Path]:
    """Write ``<stem>.png`` and ``<stem>.html`` (the same views, interactive) into ``directory``.

    The front is chosen on ``objectives`` (default: :func:`analysis.front.default_objectives`,
    validation accuracy, speedup, emissions) and drawn at test accuracy; replicated
    configurations are drawn at their means with error bars (see :func:`study_views`).
    ``paper`` puts the paper's Table I into the relative view; ``None`` decides from the table:
    on when it carries the paper's numbers (``paper_accuracy``, written by a study on the
    paper's data), so a study on other data shows its own numbers only. The HTML embeds
    plotly.js and opens without a network. Returns ``{"png": ..., "html": ...}``.

    >>> import tempfile
    >>> table = pd.DataFrame({"kind": ["baseline", "prune"], "target_density": [1.0, 0.5],
    ...                       "accuracy": [0.90, 0.88], "val_accuracy": [0.89, 0.87],
    ...                       "speedup": [1.0, 1.6], "emissions_kg": [3e-6, 2e-6]})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = write_plots(table, folder, paper=True)
    ...     sorted((kind, path.name, path.is_file()) for kind, path in paths.items())
    [('html', 'pareto.html', True), ('png', 'pareto.png', True)]
    """
    objectives = default_objectives(results) if objectives is None else dict(objectives)
    paper = compares_with_paper(results) if paper is None else paper
    views = study_views(results, objectives, paper=paper)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png, html = directory / f"{stem}.png", directory / f"{stem}.html"
    fig = png_figure(views)
    try:
        fig.savefig(png, dpi=PNG_DPI)
    finally:
        plt.close(fig)
    chosen = chosen_on(objectives, directions=True, estimated=energy_estimated(results))
    title = f"Pareto front chosen on {chosen}"
    html.write_text(html_page(views, title), encoding="utf-8")
    return {"png": png, "html": html}
