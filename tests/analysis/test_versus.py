"""Search vs grid at equal budget: hypervolumes on one ruler and dominance within intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import versus
from trainables import metrics as M

N = 400  # test texts
GOLD = np.arange(N) % 4


def _predictions(folder: Path, trial: str, wrong: int) -> str:
    """A prediction file whose first ``wrong`` texts are misclassified."""
    pred = GOLD.copy()
    pred[:wrong] = (pred[:wrong] + 1) % 4
    path = folder / f"{trial}.npz"
    np.savez(path, test_pred=pred, test_gold=GOLD, val_pred=pred[:10], val_gold=GOLD[:10])
    return str(path)


def _study(folder: Path, rows: list[tuple[str, str, float, int, float]], confirm=False) -> Path:
    """A finished study: (trial, kind, target density, wrong test texts, speedup) per row,
    one seed each; validation accuracy follows test accuracy."""
    folder.mkdir(parents=True)
    table = pd.DataFrame(
        [
            {
                "trial_id": trial, "name": trial, "status": "TERMINATED", "kind": kind,
                "target_density": density, "distil": True, "seed": 42,
                M.ACCURACY: 1 - wrong / N, M.VAL_ACCURACY: 1 - wrong / N, M.SPEEDUP: speedup,
                M.PREDICTIONS_FILE: _predictions(folder, trial, wrong),
            }
            for trial, kind, density, wrong, speedup in rows
        ]
    )  # fmt: skip
    (folder / "study.json").write_text(
        json.dumps({"objectives": {M.VAL_ACCURACY: "max", M.SPEEDUP: "max"}})
    )
    table.to_csv(folder / "summary.csv", index=False)
    if confirm:  # the confirmation's table: the same configurations, another seed
        (folder / "confirm").mkdir()
        confirmed = table.assign(phase="confirm", seed=43, trial_id=table["trial_id"] + "c")
        pd.concat([table.assign(phase="search"), confirmed]).to_csv(
            folder / "confirm" / "summary.csv", index=False
        )
    return folder


GRID = [
    ("baseline", "baseline", 1.0, 20, 1.0),
    ("g-half", "prune", 0.5, 28, 2.0),
    ("g-quarter", "prune", 0.25, 60, 3.0),
    ("tfidf", "classical", 1.0, 80, 500.0),  # never on a front, never dominating
]


def _fast_search(tmp_path: Path, *extra: tuple[str, str, float, int, float]) -> Path:
    """A confirmed search whose one configuration is faster than the grid's and as accurate."""
    rows = [("baseline", "baseline", 1.0, 20, 1.0), ("s-fast", "prune", 0.2, 26, 3.5), *extra]
    return _study(tmp_path / "search", rows, confirm=True)


def test_a_faster_as_accurate_search_dominates_every_grid_configuration(tmp_path: Path) -> None:
    grid = _study(tmp_path / "grid", GRID)
    search = _fast_search(tmp_path)
    result = versus.compare(grid, search)
    assert result["confirmed"] and result["trials"] == {"grid": 2, "search": 1}
    assert result["hypervolume"]["search"] > result["hypervolume"]["grid"] > 0
    table = result["table"]
    assert M.KIND_CLASSICAL not in set(table["kind"]) and len(table) == 5
    grid_rows = table[(table["side"] == "grid") & (table["kind"] == "prune")]
    assert (grid_rows[versus.DOMINATED_BY] != "").all() and result["all_dominated"]
    text = versus.markdown(result)
    assert "NOT equal budgets" in text and "its confirmation's seeds only" in text
    # no trial_seconds in these summaries: the cost is unknown, not 0
    assert "trial-minutes (sum of `trial_seconds`): grid unknown, search unknown" in text


def test_an_unconfirmed_search_without_a_baseline_pairs_with_the_grids(tmp_path: Path) -> None:
    grid = _study(tmp_path / "grid", GRID)
    search = _study(tmp_path / "search", [("s-fast", "prune", 0.2, 26, 3.5)])
    result = versus.compare(grid, search)
    assert result["borrowed_baseline"] and not result["confirmed"]
    rows = result["table"][result["table"]["side"] == "search"]
    # the grid's teacher (20 wrong of 400) is the reference: 6 more wrong is -1.5 points
    fast = rows[rows["kind"] == "prune"].iloc[0]
    assert fast[versus.DELTA] == pytest.approx(-6 / N)
    assert result["all_dominated"]
    assert "pair it with the grid's" in versus.markdown(result)

    # another teacher is no reference: refused, naming both
    for folder, teacher in ((grid, "teacher-a"), (search, "teacher-b")):
        path = folder / "summary.csv"
        pd.read_csv(path).assign(teacher=teacher).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"teacher is another \(\['teacher-a'\], not"):
        versus.compare(grid, search)


def test_the_report_counts_each_sides_trial_minutes(tmp_path: Path) -> None:
    grid = _study(tmp_path / "grid", GRID)
    search = _fast_search(tmp_path)
    for path, seconds in (
        (grid / "summary.csv", [600.0, 120.0, 180.0, 30.0]),
        (search / "summary.csv", [600.0, 240.0]),
        (search / "confirm" / "summary.csv", [600.0, 240.0, 60.0, 300.0]),
    ):
        pd.read_csv(path).assign(**{M.TRIAL_SECONDS: seconds}).to_csv(path, index=False)
    minutes = versus.compare(grid, search)["minutes"]
    # prune rows only: not the baseline or the TF-IDF reference; the confirmation's own
    # prune trial only, not the search row it shows beside it
    assert minutes == {"grid": 5.0, "search": 4.0, "confirmation": 5.0}


def test_a_collapsed_configuration_is_left_off_and_moves_no_reference(tmp_path: Path) -> None:
    grid = _study(tmp_path / "grid", GRID)
    # 300 of 400 wrong (validation too): no better than always answering the most common label
    # (30% of the validation's), and the fastest by far
    search = _fast_search(tmp_path, ("s-collapsed", "prune", 0.05, 300, 40.0))
    result = versus.compare(grid, search)
    table = result["table"].set_index("configuration")
    left_off = table[table[versus.LEFT_OFF] != ""]
    assert list(left_off[M.SPEEDUP].round(6)) == [40.0] and not left_off[versus.ON_FRONT].any()
    # the default reference is the worst of the fronts without it, not its 25% accuracy
    assert result["reference"][M.ACCURACY] > 0.8
    assert result["all_dominated"] and "search 1" in versus.markdown(result)


def test_a_faster_grid_row_or_a_clearly_better_one_is_not_dominated(tmp_path: Path) -> None:
    grid = _study(tmp_path / "grid", GRID)
    # slower than g-quarter, and clearly less accurate than g-half (60 vs 28 wrong of 400)
    search = _study(
        tmp_path / "search",
        [("baseline", "baseline", 1.0, 20, 1.0), ("s-slow", "prune", 0.3, 60, 2.5)],
    )
    result = versus.compare(grid, search)
    dominated = result["table"].set_index("configuration")[versus.DOMINATED_BY]
    grid_rows = result["table"][(result["table"]["side"] == "grid")]
    speeds = grid_rows[M.SPEEDUP].round(6)
    by_speed = dict(zip(speeds, grid_rows[versus.DOMINATED_BY], strict=True))
    assert by_speed[3.0] == "" and by_speed[2.0] == ""  # faster / clearly better
    assert not result["all_dominated"] and not result["confirmed"]
    assert len(dominated) == 5


def test_the_command_writes_the_report_table_and_plot(tmp_path: Path, capsys) -> None:
    grid = _study(tmp_path / "grid", GRID)
    search = _study(
        tmp_path / "search",
        [("baseline", "baseline", 1.0, 20, 1.0), ("s-fast", "prune", 0.2, 26, 3.5)],
    )
    assert versus.main([str(grid), str(search), "--reference", "accuracy=0.8,speedup=1"]) == 0
    out = capsys.readouterr().out
    assert "Reference point: accuracy 0.8, speedup 1" in out
    for name in ("versus.md", "versus.csv", "versus.png"):
        assert (search / name).stat().st_size > 0
    assert versus.main([str(grid), str(tmp_path / "nothing")]) == 2
    assert "has no summary.csv" in capsys.readouterr().err


@pytest.mark.parametrize("objectives", [{M.VAL_ACCURACY: "max", M.SPEEDUP: "max"}])
def test_fronts_are_reported_on_test(objectives: dict[str, str]) -> None:
    assert versus.reported(objectives) == {M.ACCURACY: "max", M.SPEEDUP: "max"}
