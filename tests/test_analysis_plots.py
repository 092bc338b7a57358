"""The plots render: files exist, are non-empty, and the PNG has the size the code promises."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis import (
    config_label,
    paper_relative,
    plot_front,
    plot_front_html,
    plot_relative,
    relative_to_baseline,
    write_plots,
)
from analysis.plots import PNG_DPI, PNG_SIZE_INCHES
from search_spaces.paper import PAPER_TABLE
from trainables.metrics import ACCURACY, EMISSIONS_KG, SPEEDUP


def study_table() -> pd.DataFrame:
    """The paper's grid at CPU scale, two sweep trials, a duplicate seed, an error."""
    rows = [
        # kind, density, distil, temperature, alpha, accuracy, speedup, emissions_kg
        ("baseline", 1.00, False, np.nan, np.nan, 0.794, 1.00, 3.1e-6),
        ("prune", 0.75, False, 2.0, 0.9, 0.791, 1.29, 2.4e-6),
        ("prune", 0.50, False, 2.0, 0.9, 0.780, 1.98, 1.6e-6),
        ("prune", 0.25, False, 2.0, 0.9, 0.744, 3.71, 0.9e-6),
        ("prune", 0.75, True, 2.0, 0.9, 0.793, 1.31, 2.4e-6),
        ("prune", 0.50, True, 2.0, 0.9, 0.786, 2.02, 1.6e-6),
        ("prune", 0.50, True, 2.0, 0.9, 0.786, 2.02, 1.6e-6),
        ("prune", 0.25, True, 2.0, 0.9, 0.761, 3.80, 0.9e-6),
        ("prune", 0.40, True, 4.0, 0.5, 0.782, 2.45, 1.3e-6),
        ("prune", 0.10, True, 2.0, 0.9, np.nan, np.nan, np.nan),
    ]
    columns = ["kind", "density", "distil", "temperature", "alpha_distil"]
    table = pd.DataFrame(rows, columns=[*columns, ACCURACY, SPEEDUP, EMISSIONS_KG])
    table["name"] = (
        [row.name for row in PAPER_TABLE[:5]]
        + ["50% pruning + KD"] * 2
        + [
            PAPER_TABLE[6].name,
            "12",
            "13",
        ]
    )
    table["status"] = ["TERMINATED"] * 9 + ["ERROR"]
    table["trial_id"] = [f"t{i}" for i in range(len(table))]
    return table


def test_write_plots_png_and_html(tmp_path) -> None:
    written = write_plots(study_table(), tmp_path / "out")
    png, html = written["png"], written["html"]
    assert png.stat().st_size > 10_000
    with Image.open(png) as image:
        width, height = PNG_SIZE_INCHES
        assert image.size == (round(width * PNG_DPI), round(height * PNG_DPI))
    page = html.read_text(encoding="utf-8")
    assert len(page) > 1_000_000  # plotly.js is embedded: the page opens offline
    assert 'src="https://cdn.plot.ly' not in page
    assert page.count("Plotly.newPlot") == 3
    assert "60% pruning + KD (T=4" in page
    assert "paper Table I" in page
    assert plt.get_fignums() == []  # write_plots closes what it opens


def test_single_figures_render(tmp_path) -> None:
    table = study_table()
    front = plot_front(table, x=EMISSIONS_KG, color=SPEEDUP)
    two = {ACCURACY: "max", SPEEDUP: "max"}
    relative = plot_relative(table.drop(columns=[EMISSIONS_KG]), two)  # no colour scale
    for name, fig in (("front.png", front), ("relative.png", relative)):
        fig.savefig(tmp_path / name)
        plt.close(fig)
        with Image.open(tmp_path / name) as image:
            assert image.size == (800, 600)
    front_trace, dominated_trace = plot_front_html(table).data
    pairs = set(zip(table[SPEEDUP], table[EMISSIONS_KG], strict=True))
    for trace in (front_trace, dominated_trace):  # each point keeps its own colour
        assert set(zip(trace.x, trace.marker.color, strict=True)) <= pairs


def test_without_baseline_the_relative_view_shows_the_paper(tmp_path) -> None:
    table = study_table().iloc[1:]
    written = write_plots(table, tmp_path, {ACCURACY: "max", SPEEDUP: "max"}, stem="no_base")
    assert written["png"].name == "no_base.png" and written["png"].stat().st_size > 0


def test_accuracy_in_percent_is_refused() -> None:
    table = study_table()
    table[ACCURACY] *= 100
    with pytest.raises(ValueError, match="fraction"):
        plot_front(table)
    plt.close("all")


def test_relative_views() -> None:
    relative = relative_to_baseline(study_table())
    assert relative.loc[5, "accuracy_change_points"] == pytest.approx(-0.8)
    assert relative.loc[3, "emissions_ratio"] == pytest.approx(0.9 / 3.1)
    paper = paper_relative()
    assert paper["accuracy_change_points"].tolist() == [
        0.0,
        -0.14,
        -0.62,
        -2.32,
        -0.25,
        -0.94,
        -1.88,
    ]
    assert paper["emissions_ratio"].isna().all()


def test_config_labels_in_the_papers_words() -> None:
    for row in PAPER_TABLE:
        kind = "baseline" if row.is_baseline else "prune"
        grid_row = {"kind": kind, "density": row.density, "distil": row.distil, "name": "7"}
        assert config_label(grid_row) == row.name
    assert config_label({"name": "trial 3"}) == "trial 3"
    assert config_label({"density": 0.5, "distil": "False"}) == "50% pruning"


def test_any_objectives_are_plotted_pairwise(tmp_path) -> None:
    table = pd.DataFrame({"values_0": [0.8, 0.7, 0.6], "values_1": [1.0, 3.0, 2.0]})
    objectives = {"values_0": "max", "values_1": "max"}
    written = write_plots(table, tmp_path, objectives)
    assert written["png"].stat().st_size > 0
    with pytest.raises(ValueError, match="nothing to plot"):
        write_plots(table, tmp_path, {"values_0": "max"})
