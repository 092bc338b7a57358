"""Readers: summary CSV/parquet, a hand-written Tune experiment directory, an Optuna storage."""

from __future__ import annotations

import json
import math

import optuna
import pandas as pd
import pytest

from analysis import (
    config_table,
    pareto_front,
    per_configuration,
    read_optuna,
    read_results,
    read_tune_experiment,
)
from analysis.labels import TARGET_DENSITY
from analysis.readers import find_results
from trainables.metrics import (
    ACCURACY,
    DENSITY,
    EMISSIONS_KG,
    FINAL_METRICS,
    SEED,
    SPEEDUP,
    VAL_ACCURACY,
)


def small_summary() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["baseline", "50% pruning + KD"],
            "status": ["TERMINATED", "TERMINATED"],
            "trial_id": ["a_0", "a_1"],
            "kind": ["baseline", "prune"],
            "distil": [False, True],
            ACCURACY: [0.79, 0.78],
            SPEEDUP: [1.0, 2.0],
            EMISSIONS_KG: [2e-6, 1e-6],
        }
    )


def test_summary_csv_parquet_and_study_directories(tmp_path) -> None:
    study = tmp_path / "results" / "paper"
    study.mkdir(parents=True)
    small_summary().to_csv(study / "summary.csv", index=False)
    small_summary().to_parquet(tmp_path / "summary.parquet")
    for source in (
        study / "summary.csv",
        study,
        tmp_path / "results",
        tmp_path / "summary.parquet",
    ):
        table = read_results(source)
        assert table["name"].tolist() == ["baseline", "50% pruning + KD"]
        assert table["distil"].tolist() == [False, True]
    (tmp_path / "results" / "sweep").mkdir()
    small_summary().to_csv(tmp_path / "results" / "sweep" / "summary.csv", index=False)
    with pytest.raises(ValueError, match="several studies"):
        read_results(tmp_path / "results")
    with pytest.raises(ValueError, match="does not exist"):
        read_results(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no summary.csv"):
        read_results(tmp_path / "empty")


def _final(**values: float) -> dict[str, float]:
    """A trial's final report: every final metric (1.0 unless given)."""
    return {**dict.fromkeys(FINAL_METRICS, 1.0), **values}


def _tune_trial(root, name, config, results=(), error=False, torn=False) -> None:
    trial = root / name
    trial.mkdir(parents=True)
    (trial / "params.json").write_text(json.dumps(config))
    lines = [json.dumps({**r, "trial_id": name[-5:], "config": config}) for r in results]
    if torn:
        lines.append('{"accuracy": 0.7, "spee')
    (trial / "result.json").write_text("\n".join(lines) + ("\n" if lines else ""))
    if error:
        (trial / "error.txt").write_text("Traceback ...\nRuntimeError: out of memory")


def test_tune_experiment_directory(tmp_path) -> None:
    experiment = tmp_path / "storage" / "paper"
    base = {"kind": "baseline", "name": "baseline", "preset": "tiny", "optim": {"lr": 5e-4},
            "data": {"data_dir": "/data/mahanews", "variant": "lpc"}, "epoch": 9}  # fmt: skip
    _tune_trial(
        experiment,
        "train_abc_00000",
        base,
        [
            {"epoch": 1, VAL_ACCURACY: 0.6},
            {"epoch": 2, **_final(val_accuracy=0.80, accuracy=0.79, speedup=1.0,
                                  emissions_kg=2e-6, density=1.0)},
        ],
    )  # fmt: skip
    pruned = {"kind": "prune", "name": "50% pruning", TARGET_DENSITY: 0.5, "distil": False}
    final = _final(val_accuracy=0.78, accuracy=0.77, speedup=2.0, emissions_kg=1e-6, density=0.52)
    _tune_trial(experiment, "train_abc_00001", pruned, [final], torn=True)
    _tune_trial(experiment, "train_abc_00002", {**pruned, TARGET_DENSITY: 0.1}, error=True)

    assert find_results(tmp_path / "storage") == ("tune", tmp_path / "storage")
    table = read_tune_experiment(tmp_path / "storage").set_index("name")
    # The last report counts: the final model's validation accuracy, not an epoch's.
    assert table.loc["baseline", ACCURACY] == 0.79 and table.loc["baseline", VAL_ACCURACY] == 0.80
    assert table.loc["baseline", "optim/lr"] == 5e-4  # nested config flattened
    assert table.loc["baseline", "data/variant"] == "lpc"  # data settings arrive flattened
    # The measured density is a metric; the target is the trial parameter, each in its column.
    measured = table.loc["50% pruning", DENSITY].tolist()
    assert measured[0] == 0.52 and math.isnan(measured[1])
    assert table.loc["50% pruning", TARGET_DENSITY].tolist() == [0.5, 0.1]
    # A config key that is also a reported value keeps the reported one; the config moves aside.
    assert table.loc["baseline", "epoch"] == 2 and table.loc["baseline", "config/epoch"] == 9
    assert [c for c in table.columns if c.startswith("config/")] == ["config/epoch"]
    assert table["status"].tolist() == ["TERMINATED", "TERMINATED", "ERROR"]
    assert table.loc["baseline", "trial_id"] == "00000"
    front = pareto_front(table.reset_index())
    assert front["name"].tolist() == ["baseline", "50% pruning"]


def test_an_interrupted_tune_trial_is_unfinished_and_left_out_of_its_configuration(
    tmp_path,
) -> None:
    """Three seeds of one configuration; the third stopped after its first epoch at 0.30
    validation accuracy. Its epoch report is not a final one: it is PENDING, and the
    configuration is the two finished seeds (0.80 and 0.82), not three (0.64)."""
    experiment = tmp_path / "storage" / "sweep"
    config = {"kind": "prune", "name": "50% pruning", TARGET_DENSITY: 0.5, "distil": False}
    for seed, val in ((1, 0.80), (2, 0.82)):
        epochs = [{"epoch": 1, VAL_ACCURACY: 0.5}, {"epoch": 2, VAL_ACCURACY: val}]
        final = {"epoch": 2, **_final(val_accuracy=val, accuracy=val - 0.01)}
        _tune_trial(experiment, f"train_{seed:05d}", {**config, SEED: seed}, [*epochs, final])
    _tune_trial(experiment, "train_00003", {**config, SEED: 3}, [{"epoch": 1, VAL_ACCURACY: 0.30}])

    table = read_tune_experiment(tmp_path / "storage")
    assert table.set_index(SEED)["status"].to_dict() == {
        1: "TERMINATED",
        2: "TERMINATED",
        3: "PENDING",
    }
    row = config_table(table).iloc[0]
    assert row["n_seeds"] == 2 and row["seeds"] == "1 2"
    assert row["val_accuracy_mean"] == pytest.approx(0.81)
    chosen = per_configuration(table)
    assert chosen[VAL_ACCURACY].tolist() == pytest.approx([0.81])


def _optuna_storage(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(
        study_name="sweep", storage=url, directions=["maximize", "maximize", "minimize"]
    )
    study.set_metric_names([VAL_ACCURACY, SPEEDUP, EMISSIONS_KG])  # the study's objectives
    distributions = {
        TARGET_DENSITY: optuna.distributions.FloatDistribution(0.1, 1.0),
        "distil": optuna.distributions.CategoricalDistribution([True, False]),
    }
    trials = [
        (
            {TARGET_DENSITY: 0.5, "distil": True},
            [0.78, 2.0, 1e-6],
            optuna.trial.TrialState.COMPLETE,
        ),
        (
            {TARGET_DENSITY: 0.9, "distil": False},
            [0.79, 1.1, 2e-6],
            optuna.trial.TrialState.COMPLETE,
        ),
        (
            {TARGET_DENSITY: 0.7, "distil": False},
            [0.70, 1.2, 3e-6],
            optuna.trial.TrialState.COMPLETE,
        ),
        ({TARGET_DENSITY: 0.2, "distil": True}, None, optuna.trial.TrialState.FAIL),
    ]
    for params, values, state in trials:
        # The study stores each finished trial's test accuracy as a user attribute.
        tested = {ACCURACY: values[0] - 0.01} if values else {}
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions,
                values=values,
                state=state,
                user_attrs={"preset": "tiny", **tested},
            )
        )
    return url


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_optuna_storage(tmp_path) -> None:
    url = _optuna_storage(tmp_path)
    table = read_results(url)
    assert table["status"].tolist() == ["TERMINATED"] * 3 + ["ERROR"]
    assert table[VAL_ACCURACY].tolist()[:3] == [0.78, 0.79, 0.70]
    assert table[ACCURACY].tolist()[:3] == pytest.approx([0.77, 0.78, 0.69])
    assert table["preset"].eq("tiny").all() and table["trial_id"].tolist() == ["0", "1", "2", "3"]
    assert table[TARGET_DENSITY].tolist() == [0.5, 0.9, 0.7, 0.2]
    assert pareto_front(table)["trial_id"].tolist() == ["1", "0"]  # the default objectives

    optuna.create_study(study_name="other", storage=url)
    with pytest.raises(ValueError, match="--study-name"):
        read_optuna(url)
    assert len(read_optuna(url, "sweep")) == 4
    other = read_optuna(url, "other")
    assert other.empty
    with pytest.raises(ValueError, match="no study 'missing'"):
        read_optuna(url, "missing")
