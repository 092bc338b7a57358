"""Views computed once, drawn twice: what each view holds, and what each figure draws.

The figures are checked through the data they hold (the matplotlib Axes' collections and error
bars, the plotly traces' arrays), against values worked out from the table by hand.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from PIL import Image

from analysis import (
    SelectionWarning,
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
from analysis.panels import ERROR_NAME, View
from analysis.render_png import PANEL_INCHES, PNG_DPI
from search_spaces.paper import PAPER_TABLE
from trainables.metrics import ACCURACY, EMISSIONS_KG, SPEEDUP, VAL_ACCURACY

# The rows of study_table() on the front chosen on validation accuracy, speedup and emissions.
FRONT = ["baseline", "25% pruning + KD", "50% pruning + KD", "12", "75% pruning + KD"]
REFERENCE = "TF-IDF + LR (reference, not a compression)"


def study_table() -> pd.DataFrame:
    """The paper's grid at CPU scale, a sweep trial, the TF-IDF reference and an error.

    Validation and test disagree on "25% pruning": the best test accuracy of all (79.6%), but
    dominated on validation by "25% pruning + KD" (as fast, as clean, 0.795 > 0.770). The
    reference would dominate every compressed model.
    """
    rows = [
        # kind, target_density, distil, T, alpha, val_accuracy, accuracy, speedup, emissions_kg
        ("baseline", np.nan, False, np.nan, np.nan, 0.800, 0.794, 1.00, 3.1e-6),
        ("prune", 0.75, False, 2.0, 0.9, 0.770, 0.796, 1.29, 2.4e-6),
        ("prune", 0.50, False, 2.0, 0.9, 0.780, 0.780, 1.98, 1.6e-6),
        ("prune", 0.25, False, 2.0, 0.9, 0.744, 0.744, 3.71, 0.9e-6),
        ("prune", 0.75, True, 2.0, 0.9, 0.795, 0.793, 1.31, 2.4e-6),
        ("prune", 0.50, True, 2.0, 0.9, 0.786, 0.786, 2.02, 1.6e-6),
        ("prune", 0.25, True, 2.0, 0.9, 0.761, 0.761, 3.80, 0.9e-6),
        ("prune", 0.40, True, 4.0, 0.5, 0.782, 0.782, 2.45, 1.3e-6),
        ("classical", np.nan, False, np.nan, np.nan, 0.830, 0.820, 20.0, 0.2e-6),
        ("prune", 0.10, True, 2.0, 0.9, np.nan, np.nan, np.nan, np.nan),
    ]
    columns = ["kind", "target_density", "distil", "temperature", "alpha_distil"]
    table = pd.DataFrame(rows, columns=[*columns, VAL_ACCURACY, ACCURACY, SPEEDUP, EMISSIONS_KG])
    table["name"] = [row.name for row in PAPER_TABLE[:7]] + ["12", "classical", "13"]
    table["status"] = ["TERMINATED"] * 9 + ["ERROR"]
    table["trial_id"] = [f"t{i}" for i in range(len(table))]
    table["data/variant"] = "lpc"  # data settings arrive flattened; nothing reads them here
    return table


def replicated_table() -> pd.DataFrame:
    """Three configurations run with three seeds; the baseline, a sweep point and the reference
    once each. Only the three replicated configurations have a spread to draw."""
    seeds = {
        # (target_density, distil): (val_accuracy, accuracy, speedup) for seeds 1, 2, 3
        (0.75, False): ([0.72, 0.72, 0.90], [0.72, 0.74, 0.76], [1.20, 1.25, 1.30]),
        (0.75, True): ([0.80, 0.81, 0.82], [0.80, 0.80, 0.83], [1.20, 1.30, 1.40]),
        (0.25, True): ([0.70, 0.71, 0.72], [0.69, 0.70, 0.71], [3.00, 3.10, 3.20]),
    }
    rows = [
        {"kind": "prune", "target_density": density, "distil": distil, "seed": seed,
         VAL_ACCURACY: val[i], ACCURACY: test[i], SPEEDUP: speed[i],
         EMISSIONS_KG: 2e-6 if density > 0.5 else 1e-6}
        for (density, distil), (val, test, speed) in seeds.items()
        for i, seed in enumerate((1, 2, 3))
    ]  # fmt: skip
    once = [
        ("baseline", 1.0, False, 0.83, 0.82, 1.0, 3e-6),
        ("prune", 0.4, True, 0.70, 0.71, 1.1, 2e-6),
        ("classical", np.nan, False, 0.85, 0.84, 20.0, 1e-7),
    ]
    rows += [
        {"kind": kind, "target_density": density, "distil": distil, "seed": 1,
         VAL_ACCURACY: val, ACCURACY: test, SPEEDUP: speed, EMISSIONS_KG: emissions}
        for kind, density, distil, val, test, speed, emissions in once
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    table["name"] = [config_label(row) for row in table.to_dict("records")]
    table["status"] = "TERMINATED"
    table["trial_id"] = [f"t{i}" for i in range(len(table))]
    return table


# --- reading back what a figure draws ----------------------------------------------------------


def _points(table: pd.DataFrame, names: list[str], x: str, y: str) -> set[tuple[float, float]]:
    """(x, y) of the named rows as the figures draw them: accuracy in percent."""
    rows = table.set_index("name").loc[names]
    scale = 100.0 if y == ACCURACY else 1.0
    return {(round(a, 6), round(b * scale, 6)) for a, b in zip(rows[x], rows[y], strict=True)}


def _pairs(xs, ys) -> set[tuple[float, float]]:
    return {(round(float(a), 6), round(float(b), 6)) for a, b in zip(xs, ys, strict=True)}


def _panels(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _drawn(ax: Axes, label: str) -> set[tuple[float, float]]:
    """The points of the scatter labelled ``label`` in ``ax``."""
    (collection,) = [c for c in ax.collections if c.get_label() == label]
    return {(round(float(a), 6), round(float(b), 6)) for a, b in collection.get_offsets()}


def _bars(ax: Axes) -> list[ErrorbarContainer]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _half_widths(container: ErrorbarContainer) -> tuple[dict, dict]:
    """{(x, y): half-width} of the x bars and of the y bars of an errorbar container."""
    x_bars, y_bars = container.lines[2]
    x_half = {
        (round((s[0][0] + s[1][0]) / 2, 6), round(s[0][1], 6)): (s[1][0] - s[0][0]) / 2
        for s in x_bars.get_segments()
        if len(s)
    }
    y_half = {
        (round(s[0][0], 6), round((s[0][1] + s[1][1]) / 2, 6)): (s[1][1] - s[0][1]) / 2
        for s in y_bars.get_segments()
        if len(s)
    }
    return x_half, y_half


def _traces(figure: go.Figure) -> dict[str, go.Scatter]:
    return {trace.name: trace for trace in figure.data}


# --- single seed -------------------------------------------------------------------------------


def test_study_views_hold_what_both_files_draw() -> None:
    views = study_views(study_table(), paper=True)
    assert [(v.x_name, v.y_name) for v in views] == [
        (SPEEDUP, ACCURACY),
        (EMISSIONS_KG, ACCURACY),
        ("speedup_vs_baseline", "accuracy_change_points"),
    ]
    speed, energy, relative = views
    # The front is chosen on validation and drawn at its test accuracy; every panel says so.
    assert speed.y_label == "test accuracy (%)"
    assert speed.title == "test accuracy vs speedup, coloured by emissions"
    for view in views:
        assert view.note == "front chosen on validation accuracy, speedup, emissions"
    assert len(speed.x) == 8  # the error row and the reference are not study points
    # "25% pruning" has the best test accuracy of all and is still dominated: on validation.
    assert speed.y[1] == pytest.approx(79.6) == speed.y.max() and not speed.on_front[1]
    assert speed.on_front.tolist() == [True, False, False, False, True, True, True, True]
    np.testing.assert_allclose(speed.colour, study_table()[EMISSIONS_KG].to_numpy()[:8])
    assert dict(speed.key) == {
        "1": "baseline",
        "2": "25% pruning + KD",
        "3": "50% pruning + KD",
        "4": "60% pruning + KD (T=4, α=0.5)",
        "5": "75% pruning + KD",
    }
    for view in views:  # every view numbers the same row alike, the dominated ones not at all
        assert view.marks == ("1", "", "", "", "2", "3", "5", "4")
    # No staircase through test accuracy: that front was not the one selected.
    assert speed.staircase is None
    assert energy.front_falls is False and speed.front_falls is True
    assert relative.colour[3] == pytest.approx(0.9 / 3.1)  # 75% pruning's emissions ratio
    assert relative.paper is not None and relative.paper.labels[1] == "paper: 25% pruning"
    assert "target_density: 0.4" in relative.details[7]
    # A point's hover box: the validation number that chose it and its test number.
    assert {"val_accuracy: 0.782", "accuracy: 0.782"} <= set(speed.details[7].splitlines())
    for view in views:  # one seed: no error bars anywhere
        assert view.x_err is None and view.y_err is None and view.error_name == ""


def test_png_and_html_draw_the_front_rows_and_the_reference_off_it() -> None:
    table = study_table()
    views = study_views(table)
    dominated = ["25% pruning", "50% pruning", "75% pruning"]
    relative = relative_to_baseline(table[table["status"] == "TERMINATED"])
    expected = {  # per panel: (x column, y column) of the front, the dominated, the reference
        0: (table, SPEEDUP, ACCURACY),
        1: (table, EMISSIONS_KG, ACCURACY),
        2: (relative, "speedup_vs_baseline", "accuracy_change_points"),
    }
    fig = png_figure(views)
    try:
        panels = _panels(fig)
        assert len(panels) == 3
        for i, (ax, figure) in enumerate(zip(panels, html_figures(views), strict=True)):
            source, x, y = expected[i]
            view: View = views[i]
            front = _points(source, FRONT, x, y)
            assert _drawn(ax, view.front_name) == front
            assert _drawn(ax, view.dominated_name) == _points(source, dominated, x, y)
            reference = _points(source, ["classical"], x, y)
            assert _drawn(ax, REFERENCE) == reference
            assert "TF-IDF + LR" in [text.get_text() for text in ax.texts]
            assert _bars(ax) == []  # one seed: no error bars
            traces = _traces(figure)
            assert _pairs(traces[view.front_name].x, traces[view.front_name].y) == front
            assert _pairs(traces[REFERENCE].x, traces[REFERENCE].y) == reference
            assert traces[REFERENCE].marker.symbol == "star"
            assert list(traces[REFERENCE].text) == ["TF-IDF + LR"]
            # Never numbered as a front point: the numbers are the five front rows'.
            assert sorted(traces[view.front_name].text) == ["1", "2", "3", "4", "5"]
            assert "TF-IDF + LR" not in dict(view.key).values()
            assert ERROR_NAME not in traces
            assert "front chosen on validation accuracy" in figure.layout.title.text
            assert figure.layout.yaxis.title.text == view.y_label
    finally:
        plt.close(fig)
    assert panels[0].get_ylabel() == "test accuracy (%)"
    assert "front chosen on validation accuracy" in panels[0].get_title()


def test_results_without_validation_numbers_are_plotted_with_a_warning() -> None:
    old = study_table().drop(columns=[VAL_ACCURACY])
    with pytest.warns(SelectionWarning, match="test split"):
        speed, *_ = study_views(old)
    assert speed.note == "front chosen on test accuracy, speedup, emissions"
    # On test, "25% pruning" (the best test accuracy) is on the front; the baseline it beats
    # in every objective is not.
    assert speed.on_front.tolist() == [False, True, False, False, True, True, True, True]


# --- replicated configurations -----------------------------------------------------------------


def test_replicated_configurations_are_drawn_at_their_means_with_sd_bars() -> None:
    table = replicated_table()
    views = study_views(table)
    speed = views[0]
    assert speed.y_label == "test accuracy (%), mean ± sd"
    assert speed.x_label == "speedup over the teacher (×), geometric mean ×/÷ sd"
    assert speed.error_name == ERROR_NAME == "± 1 sd over seeds (speedup ×/÷ geometric sd)"
    # Worked out from the seeds: mean (x, y) of each configuration, sd (ddof=1) half-widths of
    # the accuracy; the speedup is a ratio: its geometric mean, bars from mean / gsd to
    # mean x gsd, gsd = exp(sd of the logs) (uneven around the mean).
    replicated = {
        "25% pruning": ([0.72, 0.74, 0.76], [1.20, 1.25, 1.30]),
        "25% pruning + KD": ([0.80, 0.80, 0.83], [1.20, 1.30, 1.40]),
        "75% pruning + KD": ([0.69, 0.70, 0.71], [3.00, 3.10, 3.20]),
    }
    means = {
        name: (round(float(np.exp(np.mean(np.log(speed_)))), 6), round(100 * np.mean(test), 6))
        for name, (test, speed_) in replicated.items()
    }
    y_half = {means[n]: 100 * np.std(t, ddof=1) for n, (t, _) in replicated.items()}
    x_span = {}  # (below, above) the geometric mean
    for name, (_, speed_) in replicated.items():
        mean, gsd = means[name][0], float(np.exp(np.std(np.log(speed_), ddof=1)))
        x_span[means[name]] = (mean - mean / gsd, mean * gsd - mean)
    # The front over configuration means: the lucky seed of "25% pruning" does not make it.
    front = {(1.0, 82.0), means["25% pruning + KD"], means["75% pruning + KD"]}
    assert _pairs(speed.x[speed.on_front], speed.y[speed.on_front]) == front

    fig = png_figure(views)
    try:
        ax = _panels(fig)[0]
        assert _drawn(ax, speed.front_name) == front
        (bars,) = _bars(ax)  # the reference was run once: it has none
        assert bars.get_label() == ERROR_NAME
        x_bars, _ = bars.lines[2]
        drawn_x = {}
        for segment in x_bars.get_segments():
            (left, y), (right, _) = segment
            centre = next(p for p in means.values() if round(y, 6) == p[1])
            drawn_x[centre] = (centre[0] - left, right - centre[0])
        _, drawn_y = _half_widths(bars)
        assert drawn_x.keys() == drawn_y.keys() == set(means.values())
        for point in means.values():
            assert drawn_x[point] == pytest.approx(x_span[point], rel=1e-4)  # means rounded
            assert drawn_x[point][0] < drawn_x[point][1]  # ×/÷: longer above the mean
            assert drawn_y[point] == pytest.approx(y_half[point])
        assert ERROR_NAME in [text.get_text() for text in ax.get_legend().get_texts()]
        assert ax.get_ylabel() == "test accuracy (%), mean ± sd"
    finally:
        plt.close(fig)

    traces = _traces(html_figures(views)[0])
    bars = traces[ERROR_NAME]
    points = list(zip(np.round(bars.x, 6), np.round(bars.y, 6), strict=True))
    assert set(points) == set(means.values()) and len(points) == 3
    np.testing.assert_allclose(bars.error_x.arrayminus, [x_span[p][0] for p in points], rtol=1e-4)
    np.testing.assert_allclose(bars.error_x.array, [x_span[p][1] for p in points], rtol=1e-4)
    np.testing.assert_allclose(bars.error_y.array, [y_half[p] for p in points])
    np.testing.assert_allclose(bars.error_y.arrayminus, [y_half[p] for p in points])
    assert traces[REFERENCE].error_x.array is None  # run once: no bars

    # The relative view: the same spreads, in points and in multiples of the baseline's speed.
    relative = views[2]
    has_bar = np.isfinite(relative.y_err).any(axis=0)
    assert has_bar.sum() == 3
    np.testing.assert_allclose(
        sorted(relative.y_err[0][has_bar]), sorted(y_half.values()), rtol=1e-9
    )
    assert np.isfinite(relative.x_err).any(axis=0).sum() == 3  # speedup over own baseline, ×/÷


def test_a_single_seed_table_draws_no_error_bars() -> None:
    fig = png_figure(study_views(study_table()))
    try:
        assert all(_bars(ax) == [] for ax in _panels(fig))
    finally:
        plt.close(fig)


# --- the paper, files, single views ------------------------------------------------------------


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
    with Image.open(png) as image:
        assert image.size == (1920, 640)  # three panels
    page = html.read_text(encoding="utf-8")
    assert len(page) > 1_000_000  # plotly.js is embedded: the page opens offline
    assert 'src="https://cdn.plot.ly' not in page
    assert page.count("Plotly.newPlot") == 3
    assert "<h2>Pareto front chosen on validation accuracy (max)," in page
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
    two = {VAL_ACCURACY: "max", SPEEDUP: "max"}
    relative = relative_view(table.drop(columns=[EMISSIONS_KG]), two)
    assert relative.colour is None  # no emissions: one plain colour
    for name, view in (("front.png", front), ("relative.png", relative)):
        fig = png_figure([view])
        fig.savefig(tmp_path / name, dpi=PNG_DPI)
        plt.close(fig)
        with Image.open(tmp_path / name) as image:
            assert image.size == (round(PANEL_INCHES * PNG_DPI),) * 2
    (figure,) = html_figures([front])
    traces = _traces(figure)
    pairs = set(zip(table[EMISSIONS_KG], table[SPEEDUP], strict=True))
    for name in ("Pareto front (all objectives)", "dominated"):  # each point keeps its colour
        trace = traces[name]
        assert set(zip(trace.x, trace.marker.color, strict=True)) <= pairs
    assert sorted(traces["Pareto front (all objectives)"].text) == ["1", "2", "3", "4", "5"]


def test_without_baseline_the_plots_are_still_written(tmp_path) -> None:
    table = study_table().iloc[1:]
    written = write_plots(table, tmp_path, {VAL_ACCURACY: "max", SPEEDUP: "max"}, stem="no_base")
    assert written["png"].name == "no_base.png"
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
    assert config_label({"kind": "classical", "name": "classical", "seed": 3}) == "TF-IDF + LR"
    # The measured density is a metric, never a configuration.
    assert config_label({"density": 0.5, "trial_id": "t9"}) == "t9"


def test_a_crowded_front_is_numbered_with_a_key() -> None:
    n = 30
    density = np.linspace(0.05, 0.95, n)
    table = pd.DataFrame(
        {
            "kind": ["baseline"] + ["prune"] * (n - 1),
            "target_density": density,
            "distil": True,
            "temperature": np.linspace(1, 10, n),
            "alpha_distil": 0.5,
            VAL_ACCURACY: 0.7 + 0.1 * density,
            ACCURACY: 0.69 + 0.1 * density,
            SPEEDUP: 1 / density,
            EMISSIONS_KG: density * 1e-6,
        }
    )
    views = study_views(table)
    view = views[0]
    assert view.on_front.all() and len(view.key) == n
    assert sorted(int(m) for m in view.marks) == list(range(1, n + 1))
    assert view.marks[-1] == "1"  # best accuracy first
    fig = png_figure(views)
    try:
        (key,) = fig.legends  # the key under the panels: one entry per number
        assert [t.get_text().split()[0] for t in key.get_texts()] == [str(i) for i in range(1, 31)]
    finally:
        plt.close(fig)


def test_any_objectives_are_plotted_pairwise(tmp_path) -> None:
    table = pd.DataFrame({"values_0": [0.8, 0.7, 0.6], "values_1": [1.0, 3.0, 2.0]})
    objectives = {"values_0": "max", "values_1": "max"}
    (view,) = study_views(table, objectives)
    assert (view.x_name, view.y_name) == ("values_1", "values_0")
    # Rows without config columns stay points of their own (no configurations to merge).
    assert _pairs(view.x, view.y) == {(1.0, 0.8), (3.0, 0.7), (2.0, 0.6)}
    assert view.on_front.tolist() == [True, True, False]
    assert view.staircase is not None  # both axes chose the front
    written = write_plots(table, tmp_path, objectives)
    with Image.open(written["png"]) as image:
        assert image.size == (640, 640)  # two objectives: one panel
    with pytest.raises(ValueError, match="nothing to plot"):
        write_plots(table, tmp_path, {"values_0": "max"})


# --------------------------------------------------------------------------------------------
# Axes that read at a glance: what a column means, log where speedups span far, "estimated"


def test_a_far_faster_reference_puts_speedup_on_a_log_axis_in_both_speedup_panels() -> None:
    table = study_table()
    table.loc[table["kind"] == "classical", SPEEDUP] = 828.0  # a TF-IDF row as on LPC
    speed, energy, relative = study_views(table)
    assert speed.log_x and relative.log_x
    assert speed.x_label == "speedup over the teacher (×, log)"
    assert relative.x_label == "speedup over own baseline (×, log)"
    assert not energy.log_x  # emissions span 0.2e-6 to 3.1e-6: a linear axis
    assert energy.x_label == "emissions per test pass (kg CO₂eq)"
    fig = png_figure([speed, energy, relative])
    try:
        scales = [ax.get_xscale() for ax in _panels(fig)]
    finally:
        plt.close(fig)
    assert scales == ["log", "linear", "log"]
    html_types = [f.layout.xaxis.type for f in html_figures([speed, energy, relative])]
    assert html_types == ["log", None, "log"]
    # without the far reference the compression points span under 30x: linear, and said so
    plain = study_views(study_table())
    assert not plain[2].log_x and plain[2].x_label == "speedup over own baseline (×)"


def test_estimated_emissions_say_so_on_every_axis_title_and_colour_bar() -> None:
    table = study_table()
    table["energy_method"] = (
        "estimated from time (cpu: TDP x load estimate; ram: size estimate); machine tracking"
    )
    speed, energy, relative = study_views(table)
    assert speed.colour_label == "emissions per test pass, estimated (kg CO₂eq)"
    assert energy.x_label == "emissions per test pass, estimated (kg CO₂eq)"
    assert relative.colour_label == "emissions / own baseline's, estimated"
    assert speed.title == "test accuracy vs speedup, coloured by emissions (estimated)"
    assert speed.note == "front chosen on validation accuracy, speedup, emissions (estimated)"
    (figure, *_) = html_figures([speed, energy, relative])
    bars = {t.marker.colorbar.title.text for t in figure.data if t.marker.colorbar.title.text}
    assert bars == {speed.colour_label}
    # one measured row: the readings are not all estimates, so nothing says "estimated"
    table.loc[0, "energy_method"] = "measured (cpu: RAPL; ram: size estimate); machine tracking"
    assert "estimated" not in study_views(table)[1].x_label
