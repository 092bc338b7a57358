"""The study without a Ray cluster: search space, seed points, searchers, summary, CLI errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest

from analysis import read_results
from search_spaces import PAPER_TABLE, optuna_space, paper_points
from search_spaces.optuna_space import FloatRange
from study.summary import TrialRecord, summary_markdown, summary_table, write_summary
from trainables import metrics as M

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# Search space


def test_space_holds_the_six_paper_points() -> None:
    space = optuna_space()
    assert space["target_density"] == FloatRange(0.05, 0.95)
    assert space["temperature"] == FloatRange(1.0, 10.0, log=True)
    points = paper_points(space)
    expected = [(r.target_density, r.distil) for r in PAPER_TABLE if not r.is_baseline]
    assert [(p["target_density"], p["distil"]) for p in points] == expected
    assert all(p["temperature"] == 2.0 and p["alpha_distil"] == 0.9 for p in points)


def test_extra_parameters_take_their_seed_value_from_the_defaults() -> None:
    space = optuna_space(["learning_rate"])
    assert paper_points(space) == []  # no value for the learning rate: nothing to seed
    points = paper_points(space, {"learning_rate": 3e-4})
    assert len(points) == 6 and {p["learning_rate"] for p in points} == {3e-4}
    lam = optuna_space(["regularization_lambda"])
    assert "target_density" not in lam and "regularization_lambda" in lam
    with pytest.raises(ValueError, match="cannot search dropout"):
        optuna_space(["dropout"])


# --------------------------------------------------------------------------------------------
# Searchers (no Ray cluster needed)


def _final(accuracy: float, speedup: float, emissions: float) -> dict:
    result = {name: 0.5 for name in M.FINAL_METRICS}
    result.update({M.ACCURACY: accuracy, M.SPEEDUP: speedup, M.EMISSIONS_KG: emissions})
    return result


def test_optuna_searcher_is_multi_objective_seeded_and_not_seeded_twice(tmp_path: Path) -> None:
    from study.tuner import optuna_searcher, optuna_storage

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    space = optuna_space()

    def make():
        return optuna_searcher(
            space=space, points=paper_points(space), storage=optuna_storage(url), study_name="s",
            sampler="tpe", seed=0,
        )  # fmt: skip

    searcher = make()
    configs = [searcher.suggest(f"t{i}") for i in range(8)]
    assert configs[:6] == paper_points(space)
    assert all(0.05 <= c["target_density"] <= 0.95 for c in configs[6:])
    for i in range(7):
        searcher.on_trial_complete(f"t{i}", result=_final(0.8, 1.0 + i, 1e-6))
    # a last report without the objectives (the trial died after an epoch report) is a failure
    searcher.on_trial_complete("t7", result={M.EPOCH: 1, M.VAL_ACCURACY: 0.5})

    study = optuna.load_study(study_name="s", storage=url)
    assert len(study.directions) == 3 and study.metric_names == [
        "accuracy",
        "speedup",
        "emissions_kg",
    ]
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE"] * 7 + ["FAIL"]
    assert study.trials[0].user_attrs["trial_id"] == "t0"
    # the measured density is a metric beside the parameter, under its own name
    assert study.trials[0].user_attrs[M.DENSITY] == 0.5
    assert "target_density" in study.trials[0].params
    # a second searcher on the same study enqueues none of the paper points again
    make().suggest("u0")
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert len(trials) == 9 and "fixed_params" not in trials[8].system_attrs
    table = read_results(url)
    assert (table["status"] == "TERMINATED").sum() == 7 and "accuracy" in table.columns


def test_grid_searcher_suggests_each_point_once_and_restores_its_position(tmp_path: Path) -> None:
    from study.tuner import grid_searcher

    points = [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    searcher = grid_searcher(points)
    assert searcher.suggest("1") == {"name": "a"}
    searcher.save(str(tmp_path / "state.pkl"))
    restored = grid_searcher([])
    restored.restore(str(tmp_path / "state.pkl"))
    assert [restored.suggest(str(i)) for i in range(3)] == [
        {"name": "b"},
        {"name": "c"},
        restored.FINISHED,
    ]


# --------------------------------------------------------------------------------------------
# Summary


def _records() -> list[TrialRecord]:
    base = {"kind": "prune", "distil": False, "temperature": 2.0, "alpha_distil": 0.9}
    finished = _final(0.79, 1.4, 2e-6) | {M.DENSITY: 0.74, M.NUM_PARAMETERS: 3.2e6}
    teacher = {"name": "baseline", "kind": "baseline"}
    p25 = {"name": "25% pruning", "target_density": 0.75, **base}
    p50 = {"name": "50% pruning", "target_density": 0.5, **base}
    return [
        TrialRecord("b1", "TERMINATED", _final(0.8, 1.0, 3e-6), teacher),
        TrialRecord("p1", "TERMINATED", finished, p25),
        TrialRecord("p2", "ERROR", {M.EPOCH: 1}, p50, error="ValueError: boom"),
    ]


def test_summary_has_metric_config_and_paper_columns(tmp_path: Path) -> None:
    table = summary_table(_records(), paper=True)
    assert list(table["name"]) == ["baseline", "25% pruning", "50% pruning"]
    assert list(table["status"]) == ["TERMINATED", "TERMINATED", "ERROR"]
    for name in (*M.FINAL_METRICS, "trial_id", "target_density", "distil", "paper_accuracy"):
        assert name in table.columns, name
    assert not any(c.startswith("config/") for c in table.columns)
    row = table.iloc[1]
    assert row[M.DENSITY] == 0.74 and row["target_density"] == 0.75  # measured vs target
    assert row["paper_speedup"] == 1.43 and row["paper_accuracy"] == pytest.approx(0.9229)
    assert math.isnan(table.iloc[2][M.ACCURACY]) and table.iloc[2]["error"] == "ValueError: boom"

    paths = write_summary(table, tmp_path, title="t")
    again = read_results(tmp_path)  # the analysis reads it back through the directory
    assert len(again) == 3 and paths["csv"].name == "summary.csv"
    md = paths["md"].read_text()
    assert "| 25% pruning | TERMINATED | 3.2 | " in md and "| 92.29 |" in md
    assert "50% pruning failed: ValueError: boom" in md


def test_markdown_of_a_search_has_no_paper_columns() -> None:
    table = summary_table(_records()[1:2], paper=False)
    md = summary_markdown(table)
    assert "paper" not in md and "d=0.75" in md
    assert isinstance(table, pd.DataFrame) and "paper_accuracy" not in table.columns


# --------------------------------------------------------------------------------------------
# The CLI's errors: one line, exit code 2, before Ray starts


def _main(capsys, *args: str) -> tuple[int, list[str]]:
    from study.run import main

    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse
        code = exc.code
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "say what to run"),
        (("--grid", "paper", "--search", "optuna"), "not allowed with argument"),
        (("--grid", "table2"), "invalid choice"),
        (("--grid", "paper", "--epochs", "0"), "--epochs must be >= 1"),
        (("--grid", "paper", "--set", "densty=0.5"), "--set densty: not a trial config key"),
        (("--grid", "paper", "--set", "epochs=-1"), "epochs must be >= 1, got -1"),
        (("--grid", "paper", "--data-dir", "/no/such/folder"), "/no/such/folder does not exist"),
        (("--grid", "paper", "--gpus-per-trial", "1"), "no CUDA GPU"),
        (("--resume", "--name", "nothing-here"), "nothing to resume"),
        (("--grid", "paper", "--sampler", "nsga2"), "--sampler applies to --search"),
        (("--search", "optuna", "--also-search", "dropout"), "cannot search dropout"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args, message, tmp_path, capsys) -> None:
    if "--gpus-per-trial" in args:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
    code, lines = _main(capsys, *args, "--storage-path", str(tmp_path))
    assert code == 2
    assert len(lines) == 1 and message in lines[0], lines
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


def test_unreachable_hub_is_one_line(mahanews_dir: Path, tmp_path: Path, capsys) -> None:
    code, lines = _main(
        capsys, "--grid", "paper", "--preset", "paper", "--data-dir", str(mahanews_dir),
        "--variant", "shc", "--max-rows", "40", "--storage-path", str(tmp_path),
        "--cache-dir", str(tmp_path / "cache"),
    )  # fmt: skip
    assert code == 2
    assert lines[-1].startswith("error: cannot load model 'l3cube-pune/marathi-topic-all-doc-v2'")
    assert "--model DIR" in lines[-1]


def test_unusable_optuna_storage_is_one_line(mahanews_dir: Path, tmp_path: Path, capsys) -> None:
    code, lines = _main(
        capsys, "--search", "optuna", "--optuna-storage", "nosuchdb://x", "--data-dir",
        str(mahanews_dir), "--variant", "shc", "--max-rows", "40", "--storage-path", str(tmp_path),
    )  # fmt: skip
    assert code == 2
    assert lines[-1].startswith("error: cannot open the Optuna storage nosuchdb://x: ")


def test_the_module_runs_and_exits_2_on_a_bad_flag() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "study.run", "--grid", "paper", "--max-rows", "zero"],
        cwd=REPO,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "python -m study.run: error: argument --max-rows: invalid int value: 'zero' (see --help)"
    ]
