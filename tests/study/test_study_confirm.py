"""Replicates and confirmation: which points a grid with seeds and a --confirm run queue."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from search_spaces import optuna_space
from study.errors import UsageError
from study.plan import StudyPlan, confirm_plan, study_objectives
from study.points import grid_points
from study.records import TrialRecord
from study.summary import confirmation_table, summary_table, write_summary
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
    table[M.VAL_MAJORITY] = 0.15
    # pruned past collapse: the fastest, but no better on validation than always answering the
    # most common label, so never confirmed; its share comes from its prediction file (a search
    # written before trials reported it)
    predictions = tmp_path / "z.npz"
    np.savez(predictions, val_gold=np.array([0] * 3 + [1] * 17), val_pred=np.zeros(20, int))
    collapsed = {
        "name": "z", "status": "TERMINATED", "kind": "prune", "target_density": 0.05,
        "distil": True, "temperature": 2.0, "alpha_distil": 0.9, M.VAL_ACCURACY: 0.15,
        M.ACCURACY: 0.11, M.SPEEDUP: 19.0, M.EMISSIONS_KG: 1e-7, "seed": 42,
        M.PREDICTIONS_FILE: str(predictions),
    }  # fmt: skip
    table = pd.concat([table, pd.DataFrame([collapsed])], ignore_index=True)
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


def _record(trial: str, point: dict, seed: int, **metrics: float) -> TrialRecord:
    """A finished trial as the study records it: every final metric (1.0 unless given). A
    search's trials and its confirmation's keep their students in different caches, which
    makes no other configuration."""
    cache = f"/r/{'confirm/' if trial.startswith('c') else ''}students"
    config = {"teacher": "/t", "data": {"data_dir": "/d"}, "student_cache": cache, **point}
    config["seed"] = seed
    return TrialRecord(
        trial, "TERMINATED", {**dict.fromkeys(M.FINAL_METRICS, 1.0), **metrics}, config
    )


def test_a_confirmation_reports_its_fresh_seeds_with_the_search_run_beside_them(
    tmp_path: Path,
) -> None:
    """The search run that put "25% pruning + KD" on the front was lucky (0.90 validation
    accuracy, 4x); its two confirmation seeds reach 0.80 / 0.82 at 2x. The confirmation's
    configs.csv and summary.md give 0.81 and 2x over two seeds (pooled: 0.84, 2.52x over three)
    and show the search run's 0.90 and 4x in their own column."""
    chosen = {"name": "a", "kind": "prune", "target_density": 0.75, "distil": True}
    baseline = {"name": "baseline", "kind": "baseline"}
    search = summary_table(
        [
            _record("s0", baseline, 42, val_accuracy=0.85),
            _record("s1", chosen, 42, val_accuracy=0.90, accuracy=0.88, speedup=4.0),
            _record("s2", {**chosen, "target_density": 0.3}, 42, val_accuracy=0.60),
        ]
    )
    search.to_csv(tmp_path / "summary.csv", index=False)
    confirm = summary_table(
        [
            _record("c0", baseline, 43, val_accuracy=0.85),
            _record("c1", chosen, 43, val_accuracy=0.80, accuracy=0.79, speedup=2.0),
            _record("c2", chosen, 44, val_accuracy=0.82, accuracy=0.81, speedup=2.0),
        ]
    )
    table = confirmation_table(pd.read_csv(tmp_path / "summary.csv"), confirm)
    paths = write_summary(table, tmp_path / "confirm")

    configs = pd.read_csv(paths["configs"]).set_index("configuration")
    assert configs.index.tolist() == ["baseline", "25% pruning + KD"]  # the confirmed ones
    row = configs.loc["25% pruning + KD"]
    assert row["n_seeds"] == 2 and row["seeds"] == "43 44" and row["trial_ids"] == "c1 c2"
    assert row[f"{M.VAL_ACCURACY}_mean"] == pytest.approx(0.81)
    assert row[f"{M.ACCURACY}_mean"] == pytest.approx(0.80)
    assert row[f"{M.SPEEDUP}_mean"] == pytest.approx(2.0)
    assert row["search_val_accuracy"] == pytest.approx(0.90)
    assert row["search_speedup"] == pytest.approx(4.0) and row["search_trial_ids"] == "s1"
    assert configs.loc["baseline", "seeds"] == "43"

    md = paths["md"].read_text(encoding="utf-8")
    assert "selecting search run: val accuracy % / speedup ×" in md
    line = next(s for s in md.splitlines() if s.startswith("| 25% pruning + KD | 2 |"))
    assert "| 81.00 ± 1.41 |" in line and "| 2.00 ×/÷ 1.00 |" in line
    assert "| 90.00 / 4.00× |" in line
    assert "not averaged in" in md


def test_the_baseline_stays_the_teacher_and_the_studys_int8_gets_its_own_row() -> None:
    from study.points import levered_baseline

    settings = {"quantize": "int8", "vocab_trim": False}
    points = grid_points(
        "paper",
        seeds=1,
        first_seed=42,
        classical=False,
        levered_baseline=levered_baseline(settings),
    )
    merged = [{**settings, **point} for point in points]  # as every trial's config is built
    assert [p["name"] for p in merged[:3]] == ["baseline", "baseline + int8", "25% pruning"]
    assert merged[0]["quantize"] == "none" and merged[1]["quantize"] == "int8"
    assert merged[2]["quantize"] == "int8"  # the study's setting still reaches the students
    assert levered_baseline({"vocab_trim": True})["name"] == "baseline + vocab"
    assert levered_baseline({}) is None
