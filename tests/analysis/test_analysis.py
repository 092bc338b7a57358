"""Pareto ranks, fronts and hypervolume: a golden table, properties against brute force, the CLI."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from analysis import (
    SelectionWarning,
    config_table,
    excluded_rows,
    exclusion_reasons,
    hypervolume,
    pareto_front,
    pareto_ranks,
    parse_objectives,
    per_configuration,
    reference_point,
)
from analysis.pareto import main, parse_reference
from trainables.metrics import ACCURACY, EMISSIONS_KG, OBJECTIVES, SPEEDUP, VAL_ACCURACY

# --- golden table ------------------------------------------------------------------------------


def golden_table() -> pd.DataFrame:
    """Eight trials whose ranks and hypervolumes were worked out by hand (see each comment).

    The hand-worked numbers are on validation accuracy, which chooses the front; test accuracy
    is a point lower everywhere, so it orders the rows alike.
    """
    rows = [
        # name, kind, status, val_accuracy, speedup, emissions_kg
        ("baseline", "baseline", "TERMINATED", 0.80, 1.0, 4.0),  # best accuracy: front
        ("50% pruning + KD", "prune", "TERMINATED", 0.79, 2.0, 2.0),  # front
        ("45% pruning + KD", "prune", "TERMINATED", 0.79, 2.0, 2.0),  # same values: front
        ("75% pruning", "prune", "TERMINATED", 0.75, 1.5, 3.0),  # below F below B: rank 2
        ("90% pruning", "prune", "TERMINATED", 0.70, 4.0, 1.0),  # fastest, cleanest: front
        ("40% pruning", "prune", "TERMINATED", 0.78, 1.8, 2.5),  # dominated by B only: rank 1
        ("crashed", "prune", "ERROR", 0.99, 9.0, 0.1),  # would dominate all: excluded
        ("no energy", "prune", "TERMINATED", 0.79, 3.0, np.nan),  # excluded
    ]
    columns = ["name", "kind", "status", VAL_ACCURACY, SPEEDUP, EMISSIONS_KG]
    table = pd.DataFrame(rows, columns=columns)
    table[ACCURACY] = table[VAL_ACCURACY] - 0.01
    table["trial_id"] = [f"t{i}" for i in range(len(table))]
    table["target_density"] = [1.0, 0.5, 0.55, 0.25, 0.1, 0.6, 0.3, 0.3]
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
        "45% pruning + KD",
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
    two = {VAL_ACCURACY: "max", SPEEDUP: "max"}
    # Without emissions as an objective "no energy" (0.79, 3.0) counts. Strips of accuracy above
    # 0.6: [0.6, 0.7] up to speedup 4, (0.7, 0.79] up to 3, (0.79, 0.8] up to 1, all from 0.5.
    assert hypervolume(table, two, {VAL_ACCURACY: 0.6, SPEEDUP: 0.5}) == pytest.approx(
        0.1 * 3.5 + 0.09 * 2.5 + 0.01 * 0.5
    )
    # Slices of emissions below 5: [1, 2) holds one point (0.35), [2, 4) two (0.485 each),
    # [4, 5) three (0.49).
    reference = {VAL_ACCURACY: 0.6, SPEEDUP: 0.5, EMISSIONS_KG: 5.0}
    assert hypervolume(table, OBJECTIVES, reference) == pytest.approx(0.35 + 0.97 + 0.49)
    # Against the baseline nothing is better in every objective.
    assert reference_point(table) == {VAL_ACCURACY: 0.8, SPEEDUP: 1.0, EMISSIONS_KG: 4.0}
    assert hypervolume(table) == 0.0


def test_reference_point_errors() -> None:
    table = golden_table()
    no_baseline = table[table["kind"] != "baseline"]
    with pytest.raises(ValueError, match="--reference"):
        reference_point(no_baseline)
    with pytest.raises(ValueError, match="emissions_kg"):
        reference_point(no_baseline, OBJECTIVES, {VAL_ACCURACY: 0.5, SPEEDUP: 1.0})
    assert reference_point(no_baseline, {SPEEDUP: "max"}, {SPEEDUP: 1}) == {SPEEDUP: 1.0}


def test_any_metric_by_name_and_errors() -> None:
    table = golden_table()
    assert parse_objectives("speedup,emissions_kg") == {SPEEDUP: "max", EMISSIONS_KG: "min"}
    # One objective: plain sorting. "no energy" (0.3) counts now that emissions do not.
    ranks = pareto_ranks(table, parse_objectives("target_density:min"))
    assert ranks.tolist() == [6, 3, 4, 1, 0, 5, pd.NA, 2]
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
    header, *lines = out.splitlines()
    # The front's validation numbers (which chose it), then its test numbers, each column named.
    assert header.split()[:6] == ["configuration", "name", "trial_id", "val_accuracy", "speedup",
                                  "emissions_kg"]  # fmt: skip
    assert header.index("emissions_kg") < header.index("accuracy (test)")
    assert len(lines) == 4 and "75% pruning" not in out
    (fastest,) = [line for line in lines if "90% pruning" in line]
    assert " 0.7 " in fastest and " 0.69 " in fastest  # validation, then test accuracy
    assert "excluded 2 of 8 rows" in err and "1 status ERROR" in err
    assert "hypervolume 0 " in err and "--reference" in err
    assert "warning" not in err and "configurations" not in err  # validation, single seed
    for name in ("pareto.png", "pareto.html", "pareto.csv"):
        assert str(tmp_path / name) in err
    with Image.open(tmp_path / "pareto.png") as image:
        assert image.size == (1920, 640)  # three panels: the relative view has a baseline
    heading = "Pareto front chosen on validation accuracy (max), speedup (max), emissions (min)"
    assert f"<h2>{heading}</h2>" in (tmp_path / "pareto.html").read_text(encoding="utf-8")
    ranked = pd.read_csv(tmp_path / "pareto.csv")
    assert ranked["rank"].tolist() == [0, 0, 0, 0, 1, 2]

    summary = tmp_path / "summary.csv"
    assert main([str(summary), "--format", "json", "--all", "--reference", "val_accuracy=0.6,"
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
        "val_accuracy=...,speedup=...,emissions_kg=... to compute it"
    ]
    assert pd.read_csv(tmp_path / "pareto.csv")["rank"].tolist() == [0, 0, 0, 1, 2]
    with Image.open(tmp_path / "pareto.png") as image:
        assert image.size == (1280, 640)  # no baseline: no relative view
    reference = "val_accuracy=0.6,speedup=0.5,emissions_kg=5"
    assert main([str(tmp_path / "summary.csv"), "--reference", reference]) == 0
    assert "(given)" in capsys.readouterr().err


# --- validation selects, test reports -----------------------------------------------------------


def disagreeing_table() -> pd.DataFrame:
    """Validation and test disagree: "25% pruning" is the best of all on test but dominated on
    validation by "25% pruning + KD" (same speed and emissions, better validation accuracy)."""
    rows = [
        # name, kind, target_density, distil, val_accuracy, accuracy, speedup, emissions_kg
        ("baseline", "baseline", 1.0, False, 0.80, 0.79, 1.0, 3.0),
        ("25% pruning", "prune", 0.75, False, 0.76, 0.83, 1.3, 2.0),
        ("25% pruning + KD", "prune", 0.75, True, 0.79, 0.78, 1.3, 2.0),
        ("75% pruning + KD", "prune", 0.25, True, 0.70, 0.69, 3.0, 1.0),
    ]
    columns = ["name", "kind", "target_density", "distil", VAL_ACCURACY, ACCURACY, SPEEDUP,
               EMISSIONS_KG]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns)
    table["status"] = "TERMINATED"
    table["trial_id"] = [f"t{i}" for i in range(len(table))]
    return table


def test_the_front_is_chosen_on_validation_not_on_test(tmp_path, capsys) -> None:
    table = disagreeing_table()
    on_validation = ["baseline", "25% pruning + KD", "75% pruning + KD"]
    assert pareto_front(table)["name"].tolist() == on_validation
    on_test = pareto_front(table, {ACCURACY: "max", SPEEDUP: "max", EMISSIONS_KG: "min"})
    # On test "25% pruning" dominates even the baseline (more accurate, faster, cleaner).
    assert on_test["name"].tolist() == ["25% pruning", "75% pruning + KD"]

    table.to_csv(tmp_path / "summary.csv", index=False)
    assert main([str(tmp_path), "--format", "json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == on_validation
    # A user may still choose to select on test.
    spec = "accuracy:max,speedup:max,emissions_kg:min"
    assert main([str(tmp_path), "--format", "json", "--objectives", spec]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == on_test["name"].tolist()


def test_results_without_validation_numbers_are_chosen_on_test_with_a_warning(
    tmp_path, capsys
) -> None:
    old = disagreeing_table().drop(columns=[VAL_ACCURACY])
    with pytest.warns(SelectionWarning, match="chosen on accuracy, the test split"):
        front = pareto_front(old)
    assert front["name"].tolist() == ["25% pruning", "75% pruning + KD"]
    empty = disagreeing_table().assign(val_accuracy=np.nan)  # the column, but no numbers in it
    with pytest.warns(SelectionWarning):
        assert pareto_front(empty)["name"].tolist() == front["name"].tolist()

    old.to_csv(tmp_path / "summary.csv", index=False)
    assert main([str(tmp_path), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    warnings_said = [line for line in err.splitlines() if "warning" in line]
    assert warnings_said == [
        "warning: no val_accuracy in the results (a table from before validation metrics): the "
        "front is chosen on accuracy, the test split, so its test numbers are optimistic"
    ]
    assert [r["name"] for r in json.loads(out)] == front["name"].tolist()
    # Asked for by name, validation accuracy is not replaced: the error says what to ask for.
    line = _exit_line([str(tmp_path), "--objectives", "val_accuracy:max,speedup:max"], capsys)
    assert "select on accuracy:max" in line


# --- the classical reference -------------------------------------------------------------------


def test_the_classical_reference_is_never_on_the_front(tmp_path, capsys) -> None:
    table = disagreeing_table()
    classical = {"name": "classical", "kind": "classical", "target_density": np.nan,
                 "distil": False, VAL_ACCURACY: 0.85, ACCURACY: 0.84, SPEEDUP: 40.0,
                 EMISSIONS_KG: 0.1, "status": "TERMINATED", "trial_id": "t9"}  # fmt: skip
    with_reference = pd.concat([table, pd.DataFrame([classical])], ignore_index=True)
    # It would dominate every compressed model; the front is the one without it all the same.
    assert pareto_front(with_reference)["name"].tolist() == pareto_front(table)["name"].tolist()
    assert exclusion_reasons(with_reference).tolist()[-1] == "reference, not a compression"
    assert hypervolume(with_reference) == hypervolume(table)

    with_reference.to_csv(tmp_path / "summary.csv", index=False)
    assert main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "TF-IDF" not in out and "classical" not in out
    assert "excluded" not in err  # a reference is not a failed row
    assert (
        "reference, not on the front: TF-IDF + LR (val_accuracy 0.85, speedup 40, "
        "emissions_kg 0.1, accuracy (test) 0.84)" in err.splitlines()
    )
    assert "t9" not in pd.read_csv(tmp_path / "pareto.csv")["trial_id"].tolist()


# --- replicated configurations -----------------------------------------------------------------


def replicated_table() -> pd.DataFrame:
    """Three seeds of three configurations and a baseline run once.

    Row by row, "25% pruning"'s lucky seed (validation 0.90) would be on the front; its mean
    over seeds (0.78) is dominated by "25% pruning + KD" (0.81, faster, as clean).
    """
    rows = [
        # name, target_density, distil, seed, val_accuracy, accuracy, speedup
        ("25% pruning", 0.75, False, 1, 0.72, 0.72, 1.20),
        ("25% pruning", 0.75, False, 2, 0.72, 0.74, 1.25),
        ("25% pruning", 0.75, False, 3, 0.90, 0.76, 1.30),
        ("25% pruning + KD", 0.75, True, 1, 0.80, 0.80, 1.20),
        ("25% pruning + KD", 0.75, True, 2, 0.81, 0.80, 1.30),
        ("25% pruning + KD", 0.75, True, 3, 0.82, 0.83, 1.40),
        ("75% pruning + KD", 0.25, True, 1, 0.70, 0.69, 3.00),
        ("75% pruning + KD", 0.25, True, 2, 0.71, 0.70, 3.10),
        ("75% pruning + KD", 0.25, True, 3, 0.72, 0.71, 3.20),
    ]
    columns = ["name", "target_density", "distil", "seed", VAL_ACCURACY, ACCURACY, SPEEDUP]
    table = pd.DataFrame(rows, columns=columns).assign(kind="prune")
    table[EMISSIONS_KG] = np.where(table["target_density"] > 0.5, 2.0, 1.0)
    baseline = {"name": "baseline", "kind": "baseline", "target_density": 1.0, "distil": False,
                "seed": 1, VAL_ACCURACY: 0.83, ACCURACY: 0.82, SPEEDUP: 1.0,
                EMISSIONS_KG: 3.0}  # fmt: skip
    table = pd.concat([pd.DataFrame([baseline]), table], ignore_index=True)
    table["status"] = "TERMINATED"
    table["trial_id"] = [f"t{i}" for i in range(len(table))]
    return table


def test_replicated_configurations_are_compared_by_their_means(tmp_path, capsys) -> None:
    table = replicated_table()
    lucky = table.index[table[VAL_ACCURACY] == 0.90][0]
    assert lucky in pareto_front(table).index  # row by row, one seed makes it
    configurations = per_configuration(table)
    assert len(configurations) == 4 and configurations["n_seeds"].tolist() == [1, 3, 3, 3]
    means = configurations.set_index("configuration")
    assert means.loc["25% pruning", VAL_ACCURACY] == pytest.approx(0.78)
    sd = np.std([0.80, 0.80, 0.83], ddof=1)
    assert means.loc["25% pruning + KD", "accuracy_sd"] == pytest.approx(sd)
    front = pareto_front(configurations)
    assert front["configuration"].tolist() == ["baseline", "25% pruning + KD", "75% pruning + KD"]

    table.to_csv(tmp_path / "summary.csv", index=False)
    assert main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    header = out.splitlines()[0]
    assert {"n_seeds", "val_accuracy_sd", "accuracy_sd"} <= set(header.split())
    assert "10 finished rows are 4 configurations with 1-3 seeds each" in err
    assert main([str(tmp_path), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["configuration"] for r in records] == front["configuration"].tolist()
    assert [r["n_seeds"] for r in records] == [1, 3, 3]
    ranked = pd.read_csv(tmp_path / "pareto.csv")
    assert ranked["configuration"].tolist()[:3] == front["configuration"].tolist()
    assert ranked["rank"].tolist() == [0, 0, 0, 1]


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
    assert "(default: auto)" in options
    assert "(default: val_accuracy:max,speedup:max,emissions_kg:min;" in options


# --------------------------------------------------------------------------------------------
# Configurations over seeds: ratios as ratios, payback, confirmations apart from their search


def _seeds(**columns: list[float]) -> pd.DataFrame:
    """Replicates of one pruned configuration, one row per value, baseline-free."""
    count = len(next(iter(columns.values())))
    table = pd.DataFrame({"kind": "prune", "target_density": 0.5, "seed": range(1, count + 1)})
    return table.assign(status="TERMINATED", **columns)


def test_ratios_are_averaged_as_ratios_and_the_rest_arithmetically() -> None:
    table = _seeds(
        speedup=[1.0, 4.0],
        speedup_vs_fp32=[2.0, 8.0],
        speedup_ideal=[1.5, 1.5],
        energy_ratio=[0.5, 2.0],
        accuracy=[0.80, 0.90],
    )
    row = config_table(table).iloc[0]
    assert row["speedup_mean"] == pytest.approx(2.0)  # not 2.5
    assert row["speedup_vs_fp32_mean"] == pytest.approx(4.0)  # not 5
    assert row["speedup_ideal_mean"] == pytest.approx(1.5) and row["speedup_ideal_gsd"] == 1.0
    assert row["energy_ratio_mean"] == pytest.approx(1.0)  # twice and half: even, not 1.25
    # the geometric sd is a factor: exp(sd of ln 1, ln 4) = 4 ** (1 / sqrt 2)
    assert row["speedup_gsd"] == pytest.approx(4 ** (1 / np.sqrt(2)))
    assert "speedup_sd" not in row.index and "energy_ratio_sd" not in row.index
    assert row["accuracy_mean"] == pytest.approx(0.85)
    assert row["accuracy_sd"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    # the front and the views read the geometric mean under the metric's own name
    assert per_configuration(table)[SPEEDUP].tolist() == pytest.approx([2.0])


@pytest.mark.filterwarnings("ignore::analysis.PairingWarning")  # no prediction files here
def test_payback_over_seeds_is_mean_training_over_mean_saving() -> None:
    base = {"kind": "baseline", "status": "TERMINATED", "seed": 1, "emissions_kg_per_1k": 4e-6}
    table = _seeds(
        train_emissions_kg=[1e-3, 3e-3],
        emissions_kg_per_1k=[2e-6, 4e-6],  # the second seed saves nothing
        teacher_emissions_kg_per_1k=[4e-6, 4e-6],
    )
    table = pd.concat([pd.DataFrame([base]), table], ignore_index=True)
    rows = config_table(table).set_index("configuration")
    # mean training 2e-3 kg over a mean saving of 1e-9 kg per prediction; one seed's "never"
    # does not make the configuration never pay back
    assert rows.loc["50% pruning", "payback_predictions_mean"] == pytest.approx(2e6)
    assert np.isnan(rows.loc["baseline", "payback_predictions_mean"])
    costs_more = table.assign(emissions_kg_per_1k=[4e-6, 3e-6, 6e-6])  # mean saving -1e-9
    assert config_table(costs_more)["payback_predictions_mean"].iloc[1] == np.inf


def _confirmation_table() -> pd.DataFrame:
    """A search (baseline and two configurations) and a confirmation of one of them with two
    fresh seeds. The search run that put 50% pruning on the front was lucky: 0.90 validation
    accuracy and 4x, against 0.80 / 0.82 and 2x / 2x for its confirmation seeds."""
    columns = ["phase", "kind", "target_density", "seed", VAL_ACCURACY, ACCURACY, SPEEDUP]
    rows = [
        ("search", "baseline", 1.0, 42, 0.85, 0.84, 1.0),
        ("search", "prune", 0.5, 42, 0.90, 0.88, 4.0),
        ("search", "prune", 0.25, 42, 0.60, 0.59, 6.0),
        ("confirm", "baseline", 1.0, 43, 0.85, 0.84, 1.0),
        ("confirm", "prune", 0.5, 43, 0.80, 0.79, 2.0),
        ("confirm", "prune", 0.5, 44, 0.82, 0.81, 2.0),
    ]
    table = pd.DataFrame(rows, columns=columns).assign(status="TERMINATED")
    return table.assign(trial_id=[f"t{i}" for i in range(len(table))])


def test_a_confirmation_is_summarised_from_its_own_seeds_beside_the_search_run() -> None:
    configs = config_table(_confirmation_table()).set_index("configuration")
    # only the confirmed configurations, each over its confirmation seeds
    assert configs.index.tolist() == ["baseline", "50% pruning"]
    confirmed = configs.loc["50% pruning"]
    assert confirmed["n_seeds"] == 2 and confirmed["seeds"] == "43 44"
    assert confirmed["trial_ids"] == "t4 t5"
    assert confirmed["val_accuracy_mean"] == pytest.approx(0.81)  # pooled: 0.84
    assert confirmed["speedup_mean"] == pytest.approx(2.0)  # pooled: 2.52
    assert confirmed["speedup_gsd"] == pytest.approx(1.0)
    # the search run that selected it, beside them
    assert confirmed["search_val_accuracy"] == pytest.approx(0.90)
    assert confirmed["search_accuracy"] == pytest.approx(0.88)
    assert confirmed["search_speedup"] == pytest.approx(4.0)
    assert confirmed["search_trial_ids"] == "t1"
    assert configs.loc["baseline", "n_seeds"] == 1 and configs.loc["baseline", "seeds"] == "43"
    # the front and the plots read the same confirmed means
    chosen = per_configuration(_confirmation_table()).set_index("configuration")
    assert chosen.loc["50% pruning", VAL_ACCURACY] == pytest.approx(0.81)
    # a table without phases (a search, a grid) pools every seed, as before
    pooled = config_table(_confirmation_table().drop(columns="phase"))
    assert "search_val_accuracy" not in pooled.columns
    assert pooled.set_index("configuration").loc["50% pruning", "n_seeds"] == 3


def test_an_int8_or_trimmed_teacher_is_a_configuration_not_the_reference() -> None:
    """--set quantize=int8 once made the baseline row the int8 teacher, so every accuracy delta
    was against it while speedups were against the fp32 teacher: the reference is the teacher
    as it is, and "baseline + int8" is compared like any other configuration."""
    import math

    from analysis import PairingWarning
    from analysis.rows import baseline_rows

    table = pd.DataFrame(
        {
            "name": ["baseline", "baseline + int8", "50% pruning"],
            "kind": ["baseline", "baseline", "prune"],
            "status": ["TERMINATED"] * 3,
            "trial_id": ["a", "b", "c"],
            "quantize": ["none", "int8", "none"],
            "vocab_trim": [False, False, False],
            "target_density": [float("nan"), float("nan"), 0.5],
            "accuracy": [0.80, 0.79, 0.78],
        }
    )
    assert baseline_rows(table)["name"].tolist() == ["baseline"]
    with pytest.warns(PairingWarning):  # no prediction files here: no paired differences
        configs = config_table(table).set_index("configuration")
    assert list(configs.index) == ["baseline", "baseline + int8", "50% pruning"]
    assert configs.loc["baseline", "delta_accuracy_mean"] == 0.0  # the reference
    # a configuration like the others: without predictions no delta, never "0 (reference)"
    assert math.isnan(configs.loc["baseline + int8", "delta_accuracy_mean"])
