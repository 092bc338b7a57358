"""Pareto ranks, fronts and hypervolume: a golden table, properties against brute force, the CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import (
    excluded_rows,
    hypervolume,
    pareto_front,
    pareto_ranks,
    parse_objectives,
    reference_point,
)
from analysis.pareto import main, parse_reference
from trainables.metrics import ACCURACY, EMISSIONS_KG, OBJECTIVES, SPEEDUP

# --- golden table ------------------------------------------------------------------------------


def golden_table() -> pd.DataFrame:
    """Eight trials whose ranks and hypervolumes were worked out by hand (see each comment)."""
    rows = [
        # name, kind, status, accuracy, speedup, emissions_kg
        ("baseline", "baseline", "TERMINATED", 0.80, 1.0, 4.0),  # best accuracy: front
        ("50% pruning + KD", "prune", "TERMINATED", 0.79, 2.0, 2.0),  # front
        ("50% pruning + KD seed 1", "prune", "TERMINATED", 0.79, 2.0, 2.0),  # duplicate: front
        ("75% pruning", "prune", "TERMINATED", 0.75, 1.5, 3.0),  # below F below B: rank 2
        ("90% pruning", "prune", "TERMINATED", 0.70, 4.0, 1.0),  # fastest, cleanest: front
        ("40% pruning", "prune", "TERMINATED", 0.78, 1.8, 2.5),  # dominated by B only: rank 1
        ("crashed", "prune", "ERROR", 0.99, 9.0, 0.1),  # would dominate all: excluded
        ("no energy", "prune", "TERMINATED", 0.79, 3.0, np.nan),  # excluded
    ]
    table = pd.DataFrame(rows, columns=["name", "kind", "status", ACCURACY, SPEEDUP, EMISSIONS_KG])
    table["trial_id"] = [f"t{i}" for i in range(len(table))]
    table["target_density"] = [1.0, 0.5, 0.5, 0.25, 0.1, 0.6, 0.3, 0.3]
    table["distil"] = [False, True, True, False, False, False, True, True]
    return table


def test_golden_ranks_and_front() -> None:
    table = golden_table()
    ranks = pareto_ranks(table, OBJECTIVES)
    assert ranks.tolist() == [0, 0, 0, 2, 0, 1, pd.NA, pd.NA]
    front = pareto_front(table)
    assert front["name"].tolist() == [
        "baseline",
        "50% pruning + KD",
        "50% pruning + KD seed 1",
        "90% pruning",
    ]
    assert list(front.columns) == [*table.columns, "rank"]
    assert (front["rank"] == 0).all()
    everything = pareto_front(table, max_rank=10)
    assert everything["name"].tolist()[-2:] == ["40% pruning", "75% pruning"]


def test_repeated_index_labels() -> None:
    table = pd.concat([golden_table(), golden_table()])  # index 0..7 twice
    assert pareto_ranks(table).tolist() == [0, 0, 0, 2, 0, 1, pd.NA, pd.NA] * 2
    assert len(pareto_front(table)) == 8 and len(excluded_rows(table)) == 4


def test_golden_exclusions() -> None:
    excluded = excluded_rows(golden_table())
    assert excluded["name"].tolist() == ["crashed", "no energy"]
    assert excluded["reason"].tolist() == ["status ERROR", "no emissions_kg"]


def test_golden_hypervolume() -> None:
    table = golden_table()
    two = {ACCURACY: "max", SPEEDUP: "max"}
    # Without emissions as an objective "no energy" (0.79, 3.0) counts. Strips of accuracy above
    # 0.6: [0.6, 0.7] up to speedup 4, (0.7, 0.79] up to 3, (0.79, 0.8] up to 1, all from 0.5.
    assert hypervolume(table, two, {ACCURACY: 0.6, SPEEDUP: 0.5}) == pytest.approx(
        0.1 * 3.5 + 0.09 * 2.5 + 0.01 * 0.5
    )
    # Slices of emissions below 5: [1, 2) holds one point (0.35), [2, 4) two (0.485 each),
    # [4, 5) three (0.49).
    reference = {ACCURACY: 0.6, SPEEDUP: 0.5, EMISSIONS_KG: 5.0}
    assert hypervolume(table, OBJECTIVES, reference) == pytest.approx(0.35 + 0.97 + 0.49)
    # Against the baseline nothing is better in every objective.
    assert reference_point(table) == {ACCURACY: 0.8, SPEEDUP: 1.0, EMISSIONS_KG: 4.0}
    assert hypervolume(table) == 0.0


def test_reference_point_errors() -> None:
    table = golden_table()
    no_baseline = table[table["kind"] != "baseline"]
    with pytest.raises(ValueError, match="--reference"):
        reference_point(no_baseline)
    with pytest.raises(ValueError, match="emissions_kg"):
        reference_point(no_baseline, OBJECTIVES, {ACCURACY: 0.5, SPEEDUP: 1.0})
    assert reference_point(no_baseline, {SPEEDUP: "max"}, {SPEEDUP: 1}) == {SPEEDUP: 1.0}


def test_any_metric_by_name_and_errors() -> None:
    table = golden_table()
    assert parse_objectives("speedup,emissions_kg") == {SPEEDUP: "max", EMISSIONS_KG: "min"}
    # One objective: plain sorting. "no energy" (0.3) counts now that emissions do not.
    ranks = pareto_ranks(table, parse_objectives("target_density:min"))
    assert ranks.tolist() == [5, 3, 3, 1, 0, 4, pd.NA, 2]
    with pytest.raises(ValueError, match="not in the results"):
        pareto_ranks(table, {"macro_f1": "max"})
    for bad in ("accuracy:up", "target_density", "", "speedup,speedup:max"):
        with pytest.raises(ValueError):
            parse_objectives(bad)
    with pytest.raises(ValueError, match="NAME=NUMBER"):
        parse_reference("accuracy:0.9")


# --- properties against brute force ------------------------------------------------------------


def _oriented(points: np.ndarray, directions: list[str]) -> np.ndarray:
    """Flip maximised columns so that smaller is better everywhere."""
    signs = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    return points * signs


def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def _brute_ranks(points: np.ndarray) -> list[int]:
    ranks = [-1] * len(points)
    left = set(range(len(points)))
    rank = 0
    while left:
        layer = {i for i in left if not any(_dominates(points[j], points[i]) for j in left)}
        for i in layer:
            ranks[i] = rank
        left -= layer
        rank += 1
    return ranks


def _brute_hypervolume(points: np.ndarray, reference: np.ndarray) -> int:
    """Integer points, minimisation: count the unit cells below the reference that are dominated."""
    low = np.minimum(points.min(axis=0), reference) if len(points) else reference
    axes = [range(int(lo), int(hi)) for lo, hi in zip(low, reference, strict=True)]
    return sum(
        any(np.all(p <= np.array(cell)) for p in points) for cell in itertools.product(*axes)
    )


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, str]]:
    n_objectives = draw(st.integers(1, 4))
    n_rows = draw(st.integers(0, 14))
    # Few distinct values, so ties in a coordinate and whole duplicate rows are common.
    value = st.one_of(st.integers(0, 4).map(float), st.just(float("nan")))
    rows = draw(
        st.lists(
            st.lists(value, min_size=n_objectives, max_size=n_objectives),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
    directions = draw(st.lists(st.sampled_from(["max", "min"]), min_size=n_objectives))
    names = [f"f{i}" for i in range(n_objectives)]
    table = pd.DataFrame(rows, columns=names, dtype=float)
    statuses = draw(st.lists(st.sampled_from(["TERMINATED", "ERROR"]), min_size=n_rows))
    table["status"] = statuses[:n_rows]
    return table, dict(zip(names, directions, strict=False))


@settings(max_examples=150, deadline=None)
@given(tables())
def test_ranks_match_brute_force(case: tuple[pd.DataFrame, dict[str, str]]) -> None:
    table, objectives = case
    ranks = pareto_ranks(table, objectives)
    valid = table[list(objectives)].notna().all(axis=1) & (table["status"] == "TERMINATED")
    assert ranks.isna().tolist() == (~valid).tolist()
    points = _oriented(table.loc[valid, list(objectives)].to_numpy(), list(objectives.values()))
    assert ranks[valid].astype(int).tolist() == _brute_ranks(points)
    front = pareto_front(table, objectives)
    expected = [i for i, r in zip(table.index[valid], _brute_ranks(points), strict=True) if r == 0]
    assert sorted(front.index) == expected
    # Equal rows always share a rank: every duplicate of a front row is on the front.
    for _, group in table[valid].groupby(list(objectives)):
        assert ranks[group.index].nunique() == 1


@settings(max_examples=100, deadline=None)
@given(tables(), st.lists(st.integers(0, 5), min_size=4, max_size=4))
def test_hypervolume_matches_cell_count(
    case: tuple[pd.DataFrame, dict[str, str]], reference: list[int]
) -> None:
    table, objectives = case
    objectives = dict(list(objectives.items())[:3])  # hypervolume: 2 or 3 objectives (1 too)
    table = table.drop(columns=[c for c in table.columns if c.startswith("f")][len(objectives) :])
    ref = {name: float(r) for name, r in zip(objectives, reference, strict=False)}
    valid = table[list(objectives)].notna().all(axis=1) & (table["status"] == "TERMINATED")
    directions = list(objectives.values())
    points = _oriented(table.loc[valid, list(objectives)].to_numpy(), directions)
    oriented_ref = _oriented(np.array([ref[n] for n in objectives]), directions)
    expected = _brute_hypervolume(points, oriented_ref)
    assert hypervolume(table, objectives, ref) == pytest.approx(expected)


# --- the CLI -----------------------------------------------------------------------------------


def test_cli_table_json_and_files(tmp_path, capsys) -> None:
    golden_table().to_csv(tmp_path / "summary.csv", index=False)

    assert main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "90% pruning" in out and "75% pruning" not in out
    assert "excluded 2 of 8 rows" in err and "1 status ERROR" in err
    assert "hypervolume 0 " in err and "--reference" in err
    for name in ("pareto.png", "pareto.html", "pareto.csv"):
        assert (tmp_path / name).stat().st_size > 0
        assert str(tmp_path / name) in err
    ranked = pd.read_csv(tmp_path / "pareto.csv")
    assert ranked["rank"].tolist() == [0, 0, 0, 0, 1, 2]

    summary = tmp_path / "summary.csv"
    assert main([str(summary), "--format", "json", "--all", "--reference", "accuracy=0.6,"
                 "speedup=0.5,emissions_kg=5"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    records = json.loads(out)
    assert [r["rank"] for r in records] == [0, 0, 0, 0, 1, 2]
    assert set(records[0]) == {*golden_table().columns, "rank"}
    assert "hypervolume 1.81" in err


def test_cli_without_a_baseline_row(tmp_path, capsys) -> None:
    table = golden_table()
    table[table["kind"] != "baseline"].to_csv(tmp_path / "summary.csv", index=False)
    assert main([str(tmp_path / "summary.csv")]) == 0
    out, err = capsys.readouterr()
    assert "90% pruning" in out
    hypervolume_lines = [line for line in err.splitlines() if "hypervolume" in line]
    assert hypervolume_lines == [
        "hypervolume: no finished baseline row; pass --reference "
        "accuracy=...,speedup=...,emissions_kg=... to compute it"
    ]
    assert pd.read_csv(tmp_path / "pareto.csv")["rank"].tolist() == [0, 0, 0, 1, 2]
    assert (tmp_path / "pareto.png").stat().st_size > 0
    reference = "accuracy=0.6,speedup=0.5,emissions_kg=5"
    assert main([str(tmp_path / "summary.csv"), "--reference", reference]) == 0
    assert "(given)" in capsys.readouterr().err


def _exit_line(argv: list[str], capsys) -> str:
    """Run the CLI expecting exit 2; the one line it wrote on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_cli_errors_are_one_line(tmp_path, capsys) -> None:
    golden_table().to_csv(tmp_path / "summary.csv", index=False)
    summary = str(tmp_path / "summary.csv")
    assert "latency" in _exit_line([summary, "--objectives", "accuracy:max,latency:min"], capsys)
    assert "does not exist" in _exit_line([str(tmp_path / "missing")], capsys)
    assert "foo://bar" in _exit_line(["foo://bar"], capsys)
    assert "mysql" in _exit_line(["mysql://nobody@127.0.0.1:1/none"], capsys)
    assert "does not exist" in _exit_line([f"sqlite:///{tmp_path / 'none.db'}"], capsys)
    assert not (tmp_path / "none.db").exists()  # reading never creates a database
    (tmp_path / "junk.db").write_bytes(b"not a database")
    assert "cannot open" in _exit_line([f"sqlite:///{tmp_path / 'junk.db'}"], capsys)
    (tmp_path / "empty.csv").write_text("")
    assert "cannot read" in _exit_line([str(tmp_path / "empty.csv")], capsys)
    assert "emissions_kg" in _exit_line([summary, "--reference", "accuracy=0.5"], capsys)
    assert not (tmp_path / "pareto.png").exists()


def test_cli_help_shows_every_default(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    options = text.split("options:", 1)[1]
    for option in ("--objectives", "--reference", "--study-name", "--format", "--all", "--paper"):
        assert option in options
    assert options.count("(default:") == 7  # every option but --help
    assert "(default: auto)" in options and "(default: accuracy:max,speedup:max," in options
