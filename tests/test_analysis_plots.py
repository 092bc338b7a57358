"""Views computed once, drawn twice: what each view holds, and that both files render."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis import (
    config_label,
    front_view,
    html_figures,
    paper_relative,
    png_figure,
    relative_to_baseline,
    relative_view,
    study_views,
    write_plots,
)
from analysis.render_png import PANEL_INCHES, PNG_DPI
from search_spaces.paper import PAPER_TABLE
from trainables.metrics import ACCURACY, EMISSIONS_KG, SPEEDUP


def study_table() -> pd.DataFrame:
    """The paper's grid at CPU scale, two sweep trials, a duplicate seed, an error."""
    rows = [
        # kind, target_density, distil, temperature, alpha, accuracy, speedup, emissions_kg
        ("baseline", np.nan, False, np.nan, np.nan, 0.794, 1.00, 3.1e-6),
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
    columns = ["kind", "target_density", "distil", "temperature", "alpha_distil"]
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
    table["data/variant"] = "lpc"  # data settings arrive flattened; nothing reads them here
    return table


def test_study_views_hold_what_both_files_draw() -> None:
    views = study_views(study_table(), paper=True)
    assert [(v.x_name, v.y_name) for v in views] == [
        (SPEEDUP, ACCURACY),
        (EMISSIONS_KG, ACCURACY),
        ("speedup_vs_baseline", "accuracy_change_points"),
    ]
    speed, energy, relative = views
    assert len(speed.x) == 9  # the error row is left out
    assert speed.y.max() == pytest.approx(79.4)  # accuracy in percent
    # Front: the baseline, each + KD run (50% twice) and the T=4 sweep trial.
    assert speed.on_front.tolist() == [True, False, False, False, True, True, True, True, True]
    np.testing.assert_allclose(speed.colour, study_table()[EMISSIONS_KG].to_numpy()[:9])
    assert dict(speed.key) == {
        "1": "baseline",
        "2": "25% pruning + KD",
        "3": "50% pruning + KD ×2",
        "4": "60% pruning + KD (T=4, α=0.5)",
        "5": "75% pruning + KD",
    }
    # Every view numbers the same row alike; the duplicate shows its number once.
    for view in views:
        assert view.marks[5:7] == ("3", "")
        assert view.marks[1] == "" and view.marks[0] == "1"
    # The staircase follows the 2-D front as vertical-then-horizontal steps for a maximised x.
    sx, sy = speed.staircase
    assert (sx[0], sy[0]) == (1.0, pytest.approx(79.4)) and sx[-1] == 3.80
    assert energy.front_falls is False and speed.front_falls is True
    assert relative.crosshair == (1.0, 0.0)
    assert relative.colour[0] == pytest.approx(1.0)  # the baseline's own emissions ratio
    assert relative.paper is not None and relative.paper.labels[1] == "paper: 25% pruning"
    assert "target_density: 0.4" in relative.details[8]


def test_the_paper_appears_only_when_asked() -> None:
    table = study_table()
    assert study_views(table)[-1].paper is None  # default: our numbers only
    assert relative_view(table, paper=False).title == "change vs own baseline"
    no_baseline = table.iloc[1:]
    assert len(study_views(no_baseline)) == 2  # no baseline, no paper: no relative view
    paper_only = relative_view(no_baseline, paper=True)
    assert len(paper_only.x) == 0 and len(paper_only.paper.x) == len(PAPER_TABLE)


def test_write_plots_png_and_html(tmp_path) -> None:
    table = study_table()
    table["paper_accuracy"] = np.nan  # a study on the paper's data writes this column
    written = write_plots(table, tmp_path / "out")
    png, html = written["png"], written["html"]
    assert png.stat().st_size > 10_000
    with Image.open(png) as image:
        assert image.size == (1920, 640)
    page = html.read_text(encoding="utf-8")
    assert len(page) > 1_000_000  # plotly.js is embedded: the page opens offline
    assert 'src="https://cdn.plot.ly' not in page
    assert page.count("Plotly.newPlot") == 3
    assert "60% pruning + KD (T=4, α=0.5)</td>" in page  # the key table
    assert "paper Table I" in page and "paper: 25% pruning</td>" in page
    assert plt.get_fignums() == []  # write_plots closes what it opens

    other = write_plots(study_table(), tmp_path / "other")  # no paper_* columns: ours only
    assert "paper Table I" not in other["html"].read_text(encoding="utf-8")
    forced = write_plots(study_table(), tmp_path / "forced", paper=True)
    assert "paper Table I" in forced["html"].read_text(encoding="utf-8")


def test_single_views_render(tmp_path) -> None:
    table = study_table()
    front = front_view(table, x=EMISSIONS_KG, color=SPEEDUP)
    two = {ACCURACY: "max", SPEEDUP: "max"}
    relative = relative_view(table.drop(columns=[EMISSIONS_KG]), two)
    assert relative.colour is None  # no emissions: one plain colour
    for name, view in (("front.png", front), ("relative.png", relative)):
        fig = png_figure([view])
        fig.savefig(tmp_path / name, dpi=PNG_DPI)
        plt.close(fig)
        with Image.open(tmp_path / name) as image:
            assert image.size == (round(PANEL_INCHES * PNG_DPI),) * 2
    (figure,) = html_figures([front])
    traces = {trace.name: trace for trace in figure.data}
    pairs = set(zip(table[EMISSIONS_KG], table[SPEEDUP], strict=True))
    for name in ("Pareto front (all objectives)", "dominated"):  # each point keeps its colour
        trace = traces[name]
        assert set(zip(trace.x, trace.marker.color, strict=True)) <= pairs
    assert list(traces["Pareto front (all objectives)"].text).count("3") == 1


def test_without_baseline_the_plots_are_still_written(tmp_path) -> None:
    table = study_table().iloc[1:]
    written = write_plots(table, tmp_path, {ACCURACY: "max", SPEEDUP: "max"}, stem="no_base")
    assert written["png"].name == "no_base.png" and written["png"].stat().st_size > 0
    with Image.open(written["png"]) as image:
        assert image.size == (1280, 640)  # two panels: no relative view without a baseline


def test_accuracy_in_percent_is_refused() -> None:
    table = study_table()
    table[ACCURACY] *= 100
    with pytest.raises(ValueError, match="fraction"):
        study_views(table)


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
    assert paper["target_density"].tolist()[:2] == [1.0, 0.75]


def test_config_labels_in_the_papers_words() -> None:
    for row in PAPER_TABLE:
        kind = "baseline" if row.is_baseline else "prune"
        grid_row = {"kind": kind, "target_density": row.target_density, "distil": row.distil}
        assert config_label({**grid_row, "name": "7"}) == row.name
    assert config_label({"name": "trial 3"}) == "trial 3"
    assert config_label({"target_density": 0.5, "distil": "False"}) == "50% pruning"
    # The measured density is a metric, never a configuration.
    assert config_label({"density": 0.5, "trial_id": "t9"}) == "t9"


def test_a_crowded_front_is_numbered_with_a_key(tmp_path) -> None:
    n = 30
    density = np.linspace(0.05, 0.95, n)
    table = pd.DataFrame(
        {
            "kind": ["baseline"] + ["prune"] * (n - 1),
            "target_density": density,
            "distil": True,
            "temperature": np.linspace(1, 10, n),
            "alpha_distil": 0.5,
            ACCURACY: 0.7 + 0.1 * density,
            SPEEDUP: 1 / density,
            EMISSIONS_KG: density * 1e-6,
        }
    )
    (view, *_) = study_views(table)
    assert view.on_front.all() and len(view.key) == n
    assert sorted(int(m) for m in view.marks) == list(range(1, n + 1))
    assert view.marks[-1] == "1"  # best accuracy first
    assert write_plots(table, tmp_path)["png"].stat().st_size > 0


def test_any_objectives_are_plotted_pairwise(tmp_path) -> None:
    table = pd.DataFrame({"values_0": [0.8, 0.7, 0.6], "values_1": [1.0, 3.0, 2.0]})
    objectives = {"values_0": "max", "values_1": "max"}
    written = write_plots(table, tmp_path, objectives)
    assert written["png"].stat().st_size > 0
    with pytest.raises(ValueError, match="nothing to plot"):
        write_plots(table, tmp_path, {"values_0": "max"})
