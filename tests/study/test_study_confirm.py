"""Replicates and confirmation: which points a grid with seeds and a --confirm run queue."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from search_spaces import optuna_space
from study.errors import UsageError
from study.plan import StudyPlan, confirm_plan, grid_points, study_objectives
from trainables import metrics as M


def test_grid_points_repeat_every_configuration_per_seed_with_the_classical_reference() -> None:
    points = grid_points("paper", seeds=3, first_seed=7, classical=True)
    by_seed = {seed: [p["name"] for p in points if p["seed"] == seed] for seed in (7, 8, 9)}
    # each seed has the same 8 configurations: the baseline, the six runs, the TF-IDF reference
    assert len(points) == 24 and by_seed[7] == by_seed[8] == by_seed[9]
    assert by_seed[7][0] == "baseline" and by_seed[7][-1] == "TF-IDF + LR"
    assert [p["kind"] for p in points].count(M.KIND_CLASSICAL) == 3
    assert len(grid_points("paper", seeds=1, first_seed=7, classical=False)) == 7


def test_energy_off_drops_the_emissions_objective(capsys) -> None:
    measured = M.ENERGY_MEASURED
    assert study_objectives({"measure_energy": True}, energy=measured) == M.OBJECTIVES
    off = study_objectives({"measure_energy": False}, energy=measured)
    assert list(off) == [M.VAL_ACCURACY, M.SPEEDUP]
    assert "emissions_kg is no objective" in capsys.readouterr().err


def _search_dir(tmp_path: Path) -> Path:
    space = optuna_space()
    plan = StudyPlan(
        name="sweep",
        mode="search",
        num_samples=5,
        space=StudyPlan.encode_space(space),
        base_config={"teacher": "/t", "data": {"data_dir": str(tmp_path)}, "seed": 42},
    )
    (tmp_path / "study.json").write_text(plan.to_json())
    rows = [
        # name, target density, distil, val accuracy, test accuracy, speedup, emissions
        ("a", 0.75, True, 0.90, 0.80, 1.2, 2e-6),
        ("b", 0.50, True, 0.85, 0.70, 1.6, 1e-6),
        # best on TEST but dominated on validation by "a": must not be confirmed
        ("c", 0.70, False, 0.80, 0.95, 1.1, 3e-6),
        ("d", 0.30, False, 0.60, 0.60, 1.0, 9e-6),  # dominated everywhere
    ]
    table = pd.DataFrame(
        [
            {
                "name": n, "status": "TERMINATED", "kind": "prune", "target_density": d,
                "distil": kd, "temperature": 2.0, "alpha_distil": 0.9, M.VAL_ACCURACY: val,
                M.ACCURACY: test, M.SPEEDUP: sp, M.EMISSIONS_KG: em, "seed": 42,
            }
            for n, d, kd, val, test, sp, em in rows
        ]
        + [{"name": "e", "status": "ERROR", "kind": "prune", "target_density": 0.1}]
    )  # fmt: skip
    table.to_csv(tmp_path / "summary.csv", index=False)
    return tmp_path


def test_confirm_reruns_the_validation_front_with_fresh_seeds_and_the_baseline(
    tmp_path: Path,
) -> None:
    plan = confirm_plan(argparse.Namespace(seeds=2), _search_dir(tmp_path))
    assert plan.mode == "confirm" and plan.num_samples == len(plan.points) == 6
    # fresh seeds: not the search's own 42
    assert sorted({p["seed"] for p in plan.points}) == [43, 44]
    confirmed = {(p["target_density"], p["distil"]) for p in plan.points if "target_density" in p}
    assert confirmed == {(0.75, True), (0.50, True)}
    assert [p["kind"] for p in plan.points].count(M.KIND_BASELINE) == 2
    assert plan.base_config["teacher"] == "/t" and plan.objectives == M.OBJECTIVES


def test_confirm_needs_a_finished_search(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to confirm"):
        confirm_plan(argparse.Namespace(seeds=2), tmp_path)
    (tmp_path / "study.json").write_text(StudyPlan(name="paper", mode="grid").to_json())
    (tmp_path / "summary.csv").write_text("name,status\n")
    with pytest.raises(UsageError, match="holds a grid study; --confirm needs a search"):
        confirm_plan(argparse.Namespace(seeds=2), tmp_path)


def test_rows_pick_grid_rows_and_keep_the_baseline_and_the_reference() -> None:
    rows = ["75% pruning + KD + heads + int8", "25% pruning + KD + heads + int8"]
    points = grid_points("extended", seeds=2, first_seed=42, classical=True, rows=rows)
    names = [p["name"] for p in points if p["seed"] == 42]
    # grid order, the baseline first, the TF-IDF reference last; every row once per seed
    assert names == ["baseline", rows[1], rows[0], "TF-IDF + LR"]
    assert [p["name"] for p in points if p["seed"] == 43] == names
    assert points[2]["attention_block"] == "head" and points[2]["quantize"] == "int8"
    with pytest.raises(UsageError, match="no row '75% pruning \\+ heads'.*its rows: baseline"):
        grid_points(
            "extended", seeds=1, first_seed=42, classical=False, rows=["75% pruning + heads"]
        )
