"""``python -m study.run`` end to end on a local Ray: the grid, an Optuna search, Ctrl+C and
``--resume``, a crashing trial. Small on purpose: 150 headlines per split, one or two epochs, one
CPU thread per trial, and the session's small 2 x 64 teacher passed with ``--model`` (the
crashing-trials test has the study train the tiny preset's own teacher, for one epoch, before its
trials fail: the cheapest place for it, as its trials never use it).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from search_spaces import PAPER_TABLE
from trainables import metrics as M

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PAPER_NAMES = [row.name for row in PAPER_TABLE]


def _env() -> dict[str, str]:
    # one thread: two threads on two shared cores are several times slower, not faster
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
    }


@pytest.fixture(scope="module")
def teacher(small_teacher) -> tuple[str, ...]:
    """``--model`` with the session's small teacher: trials 10x cheaper than the tiny preset's."""
    return ("--model", small_teacher[0].path)


def _args(
    mahanews_dir: Path,
    storage: Path,
    name: str,
    *extra: str,
    data: tuple[str, ...] = (),
    teacher: tuple[str, ...] = ("--teacher-epochs", "1", "--teacher-mlm-epochs", "0"),
) -> list[str]:
    data = data or ("--data-dir", str(mahanews_dir), "--variant", "shc")
    return [
        sys.executable, "-m", "study.run", *extra, "--preset", "tiny", *data, *teacher,
        "--max-rows", "150", "--cpus-per-trial", "1", "--set", "timing_repeats=2",
        "--set", "energy_seconds=0.5",
        "--storage-path", str(storage), "--name", name,
    ]  # fmt: skip


def _run(args: list[str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def _summary(directory: Path) -> pd.DataFrame:
    return pd.read_csv(directory / "summary.csv")


# What a TF-IDF model has no counterpart of: an encoder's kept fraction, its FLOP ratio, int8.
_NOT_CLASSICAL = {M.DENSITY, M.SPEEDUP_IDEAL, M.MODEL_MB_IN_MEMORY}


def _check_finished(table: pd.DataFrame) -> None:
    assert (table["status"] == "TERMINATED").all(), table[["name", "status", "error"]]
    bert = table["kind"] != M.KIND_CLASSICAL
    for name in M.FINAL_METRICS:
        values = pd.to_numeric(table[name] if name not in _NOT_CLASSICAL else table[name][bert])
        assert values.map(math.isfinite).all(), name


def _final_reports(trial_dir: Path) -> list[dict]:
    lines = (trial_dir / "result.json").read_text().splitlines()
    return [r for r in map(json.loads, filter(None, lines)) if M.ACCURACY in r]


def test_optuna_search_on_renamed_columns_persists_a_three_objective_study(
    mahanews_dir, tmp_path, teacher
) -> None:
    # A folder whose columns no auto-detection finds: --text-column/--label-column reach the
    # study's own load, the teacher and every trial (any of them on other columns would fail).
    folder = tmp_path / "renamed"
    folder.mkdir()
    for source, target in (("SHC_Valid.csv", "valid.csv"), ("SHC_Test.csv", "test.csv")):
        frame = pd.read_csv(mahanews_dir / source, dtype=str)
        frame.rename(columns={"Text": "matkur", "Label": "varg"}).to_csv(
            folder / target, index=False
        )
    data = ("--data-dir", str(folder), "--text-column", "matkur", "--label-column", "varg")
    # Emissions are an objective where CodeCarbon measures them; forced here, so that the
    # study is three-objective on any machine (without RAPL or NVML it would have two).
    objectives = ("--objectives", "val_accuracy:max,speedup:max,emissions_kg:min")
    args = _args(
        mahanews_dir, tmp_path, "sweep", "--search", "optuna", "-n", "3", *objectives, data=data,
        teacher=teacher,
    )  # fmt: skip
    args += ["--also-search", "levers"]  # every lever, conditional parameters: define-by-run
    proc = _run([*args, "--epochs", "1"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    storage = f"sqlite:///{tmp_path / 'sweep' / 'optuna.db'}"
    study = optuna.load_study(study_name="sweep", storage=storage)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MAXIMIZE", "MINIMIZE"]
    # selected on validation: the test accuracy is reported, never optimised
    assert study.metric_names == [M.VAL_ACCURACY, M.SPEEDUP, M.EMISSIONS_KG]
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == len(study.trials) == 3
    assert all(len(t.values) == 3 for t in complete)
    # the paper's points first: temperature and alpha only where they distil
    assert all(("temperature" in t.params) == t.params["distil"] for t in complete)
    assert all("drop_layer_share" in t.params for t in complete)
    table = _summary(tmp_path / "sweep")
    assert len(table) == 3
    _check_finished(table)
    assert set(table["data/text_column"]) == {"matkur"}
    assert set(table["data/label_column"]) == {"varg"}
    assert f"optuna-dashboard {storage}" in proc.stdout
    # Optuna's own views beside ours
    assert (tmp_path / "sweep" / "optuna_pareto_front.html").exists()

    # --confirm: the validation front again with a fresh seed, and the baseline to pair with
    confirm = _run(
        [
            sys.executable, "-m", "study.run", "--confirm", "--name", "sweep", "--seeds", "1",
            "--storage-path", str(tmp_path), "--cpus-per-trial", "1",
        ]
    )  # fmt: skip
    assert confirm.returncode == 0, confirm.stderr[-3000:]
    combined = _summary(tmp_path / "sweep" / "confirm")
    assert list(combined["phase"]).count("search") == 3
    confirmed = combined[combined["phase"] == "confirm"]
    _check_finished(confirmed)
    assert set(confirmed["seed"]) == {43} and list(confirmed["kind"]).count("baseline") == 1
    configs = pd.read_csv(tmp_path / "sweep" / "confirm" / "configs.csv")
    # each confirmed configuration is its confirmation seed alone; the search run that
    # selected it is shown beside it (search_*), never pooled into its numbers
    replicated = configs[configs["kind"] == "prune"]
    assert len(replicated) == len(confirmed) - 1 and (replicated["n_seeds"] == 1).all()
    assert replicated["seeds"].astype(str).eq("43").all()
    assert replicated["search_val_accuracy"].notna().all()


def test_paper_grid_interrupted_and_resumed_writes_summary_configs_and_data(
    mahanews_dir, tmp_path, teacher
) -> None:
    """The paper grid with the classical reference, stopped by Ctrl+C after its first finished
    trial and continued with ``--resume``: nothing lost, nothing repeated, everything written."""
    args = _args(
        mahanews_dir, tmp_path, "grid", "--grid", "paper", "--epochs", "2", teacher=teacher
    )  # fmt: skip
    study = tmp_path / "grid"
    proc = subprocess.Popen(
        args, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 600
        while not any(_final_reports(d) for d in study.glob("*/") if (d / "result.json").exists()):
            assert proc.poll() is None and time.monotonic() < deadline, "no trial finished"
            time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, out[-3000:]
    assert "continue with: python -m study.run --resume" in out
    before = {d.name: len(_final_reports(d)) for d in study.glob("*/") if d.is_dir()}
    assert 1 <= sum(before.values()) < 8

    resumed = _run([*args[:3], "--resume", "--storage-path", str(tmp_path), "--name", "grid"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    trial_dirs = sorted(d for d in study.iterdir() if (d / "params.json").exists())
    assert len(trial_dirs) == 8
    # the trained students twins could share are a cache of the running study: gone at its end
    assert json.loads((study / "study.json").read_text())["base_config"]["student_cache"] == str(
        study / "students"
    )
    assert not (study / "students").exists()
    for trial_dir in trial_dirs:
        assert len(_final_reports(trial_dir)) == 1, trial_dir.name  # finished once, none lost
        epochs = [
            r[M.EPOCH]
            for r in map(json.loads, (trial_dir / "result.json").read_text().splitlines())
            if M.ACCURACY not in r
        ]
        assert epochs == sorted(set(epochs)), (trial_dir.name, epochs)  # no epoch trained twice
        # every trial keeps CodeCarbon's own log and its per-example predictions
        assert (trial_dir / "emissions.csv").exists() and (trial_dir / "predictions.npz").exists()
        # and no training checkpoint once finished, those finished before the interrupt included
        assert not [p.name for p in trial_dir.iterdir() if p.name.startswith("checkpoint")]

    table = _summary(study)
    assert list(table["name"]) == [*PAPER_NAMES, "TF-IDF + LR"]
    _check_finished(table)
    paper_rows = table.iloc[: len(PAPER_NAMES)]
    assert list(paper_rows["paper_accuracy"]) == pytest.approx(
        [r.accuracy / 100 for r in PAPER_TABLE]
    )
    # one configuration per trial (one seed), each with its paired difference to the baseline
    configs = pd.read_csv(study / "configs.csv")
    assert len(configs) == 8 and set(configs["n_seeds"]) == {1}
    assert configs["delta_accuracy_ci_low"].notna().sum() >= 7
    # what cleaning removed, per split, and the final splits' fingerprints
    data = json.loads((study / "data.json").read_text())
    assert data["spec"]["variant"] == "shc"
    pruned = table[table["kind"] == "prune"]
    assert (pruned[M.NUM_PARAMETERS] < table.loc[0, M.NUM_PARAMETERS]).all()
    # the compact encoder keeps at least its target (heads with live V/O stay whole)
    assert (pruned[M.DENSITY] >= pruned["target_density"] - 0.03).all()
    assert (pruned[M.DENSITY] < 1).all()
    md = (study / "summary.md").read_text()
    assert all(f"| {name} | TERMINATED |" in md for name in [*PAPER_NAMES, "TF-IDF + LR"])
    # where the time went: every trial's phases add up to its wall time, totalled in summary.md
    phases = table[[*M.PHASES, M.PHASE_OTHER]].sum(axis=1)
    assert phases.to_numpy() == pytest.approx(table[M.TRIAL_SECONDS].to_numpy())
    assert "## Where the time went\n\n8 finished trial(s)" in md
    # the summary's paths come last; the terminal showed Tune's progress table
    assert resumed.stdout.strip().splitlines()[-2:] == [
        str(study / "summary.csv"),
        str(study / "summary.md"),
    ]
    assert "Number of trials: 8/8" in resumed.stdout and "target density" in resumed.stdout
    disk = [line for line in resumed.stdout.splitlines() if line.startswith("disk: ")]
    assert len(disk) == 1 and f" in {study}; largest trial " in disk[0]  # the space it used
    assert "25% pruning + KD" in resumed.stdout  # trials are named in the progress table
    # one teacher for the whole study: every trial read the same folder
    assert table["teacher"].nunique() == 1
    _check_a_grid_model_predicts_as_in_its_trial(table, data, tmp_path)
    # the same name again, without --resume, is refused before anything runs
    again = _run(args)
    assert again.returncode == 2 and "already holds a study" in again.stderr


def test_crashing_trials_are_retried_then_recorded_as_failed(
    mahanews_dir, tmp_path, teacher
) -> None:
    """Every attempt of every trial crashes; before that, the study trains its own tiny teacher
    (no ``--model``: the tiny preset's recipe, one epoch) and hands its folder to the trials."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("fp16 runs on a GPU; the crash needs a CPU-only machine")
    # fp16 passes the config check but a CPU trial refuses it: every attempt crashes
    args = _args(mahanews_dir, tmp_path, "bad", "--search", "optuna", "-n", "2")
    family = ("--teacher-family", "distilbert")  # built in another family: the flag reaches it
    proc = _run([*args, *family, "--max-failures", "1", "--set", "precision=fp16"])
    assert proc.returncode == 1, proc.stderr[-3000:]
    table = _summary(tmp_path / "bad")
    # the study's own teacher (not the session's small one), one folder for every trial
    built = table["teacher"].unique()
    assert len(built) == 1 and built[0] != teacher[1] and "/teachers/tiny-" in built[0]
    config = json.loads((Path(built[0]) / "config.json").read_text())
    assert config["model_type"] == "distilbert"
    assert f"teacher: {built[0]}" in proc.stdout
    assert list(table["status"]) == ["ERROR", "ERROR"]  # the second ran after the first failed
    assert table["error"].str.contains("fp16").all()
    for trial_dir in (d for d in (tmp_path / "bad").iterdir() if (d / "params.json").exists()):
        assert (trial_dir / "error.txt").read_text().count("Failure #") == 2  # tried twice
    study = optuna.load_study(study_name="bad", storage=f"sqlite:///{tmp_path / 'bad/optuna.db'}")
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]
    assert "bad failed" not in proc.stdout and "2 failed" in proc.stdout


def _check_a_grid_model_predicts_as_in_its_trial(table: pd.DataFrame, data: dict, tmp) -> None:
    """A compact model from the grid, as users load it (``pipeline``,
    ``trainables.commands.predict``), labels the study's test texts exactly as its trial did (the
    trial's ``predictions.npz``)."""
    import numpy as np
    from transformers import pipeline

    import trainables  # noqa: F401  (registers the compact model type)
    from analysis.predictions import read_test_predictions
    from trainables.commands.predict import main as predict
    from trainables.data import DataSpec, load_splits

    row = table[table["name"] == "25% pruning + KD"].iloc[0]
    trial_pred, trial_gold = read_test_predictions(row[M.PREDICTIONS_FILE])
    test = load_splits(DataSpec.from_dict(data["spec"])).test
    classify = pipeline("text-classification", model=row["model_dir"])
    label2id = classify.model.config.label2id
    assert [label2id[label] for label in test["label"]] == trial_gold.tolist()
    piped = [label2id[out["label"]] for out in classify(list(test["text"]), truncation=True)]
    assert piped == trial_pred.tolist()
    test[["text"]].to_csv(tmp / "test.csv", index=False)
    assert (
        predict([row["model_dir"], "--file", str(tmp / "test.csv"), "--out", str(tmp / "p.csv")])
        == 0
    )
    assert np.array_equal(pd.read_csv(tmp / "p.csv")["label_id"], trial_pred)


@pytest.mark.parametrize("family", ["xlm-roberta", "roberta", "electra", "distilbert"])
def test_a_study_in_each_family_ships_compact_models_of_that_family(
    mahanews_dir, tmp_path, family
) -> None:
    """The tiny preset in the family (its own tokenizer kind trained on the headlines), a
    two-trial study (the baseline and 25% pruning + KD), and the pruned model shipped in the
    family's own compact folder type. (BERT: the tests above.)"""
    args = _args(
        mahanews_dir, tmp_path, family, "--grid", "paper", "--rows", "25% pruning + KD",
        "--no-classical", "--teacher-family", family, "--epochs", "1",
    )  # fmt: skip
    proc = _run(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = _summary(tmp_path / family)
    assert sorted(table["kind"]) == [M.KIND_BASELINE, M.KIND_PRUNE]
    _check_finished(table)
    teacher = json.loads((Path(table["teacher"].iloc[0]) / "config.json").read_text())
    assert teacher["model_type"] == family
    pruned = table[table["kind"] == M.KIND_PRUNE]["model_dir"].iloc[0]
    saved = json.loads((Path(pruned) / "config.json").read_text())
    assert saved["model_type"] == f"lowres-compact-{family}"
    assert (Path(pruned) / "README.md").exists()
