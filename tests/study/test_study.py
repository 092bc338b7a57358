"""The study without a Ray cluster: search space, seed points, searchers, summary, CLI errors."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from analysis import read_results
from search_spaces import PAPER_TABLE, optuna_space, paper_points
from search_spaces.optuna_space import FloatRange
from study import TrialRecord, front_models, summary_markdown, summary_table, write_summary
from study.markdown import configs_markdown
from trainables import metrics as M

REPO = Path(__file__).resolve().parents[2]


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
    result.update({M.VAL_ACCURACY: accuracy, M.SPEEDUP: speedup, M.EMISSIONS_KG: emissions})
    return result


def test_optuna_searcher_is_multi_objective_seeded_and_not_seeded_twice(tmp_path: Path) -> None:
    from study.searchers import optuna_searcher, optuna_storage

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    space = optuna_space()

    def make():
        return optuna_searcher(
            space=space, points=paper_points(space), storage=optuna_storage(url), study_name="s",
            sampler="tpe", seed=0,
        )  # fmt: skip

    searcher = make()
    configs = [searcher.suggest(f"t{i}") for i in range(8)]
    # the paper's points first; temperature and alpha are searched under distillation only
    assert configs[:6] == [
        {k: v for k, v in p.items() if p["distil"] or k not in ("temperature", "alpha_distil")}
        for p in paper_points(space)
    ]
    assert all(0.05 <= c["target_density"] <= 0.95 for c in configs[6:])
    for i in range(7):
        searcher.on_trial_complete(f"t{i}", result=_final(0.8, 1.0 + i, 1e-6))
    # a last report without the objectives (the trial died after an epoch report) is a failure
    searcher.on_trial_complete("t7", result={M.EPOCH: 1, M.VAL_ACCURACY: 0.5})

    study = optuna.load_study(study_name="s", storage=url)
    # selection on validation: test accuracy is reported, never optimised
    assert len(study.directions) == 3 and study.metric_names == [
        "val_accuracy",
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


def test_a_collapsed_trial_is_infeasible_to_the_search(tmp_path: Path) -> None:
    from study.searchers import MAJORITY_CONSTRAINT, optuna_searcher, optuna_storage

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    space = optuna_space()
    searcher = optuna_searcher(
        space=space, points=paper_points(space)[:3], storage=optuna_storage(url),
        study_name="s", sampler="tpe", seed=0,
    )  # fmt: skip
    for i in range(3):
        searcher.suggest(f"t{i}")
    # a classifier; one that learnt the label counts only (one class for every text, the
    # fastest); one written before trials reported the majority share (no constraint)
    searcher.on_trial_complete("t0", result={**_final(0.8, 2.0, 1e-6), M.VAL_MAJORITY: 0.15})
    searcher.on_trial_complete("t1", result={**_final(0.15, 19.0, 1e-7), M.VAL_MAJORITY: 0.15})
    searcher.on_trial_complete("t2", result=_final(0.7, 1.5, 2e-6))
    trials = optuna.load_study(study_name="s", storage=url).trials
    assert trials[0].constraints[MAJORITY_CONSTRAINT] == pytest.approx(-0.65)
    assert trials[1].constraints[MAJORITY_CONSTRAINT] > 0  # a tie is no better
    assert trials[2].constraints == {}
    # so the sampler's front (and Optuna's own plots) leave it off, fastest as it is
    best = optuna.load_study(study_name="s", storage=url).best_trials
    assert [t.number for t in best] == [0]


def test_grid_searcher_suggests_each_point_once_and_restores_its_position(tmp_path: Path) -> None:
    from study.searchers import grid_searcher

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


def test_summary_shows_the_forward_only_speedup_and_what_was_timed(tmp_path: Path) -> None:
    records = _records()
    timed = {M.SPEEDUP_FORWARD: 1.61, M.TIMED_BATCHES: 1, M.TIMED_ROWS: 12, M.TIMING_ROUNDS: 3}
    records[1] = TrialRecord("p1", "TERMINATED", {**records[1].metrics, **timed}, records[1].config)
    table = summary_table(records)
    for name, value in timed.items():
        assert table.iloc[1][name] == value, name
    paths = write_summary(table, tmp_path, title="t")
    csv = pd.read_csv(paths["csv"])
    assert csv.loc[1, M.TIMED_ROWS] == 12 and csv.loc[1, M.SPEEDUP_FORWARD] == 1.61
    md = paths["md"].read_text()
    # end to end, then forward only, side by side
    assert "| speedup × | forward-only × |" in md and "| 1.40 | 1.61 |" in md


def test_summary_totals_the_finished_trials_time_by_phase(tmp_path: Path) -> None:
    def timed(trial_seconds: float, **phases: float) -> dict:
        named = {name: phases.get(name, 0.0) for name in M.PHASES}
        other = trial_seconds - sum(named.values())
        return {**named, M.PHASE_OTHER: other, M.TRIAL_SECONDS: trial_seconds}

    records = _records()
    records[0].metrics.update(timed(300.0, **{M.PHASE_TIMING: 120.0, M.PHASE_EVAL: 60.0}))
    records[1].metrics.update(timed(900.0, **{M.PHASE_TRAIN: 600.0, M.PHASE_TIMING: 120.0}))
    records[2].metrics.update(timed(6000.0, **{M.PHASE_TRAIN: 6000.0}))  # failed: not counted
    paths = write_summary(summary_table(records), tmp_path, title="t")
    saved = pd.read_csv(paths["csv"])
    assert {*M.PHASES, M.PHASE_OTHER, M.TRIAL_SECONDS} <= set(saved.columns)
    assert saved[M.PHASE_TRAIN].tolist() == [0.0, 600.0, 6000.0]
    md = paths["md"].read_text()
    table = md[md.index("## Where the time went") :]
    # 1200 s in all: training 600 (50%), timing 240 (20%), evaluation 60, the rest 300
    assert "2 finished trial(s), 20.0 trial-minutes" in table
    assert "Measuring (evaluation, timing, energy): 25.0% of them." in table
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert rows == [
        "| training | 10.0 | 50.0 |",
        "| evaluation | 1.0 | 5.0 |",
        "| timing | 4.0 | 20.0 |",
        "| other | 5.0 | 25.0 |",
        "| total | 20.0 | 100.0 |",
    ]
    # trials from before phases were reported: no table
    assert "Where the time went" not in summary_markdown(summary_table(_records()))


def test_markdown_of_a_search_has_no_paper_columns() -> None:
    table = summary_table(_records()[1:2], paper=False)
    md = summary_markdown(table)
    assert "paper" not in md and "d=0.75" in md
    assert isinstance(table, pd.DataFrame) and "paper_accuracy" not in table.columns


N_TEST = 500


def _replicated_records(tmp_path: Path, *, shared: bool = False) -> list[TrialRecord]:
    """A baseline; 50% pruning over 3 seeds, each losing 50 of the baseline's right answers
    (an interval far below 0); 25% pruning on one seed, 2 answers off (an interval around 0);
    every trial with its prediction file."""
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 4, N_TEST).astype(np.int64)
    base_ok = rng.random(N_TEST) < 0.9

    def record(trial: str, ok: np.ndarray, config: dict, **metrics: object) -> TrialRecord:
        pred = np.where(ok, gold, (gold + 1) % 4).astype(np.int64)
        path = tmp_path / f"{trial}.npz"
        np.savez(path, test_pred=pred, test_gold=gold, val_pred=pred, val_gold=gold)
        result = {name: 0.5 for name in M.FINAL_METRICS} | {
            M.ACCURACY: float(ok.mean()),
            M.VAL_ACCURACY: float(ok.mean()) - 0.01,
            M.EMISSIONS_KG_PER_1K: 2e-6,
            M.TEACHER_EMISSIONS_KG_PER_1K: 3e-6,  # the teacher metered in the same trial
            M.TRAIN_EMISSIONS_KG: 1e-3,
            M.ENERGY_METHOD: "cpu: TDP estimate; ram: estimate",
            M.PREDICTIONS_FILE: str(path),
        }
        return TrialRecord(trial, "TERMINATED", result | metrics, config)

    prune = {"kind": "prune", "distil": False, "temperature": 2.0, "alpha_distil": 0.9}
    records = [
        record(
            "b1",
            base_ok,
            {"name": "baseline", "kind": "baseline", "seed": 42},
            **{M.EMISSIONS_KG_PER_1K: 3e-6, M.TRAIN_EMISSIONS_KG: math.nan, M.SPEEDUP: 1.0},
        )
    ]
    for seed in range(3):
        ok = base_ok.copy()
        ok[rng.choice(np.flatnonzero(base_ok), 50, replace=False)] = False
        config = {"name": "50% pruning", "target_density": 0.5, "seed": 42 + seed, **prune}
        records.append(record(f"p{seed}", ok, config, **{M.SPEEDUP: 1.5 + 0.1 * seed}))
    ok = base_ok.copy()
    ok[np.flatnonzero(base_ok)[:2]] = False
    config = {"name": "25% pruning", "target_density": 0.75, "seed": 42, **prune}
    records.append(record("q0", ok, config, **{M.SPEEDUP: 1.2, M.MACHINE_SHARED: shared}))
    return records


def test_summary_keeps_seed_energy_details_and_computes_payback(tmp_path: Path) -> None:
    records = _replicated_records(tmp_path)
    records[0].config["machine_shared"] = True  # the study's flag stands in for a missing one
    table = summary_table(records)
    kept = (M.VAL_ACCURACY, M.VAL_MACRO_F1, M.EMISSIONS_KG_PER_1K, M.ENERGY_KWH_PER_1K)
    details = (M.ENERGY_METHOD, M.MACHINE_SHARED, M.SEED, M.PREDICTIONS_FILE)
    for column in (*kept, *details, M.PAYBACK_PREDICTIONS):
        assert column in table.columns, column
    columns = list(table.columns)
    assert columns.index(M.TRAIN_SECONDS) < columns.index(M.PAYBACK_PREDICTIONS)
    assert table[M.SEED].tolist() == [42, 42, 43, 44, 42]
    shared = table[M.MACHINE_SHARED].tolist()
    assert shared[0] is True and math.isnan(shared[1]) and shared[4] is False
    payback = table[M.PAYBACK_PREDICTIONS]
    assert math.isnan(payback[0])  # the baseline pays nothing back
    # 1 g to train, 1 mg saved per 1,000 predictions: a million predictions.
    assert payback[1:].tolist() == pytest.approx([1e6] * 4)


def test_summary_md_shows_configurations_and_marks_intervals_that_exclude_zero(
    tmp_path: Path,
) -> None:
    table = summary_table(_replicated_records(tmp_path, shared=True))
    paths = write_summary(table, tmp_path / "out", title="t")
    assert paths["configs"].name == "configs.csv"
    configs = pd.read_csv(paths["configs"])
    assert configs["configuration"].tolist() == ["baseline", "50% pruning", "25% pruning"]
    assert configs["n_seeds"].tolist() == [1, 3, 1]
    assert configs["ci_excludes_zero"].tolist() == [False, True, False]

    md = paths["md"].read_text()
    assert "test accuracy %" in md and "val accuracy %" in md
    trials_md, configs_md = md.split("## Configurations (mean over seeds)\n")
    assert "| payback (predictions) |" in trials_md and "| 1,000,000 |" in trials_md
    lines = [line for line in configs_md.splitlines() if line.startswith("| ")]
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in lines}
    assert "Δ test accuracy vs baseline (points, 95% CI)" in rows["configuration"]
    worse = rows["50% pruning"]
    assert "| 3 | " in worse and "| -10.00 [" in worse and "]* |" in worse
    logs = np.log([1.5, 1.6, 1.7])  # a ratio: geometric mean ×/÷ geometric sd
    assert f"| {np.exp(logs.mean()):.2f} ×/÷ {np.exp(logs.std(ddof=1)):.2f} |" in worse
    assert "| 1,000,000 |" in worse  # payback predictions
    close = rows["25% pruning"]
    assert "| -0.40 [" in close and "]*" not in close and "| 0.5 |" in close  # McNemar b=0, c=2
    assert "| 0 (reference) |" in rows["baseline"] and "*" not in rows["baseline"]
    assert configs_md.count("]*") == 1  # exactly where Holm's adjusted p < 0.05
    assert "significant after Holm's adjustment over the 2 configuration(s)" in configs_md
    # old-style prediction files (no test_group): the unit is rows, and the note says so
    assert "95% bootstrap over 500 test rows (the prediction files name no texts" in configs_md
    assert "Energy method: cpu: TDP estimate; ram: estimate." in configs_md
    assert "**Warning:** 1 of 5 trial(s) ran while other trials shared the machine" in configs_md


def test_summary_without_prediction_files_still_writes_its_tables(tmp_path: Path) -> None:
    records = _replicated_records(tmp_path)
    for record in records:
        record.metrics.pop(M.PREDICTIONS_FILE)
    table = summary_table(records)
    with pytest.warns(UserWarning, match="no predictions_file"):
        paths = write_summary(table, tmp_path / "out")
    configs = pd.read_csv(paths["configs"])
    assert configs["delta_accuracy_mean"].iloc[1:].isna().all()
    md = paths["md"].read_text()
    assert "## Configurations (mean over seeds)" in md and "]*" not in md
    assert "**Warning:**" not in md  # no trial shared its machine


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
        (("--search", "optuna", "--seeds", "3"), "--seeds 3 applies to --grid and --confirm"),
        (("--grid", "paper", "--seeds", "0"), "--seeds must be >= 1, got 0"),
        (("--confirm", "--grid", "paper"), "--confirm re-runs a finished search"),
        (("--confirm",), "--confirm needs --name"),
        (("--confirm", "--name", "nothing-here"), "nothing to confirm"),
        (("--search", "optuna", "--no-classical"), "--no-classical applies to --grid only"),
        (("--search", "optuna", "--rows", "baseline"), "--rows applies to --grid only"),
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


def test_the_validation_front_lists_the_model_folders(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "name": ["baseline", "a", "b", "c", "failed"],
            "status": ["TERMINATED"] * 4 + ["ERROR"],
            "kind": ["baseline", "prune", "prune", "prune", "prune"],
            M.SEED: [42, 42, 42, 43, 42],
            M.VAL_ACCURACY: [0.90, 0.89, 0.80, 0.70, math.nan],
            M.ACCURACY: [0.88, 0.99, 0.79, 0.69, math.nan],
            M.SPEEDUP: [1.0, 1.5, 2.0, 1.9, math.nan],
            M.EMISSIONS_KG: [math.nan] * 5,  # energy off: that objective drops out
            "model_dir": ["", "/m/a", "/m/b", "/m/c", ""],
        }
    )
    front = front_models(table)
    # c is dominated by b on validation; a's high test accuracy plays no part in choosing
    assert list(front["name"]) == ["a", "b"] and list(front["model_dir"]) == ["/m/a", "/m/b"]
    write_summary(table, tmp_path)
    md = (tmp_path / "summary.md").read_text()
    assert "## Models on the validation front" in md and "`/m/b`" in md and "`/m/c`" not in md


def test_help_shows_each_default_once() -> None:
    from study.cli import build_parser

    text = build_parser().format_help()
    assert "(default: None)" not in text and "(default: )" not in text
    options = " ".join(text.split()).split(" --")
    assert all(option.count("default") <= 1 for option in options), [
        o for o in options if o.count("default") > 1
    ]
    assert "(default: every row)" in " ".join(text.split())
    assert "(default: 16)" in text


# --------------------------------------------------------------------------------------------
# Objectives: emissions only where CodeCarbon measures them, or when --objectives asks


def test_a_search_on_an_estimating_machine_has_two_objectives_and_says_why(capsys) -> None:
    from study.plan import study_objectives

    objectives = study_objectives({}, energy=M.ENERGY_ESTIMATED)
    assert objectives == {M.VAL_ACCURACY: "max", M.SPEEDUP: "max"}
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "estimated from time" in lines[0]
    assert "--objectives val_accuracy:max,speedup:max,emissions_kg:min" in lines[0]


def test_a_measuring_machine_or_the_flag_gives_three_objectives(capsys) -> None:
    from study.cli import parse_objectives
    from study.errors import UsageError
    from study.plan import study_objectives

    three = {M.VAL_ACCURACY: "max", M.SPEEDUP: "max", M.EMISSIONS_KG: "min"}
    assert study_objectives({}, energy=M.ENERGY_MEASURED) == three
    forced = parse_objectives("val_accuracy:max,speedup:max,emissions_kg:min")
    assert study_objectives({}, energy=M.ENERGY_ESTIMATED, forced=forced) == three
    assert capsys.readouterr().err == ""  # nothing dropped, nothing to warn about
    # the flag's order is the objectives' order (the first one numbers the front)
    assert list(parse_objectives("speedup:max, accuracy:max")) == [M.SPEEDUP, M.ACCURACY]
    with pytest.raises(UsageError, match="measure_energy is off"):
        study_objectives({"measure_energy": False}, energy=M.ENERGY_MEASURED, forced=forced)


def test_the_study_knows_before_trials_whether_energy_is_measured() -> None:
    from trainables.measure.energy import expected_energy_source

    def source(gpu_trials, rapl, nvml):
        return expected_energy_source(gpu_trials=gpu_trials, rapl=rapl, nvml=nvml)

    assert source(False, rapl=True, nvml=False) == M.ENERGY_MEASURED
    # CPU trials on a machine with a GPU: CodeCarbon reads NVML, but the CPU's power is a model
    assert source(False, rapl=False, nvml=True) == M.ENERGY_ESTIMATED
    assert source(True, rapl=True, nvml=False) == M.ENERGY_ESTIMATED
    assert source(True, rapl=False, nvml=True) == M.ENERGY_MEASURED
    assert source(None, rapl=False, nvml=False) == M.ENERGY_ESTIMATED


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("val_accuracy:max,speed:max", "'speed' is not a metric a trial reports"),
        ("val_accuracy:up,speedup:max", "write NAME:max or NAME:min"),
        ("val_accuracy:max", "give at least two"),
        ("speedup:max,speedup:min", "names speedup twice"),
    ],
)
def test_bad_objectives_are_one_line_with_exit_code_2(flag, message, tmp_path, capsys) -> None:
    code, lines = _main(capsys, "--search", "optuna", "--objectives", flag,
                        "--storage-path", str(tmp_path))  # fmt: skip
    assert code == 2
    assert len(lines) == 1 and message in lines[0], lines
    assert not list(tmp_path.iterdir())


def test_objectives_belong_to_a_new_study(tmp_path, capsys) -> None:
    code, lines = _main(capsys, "--resume", "--name", "x", "--objectives",
                        "speedup:max,accuracy:max", "--storage-path", str(tmp_path))  # fmt: skip
    assert code == 2 and "--objectives applies to a new --grid or --search" in lines[0]


def test_summary_md_labels_emissions_estimated_when_codecarbon_estimated(tmp_path: Path) -> None:
    estimated = "estimated from time (cpu: TDP x load estimate; ram: size estimate)"
    records = _replicated_records(tmp_path)
    for record in records:
        record.metrics[M.ENERGY_METHOD] = f"{estimated}; machine tracking"
    md = summary_markdown(summary_table(records))
    assert "emissions / test pass, estimated from time (mg CO₂eq)" in md
    assert "energy, estimated from time (Wh)" in md
    assert "emissions / 1,000 predictions, estimated from time (mg CO₂eq)" in md
    assert "Emissions and energy are estimated from time" in md
    # measured readings keep their plain headers and no such note
    for record in records:
        record.metrics[M.ENERGY_METHOD] = "measured (cpu: RAPL; ram: size estimate)"
    md = summary_markdown(summary_table(records))
    assert "estimated from time" not in md and "emissions / test pass (mg CO₂eq)" in md


def test_the_front_models_are_chosen_on_the_study_objectives(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "name": ["a", "b", "c"],
            "status": ["TERMINATED"] * 3,
            "kind": ["prune"] * 3,
            M.VAL_ACCURACY: [0.89, 0.80, 0.79],
            M.ACCURACY: [0.88, 0.79, 0.78],
            M.SPEEDUP: [1.5, 2.0, 1.9],
            # c's estimated emissions put it on a 3-objective front, not on the study's 2
            M.EMISSIONS_KG: [3e-6, 2e-6, 1e-6],
            "model_dir": ["/m/a", "/m/b", "/m/c"],
        }
    )
    assert list(front_models(table)["name"]) == ["a", "b", "c"]
    two = {M.VAL_ACCURACY: "max", M.SPEEDUP: "max"}
    assert list(front_models(table, two)["name"]) == ["a", "b"]
    write_summary(table, tmp_path, objectives=two)
    md = (tmp_path / "summary.md").read_text()
    assert "Chosen on validation accuracy and speedup; test accuracy reported" in md
    assert "`/m/c`" not in md


def test_a_star_means_holm_adjusted_p_below_five_percent() -> None:
    """The star follows p_holm, not the unadjusted interval; the notes give the family size
    and the unit the intervals resample."""
    base = {"n_seeds": 1, "test_texts": 300, "test_rows": 319, "kind": "prune"}
    configs = pd.DataFrame(
        [
            {**base, "configuration": "baseline", "kind": "baseline", "delta_accuracy_mean": 0.0},
            {**base, "configuration": "a", "delta_accuracy_mean": -0.025, "p_value": 0.0215,
             "delta_accuracy_ci_low": -0.045, "delta_accuracy_ci_high": -0.005,
             "ci_excludes_zero": True, "p_holm": 0.0645},
            {**base, "configuration": "b", "delta_accuracy_mean": -0.08, "p_value": 0.0005,
             "delta_accuracy_ci_low": -0.1, "delta_accuracy_ci_high": -0.06,
             "ci_excludes_zero": True, "p_holm": 0.0015},
            {**base, "configuration": "c", "delta_accuracy_mean": 0.0, "p_value": 1.0,
             "delta_accuracy_ci_low": -0.01, "delta_accuracy_ci_high": 0.01,
             "ci_excludes_zero": False, "p_holm": 1.0},
        ]
    )  # fmt: skip
    md = configs_markdown(configs)
    rows = {line.split(" | ")[0].removeprefix("| "): line for line in md.splitlines()}
    assert "-2.50 [-4.50, -0.50] |" in rows["a"]  # excludes 0, but not after Holm: no star
    assert "-8.00 [-10.00, -6.00]* |" in rows["b"] and "| 0.0015 |" in rows["b"]
    assert md.count("]*") == 1
    assert "significant after Holm's adjustment over the 3 configuration(s)" in md
    assert "(family size 3): adjusted p < 0.05" in md
    assert "95% bootstrap over 300 distinct test texts (319 rows) and seeds" in md
