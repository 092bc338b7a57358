"""Replicates and uncertainty: configuration grouping, paired bootstrap, McNemar, payback."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from analysis import (
    PairingWarning,
    config_table,
    configuration_ids,
    configuration_labels,
    mcnemar_exact,
    paired_bootstrap_delta,
    payback_column,
    payback_predictions,
)
from analysis.compare import main as compare_main
from trainables import metrics as M

# --------------------------------------------------------------------------------------------
# Paired bootstrap


def _improved(base: np.ndarray, fix: float, seeds: int, rng: np.random.Generator) -> np.ndarray:
    """Candidates right wherever the baseline is, and right on a fraction ``fix`` of its
    errors: true difference = fix * (1 - baseline accuracy)."""
    return base[None, :] | (rng.random((seeds, base.size)) < fix)


def test_bootstrap_interval_holds_a_clear_effect_and_excludes_zero() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(3000) < 0.8
    candidate = _improved(base, 0.25, 3, rng)  # true difference 0.2 * 0.25 = 0.05
    mean, low, high = paired_bootstrap_delta(candidate, base)
    assert mean == pytest.approx(candidate.mean() - base.mean())
    assert low < 0.05 < high
    assert 0.0 < low < mean < high


def test_bootstrap_interval_includes_zero_without_an_effect() -> None:
    rng = np.random.default_rng(4)
    base = rng.random(2000) < 0.8
    candidate = np.tile(base, (2, 1))
    right, wrong = np.flatnonzero(base), np.flatnonzero(~base)
    for seed in range(2):  # as many new errors as fixes: the same accuracy, other examples
        candidate[seed, rng.choice(right, 40, replace=False)] = False
        candidate[seed, rng.choice(wrong, 40, replace=False)] = True
    mean, low, high = paired_bootstrap_delta(candidate, base)
    assert mean == pytest.approx(0.0)
    assert low < 0.0 < high


def test_bootstrap_covers_the_true_difference_about_as_often_as_it_says() -> None:
    rng = np.random.default_rng(5)
    covered = 0
    for trial in range(200):
        base = rng.random(400) < 0.7
        candidate = _improved(base, 0.1, 1, rng)  # true difference 0.3 * 0.1 = 0.03
        _, low, high = paired_bootstrap_delta(candidate, base, n_boot=400, rng_seed=trial)
        covered += low <= 0.03 <= high
    assert 0.88 <= covered / 200 <= 0.99


def test_bootstrap_matches_a_plain_loop_over_examples_and_seeds() -> None:
    """The vectorised bootstrap has the distribution of the obvious loop: resample example
    indices (shared by candidate and baseline) and candidate seeds, average, subtract."""
    rng = np.random.default_rng(6)
    base = rng.random(500) < 0.8
    candidate = _improved(base, 0.1, 3, rng)
    candidate[1, rng.choice(500, 30, replace=False)] = False  # seeds that differ
    loop = np.empty(4000)
    for b in range(loop.size):
        idx = rng.integers(500, size=500)
        seeds = rng.integers(3, size=3)
        loop[b] = candidate[seeds][:, idx].mean() - base[idx].mean()
    _, low, high = paired_bootstrap_delta(candidate, base, n_boot=4000, rng_seed=1)
    assert low == pytest.approx(np.quantile(loop, 0.025), abs=0.004)
    assert high == pytest.approx(np.quantile(loop, 0.975), abs=0.004)


def test_bootstrap_resamples_seeds_and_is_deterministic() -> None:
    rng = np.random.default_rng(7)
    base = rng.random(1000) < 0.8
    alike = np.tile(_improved(base, 0.2, 1, rng), (3, 1))  # three identical replicates
    spread = alike.copy()
    spread[0, np.flatnonzero(~base)[:60]] = True  # one replicate far better, one worse
    spread[2, np.flatnonzero(alike[2] & ~base)[:60]] = False
    _, low_a, high_a = paired_bootstrap_delta(alike, base)
    _, low_s, high_s = paired_bootstrap_delta(spread, base)
    assert high_s - low_s > 1.5 * (high_a - low_a)  # seed variation widens the interval
    assert paired_bootstrap_delta(spread, base) == paired_bootstrap_delta(spread, base)
    one_d = paired_bootstrap_delta(alike[0], np.tile(base, (2, 1)))
    assert one_d == paired_bootstrap_delta(alike[:1], base)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"candidate_correct": np.ones((2, 5)), "baseline_correct": np.ones(4)}, "5 examples"),
        ({"candidate_correct": np.ones(5), "baseline_correct": np.ones(5), "level": 95}, "level"),
        ({"candidate_correct": np.ones(5), "baseline_correct": np.ones(5), "n_boot": 0}, "n_boot"),
        ({"candidate_correct": np.ones((2, 2, 2)), "baseline_correct": np.ones(2)}, "shape"),
    ],
)
def test_bootstrap_rejects_bad_input_by_name(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap_delta(**kwargs)


# --------------------------------------------------------------------------------------------
# McNemar


def test_mcnemar_is_the_exact_binomial_on_discordant_pairs() -> None:
    # b = 1 (candidate right, baseline wrong), c = 9 (the reverse), 20 concordant examples.
    candidate = np.array([True] + [False] * 9 + [True] * 10 + [False] * 10)
    baseline = np.array([False] + [True] * 9 + [True] * 10 + [False] * 10)
    p = mcnemar_exact(candidate, baseline)
    assert p == pytest.approx(0.021484375, abs=1e-12)  # 2 * (1 + 10) / 2**10
    assert p == pytest.approx(2 * binom.cdf(1, 10, 0.5))
    assert mcnemar_exact(baseline, candidate) == pytest.approx(p)  # two-sided: symmetric
    assert mcnemar_exact(candidate, candidate) == 1.0  # no discordant pairs
    assert mcnemar_exact(candidate[:2], baseline[:2]) == 1.0  # b = 1, c = 1


def test_mcnemar_needs_one_dimensional_pairs() -> None:
    with pytest.raises(ValueError, match="1-D"):
        mcnemar_exact(np.ones((2, 3), bool), np.ones(3, bool))


# --------------------------------------------------------------------------------------------
# Payback


def test_payback_is_training_over_savings_per_prediction() -> None:
    # 1.5 g to train; 4 mg vs 1 mg per 1,000 predictions saves 3 µg per prediction: 500 predictions.
    assert payback_predictions(1.5e-3, 1e-3, 4e-3) == pytest.approx(500.0)
    assert payback_predictions(0.0, 1e-3, 4e-3) == 0.0
    assert payback_predictions(1.5e-3, 4e-3, 4e-3) == math.inf  # saves nothing
    assert payback_predictions(1.5e-3, 5e-3, 4e-3) == math.inf  # costs more per prediction
    for args in ((math.nan, 1e-3, 4e-3), (1e-3, math.nan, 4e-3), (1e-3, 1e-3, math.nan)):
        assert math.isnan(payback_predictions(*args))


def test_payback_column_uses_the_finished_baselines_mean_and_spares_the_baseline() -> None:
    table = pd.DataFrame(
        {
            "kind": ["baseline", "baseline", "baseline", "prune", "prune"],
            "status": ["TERMINATED", "TERMINATED", "ERROR", "TERMINATED", "ERROR"],
            M.TRAIN_EMISSIONS_KG: [math.nan, math.nan, math.nan, 2e-3, 2e-3],
            M.EMISSIONS_KG_PER_1K: [3e-3, 5e-3, 1.0, 2e-3, math.nan],
        }
    )
    payback = payback_column(table)  # reference 4e-3 per 1k: saves 2e-6 per prediction
    assert payback.iloc[:3].isna().all()
    assert payback.iloc[3] == pytest.approx(1000.0) and math.isnan(payback.iloc[4])
    no_baseline = payback_column(table[table["kind"] == "prune"])
    assert no_baseline.isna().all()


# --------------------------------------------------------------------------------------------
# Configurations


def _config(**overrides: object) -> dict[str, object]:
    return {
        "status": "TERMINATED",
        "kind": "prune",
        "target_density": 0.5,
        "distil": True,
        "temperature": 2.0,
        "alpha_distil": 0.9,
        "learning_rate": 1e-4,
        "epochs": 4,
        "data/dataset": "mahanews-lpc",
        "data/split_seed": 42,
        **overrides,
    }


def test_rows_differing_only_in_seed_share_a_configuration(tmp_path: Path) -> None:
    table = pd.DataFrame(
        [
            _config(seed=1, name="a", trial_id="t1", machine_shared=True),
            _config(seed=2, name="b", trial_id="t2", machine_shared=False),
            _config(seed=1, learning_rate=3e-5, trial_id="t3"),
            _config(seed=1, **{"data/split_seed": 7}, trial_id="t4"),
            _config(seed=1, kind="baseline", trial_id="t5"),
        ]
    )
    ids = configuration_ids(table)
    assert ids[0] == ids[1]
    assert len(set(ids)) == 4
    assert "|seed=" not in f"|{ids[0]}" and "learning_rate=0.0001" in ids[0]
    assert "data/split_seed=42" in ids[0]
    # Read back from CSV (numbers and booleans re-parsed), the grouping is the same.
    table.to_csv(tmp_path / "t.csv", index=False)
    assert configuration_ids(pd.read_csv(tmp_path / "t.csv")).tolist() == ids.tolist()


def test_a_config_key_stored_under_config_prefix_is_part_of_the_id() -> None:
    table = pd.DataFrame([_config(**{"config/epochs": 4}), _config(**{"config/epochs": 8})])
    table = table.drop(columns="epochs")
    ids = configuration_ids(table)
    assert ids[0] != ids[1] and "config/epochs=4" in ids[0]


def test_labels_tell_distinct_configurations_with_one_label_apart() -> None:
    table = pd.DataFrame(
        [
            _config(seed=1),
            _config(seed=2),
            _config(learning_rate=3e-5),
            _config(learning_rate=1e-5),
            _config(kind="baseline"),
        ]
    )
    assert configuration_labels(table).tolist() == [
        "50% pruning + KD",
        "50% pruning + KD",
        "50% pruning + KD #2",
        "50% pruning + KD #3",
        "baseline",
    ]


def test_three_seeds_make_one_row_with_sample_sd() -> None:
    accuracy, speedup = [0.81, 0.84, 0.80], [1.5, 1.7, 1.6]
    rows = [
        _config(seed=s, trial_id=f"t{s}", accuracy=a, speedup=v, val_accuracy=a + 0.01)
        for s, a, v in zip((3, 1, 2), accuracy, speedup, strict=True)
    ]
    rows.append(_config(seed=4, trial_id="t4", status="ERROR", accuracy=0.1))  # not counted
    rows.append(_config(seed=1, trial_id="t5", target_density=0.75, accuracy=0.9, speedup=1.2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no baseline: quietly no deltas
        configs = config_table(pd.DataFrame(rows))
    assert len(configs) == 2
    row = configs.iloc[0]
    assert row["configuration"] == "50% pruning + KD" and row["n_seeds"] == 3
    assert row["seeds"] == "1 2 3" and row["trial_ids"] == "t3 t1 t2"
    assert row["accuracy_mean"] == pytest.approx(np.mean(accuracy))
    assert row["accuracy_sd"] == pytest.approx(np.std(accuracy, ddof=1))
    # a ratio: geometric mean and geometric sd (exp of the sd of the logs)
    assert row["speedup_mean"] == pytest.approx(np.exp(np.mean(np.log(speedup))))
    assert row["speedup_gsd"] == pytest.approx(np.exp(np.std(np.log(speedup), ddof=1)))
    assert row["val_accuracy_mean"] == pytest.approx(np.mean(accuracy) + 0.01)
    assert row["target_density"] == 0.5 and "seed" not in configs.columns
    single = configs.iloc[1]
    assert single["n_seeds"] == 1 and math.isnan(single["accuracy_sd"])
    for column in ("delta_accuracy_mean", "delta_accuracy_ci_low", "mcnemar_p"):
        assert configs[column].isna().all(), column
    assert not configs["ci_excludes_zero"].any()


# --------------------------------------------------------------------------------------------
# The configuration table with prediction files


N_TEST = 600


def _write_predictions(path: Path, correct: np.ndarray, gold: np.ndarray) -> str:
    pred = np.where(correct, gold, (gold + 1) % 3).astype(np.int64)
    np.savez(path, test_pred=pred, test_gold=gold, val_pred=pred[:5], val_gold=gold[:5])
    return str(path)


@pytest.fixture
def study(tmp_path: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A baseline, a clearly worse 3-seed configuration, a single-seed one with almost the
    baseline's predictions, each trial with its prediction file."""
    rng = np.random.default_rng(11)
    gold = rng.integers(0, 3, N_TEST).astype(np.int64)
    base = rng.random(N_TEST) < 0.9
    correct = {"base": base}
    for seed in range(3):
        worse = base.copy()
        worse[rng.choice(np.flatnonzero(base), 60, replace=False)] = False
        correct[f"worse{seed}"] = worse
    close = base.copy()
    close[np.flatnonzero(base)[:3]] = False
    close[np.flatnonzero(~base)[:1]] = True  # b = 1, c = 3
    correct["close"] = close

    def row(trial: str, **config: object) -> dict[str, object]:
        path = _write_predictions(tmp_path / f"{trial}.npz", correct[trial], gold)
        energy = {M.EMISSIONS_KG_PER_1K: 2e-6, M.TRAIN_EMISSIONS_KG: 1e-3}
        return _config(
            trial_id=trial,
            accuracy=float(correct[trial].mean()),
            predictions_file=path,
            **(energy | config),
        )

    table = pd.DataFrame(
        [
            row("base", kind="baseline", seed=42, emissions_kg_per_1k=3e-6, train_emissions_kg=0),
            *(row(f"worse{s}", seed=42 + s) for s in range(3)),
            row("close", seed=42, target_density=0.75),
        ]
    )
    return table, correct


def test_config_table_pairs_each_configuration_with_the_baseline(study) -> None:
    table, correct = study
    configs = config_table(table).set_index("configuration")
    assert list(configs.index) == ["baseline", "50% pruning + KD", "25% pruning + KD"]

    baseline = configs.loc["baseline"]
    assert baseline["delta_accuracy_mean"] == 0.0
    assert math.isnan(baseline["delta_accuracy_ci_low"]) and not baseline["ci_excludes_zero"]
    assert math.isnan(baseline["payback_predictions_mean"])

    worse = configs.loc["50% pruning + KD"]
    assert worse["delta_accuracy_mean"] == pytest.approx(-60 / N_TEST)  # each seed loses 60
    # The interval is about as wide as the normal approximation over the paired per-example
    # differences says (resampling the seeds adds some: 1.3x here; unpaired it would be 2.8x),
    # and holds the true difference while excluding 0.
    stacked = np.stack([correct[f"worse{s}"] for s in range(3)])
    per_example = stacked.mean(axis=0) - correct["base"]
    normal_width = 2 * 1.96 * per_example.std(ddof=1) / np.sqrt(N_TEST)
    low, high = worse["delta_accuracy_ci_low"], worse["delta_accuracy_ci_high"]
    assert 0.75 * normal_width < high - low < 2.0 * normal_width  # unpaired: 2.8x
    assert low < -60 / N_TEST < high < 0
    assert worse["ci_excludes_zero"]
    assert math.isnan(worse["mcnemar_p"])  # three seeds: no single pair to test
    assert worse["payback_predictions_mean"] == pytest.approx(1e-3 / 1e-9)

    close = configs.loc["25% pruning + KD"]
    assert close["delta_accuracy_mean"] == pytest.approx(-2 / N_TEST)
    assert close["delta_accuracy_ci_low"] < 0 < close["delta_accuracy_ci_high"]
    assert not close["ci_excludes_zero"]
    assert close["mcnemar_p"] == pytest.approx(0.625)  # b=1, c=3: 2 * 5/16
    assert close["mcnemar_p"] == mcnemar_exact(correct["close"], correct["base"])


def test_a_missing_or_unreadable_prediction_file_gives_nan_not_an_error(
    study, tmp_path: Path
) -> None:
    table, _ = study
    table.loc[table["trial_id"] == "worse1", "predictions_file"] = str(tmp_path / "gone.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    table.loc[table["trial_id"] == "close", "predictions_file"] = str(tmp_path / "junk.npz")
    with pytest.warns(PairingWarning) as caught:
        configs = config_table(table).set_index("configuration")
    messages = " ".join(str(w.message) for w in caught)
    assert "worse1" in messages and "gone.npz" in messages and "junk.npz" in messages
    for label in ("50% pruning + KD", "25% pruning + KD"):
        assert math.isnan(configs.loc[label, "delta_accuracy_mean"]), label
        assert not configs.loc[label, "ci_excludes_zero"]
    assert configs.loc["50% pruning + KD", "n_seeds"] == 3  # still summarised over its seeds


def test_without_a_usable_baseline_every_delta_is_nan(study) -> None:
    table, _ = study
    no_baseline = config_table(table[table["kind"] != "baseline"])
    assert no_baseline["delta_accuracy_mean"].isna().all()
    assert no_baseline["payback_predictions_mean"].isna().all()

    blank = table.copy()
    blank.loc[blank["kind"] == "baseline", "predictions_file"] = ""
    with pytest.warns(PairingWarning, match="base"):
        configs = config_table(blank)
    assert configs["delta_accuracy_mean"].tolist()[1:] == pytest.approx([math.nan] * 2, nan_ok=True)


def test_different_test_sets_give_nan_and_a_warning_naming_both_trials(study, tmp_path) -> None:
    table, correct = study
    other_gold = np.zeros(N_TEST, dtype=np.int64)
    path = _write_predictions(tmp_path / "other.npz", correct["close"], other_gold)
    table.loc[table["trial_id"] == "close", "predictions_file"] = path
    with pytest.warns(PairingWarning, match=r"trial close and the baseline trial base"):
        configs = config_table(table).set_index("configuration")
    assert math.isnan(configs.loc["25% pruning + KD", "delta_accuracy_mean"])
    assert not math.isnan(configs.loc["50% pruning + KD", "delta_accuracy_mean"])


def test_an_empty_or_unfinished_table_gives_an_empty_configuration_table() -> None:
    configs = config_table(pd.DataFrame([_config(status="ERROR", seed=1)]))
    assert configs.empty and "delta_accuracy_mean" in configs.columns


# --------------------------------------------------------------------------------------------
# Two prediction files compared from the command line


def test_cli_compares_two_prediction_files(study, tmp_path, capsys) -> None:
    _, correct = study
    gold = np.random.default_rng(11).integers(0, 3, N_TEST).astype(np.int64)
    worse = _write_predictions(tmp_path / "w.npz", correct["worse0"], gold)
    base = _write_predictions(tmp_path / "b.npz", correct["base"], gold)
    assert compare_main([worse, base, "--n-boot", "500"]) == 0
    out = json.loads(capsys.readouterr().out)
    # 60 of the baseline's right answers made wrong, nothing fixed: -10 points, clearly
    assert out["examples"] == N_TEST
    assert out["delta_accuracy"] == pytest.approx(-60 / N_TEST)
    assert out["candidate_only_right"] == 0 and out["baseline_only_right"] == 60
    assert out["delta_accuracy_ci_low"] < out["delta_accuracy"] < out["delta_accuracy_ci_high"] < 0
    assert out["mcnemar_p"] == pytest.approx(2 * 0.5**60)

    other = _write_predictions(tmp_path / "o.npz", correct["base"], np.zeros(N_TEST, np.int64))
    np.savez(tmp_path / "junk.npz", pred=np.zeros(3))
    for bad, says in (
        (other, "not tested on the same examples"),
        ("junk.npz", "no test_pred or test_gold array"),
    ):
        with pytest.raises(SystemExit) as exit_:
            compare_main([str(tmp_path / bad), base])
        assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_the_compare_module_runs_without_a_runpy_warning(tmp_path) -> None:
    """``python -m analysis.compare`` is not imported by ``analysis`` itself, so running it
    warns nothing; a missing file is one line and exit 2."""
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", "analysis.compare",
         str(tmp_path / "a.npz"), str(tmp_path / "b.npz")],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("python -m analysis.compare: error: cannot read"), proc.stderr
    assert "RuntimeWarning" not in proc.stderr


def test_configuration_labels_name_the_extended_grids_levers() -> None:
    """Every configuration of the extended grid gets its own label, the grid's own row name
    (the levers in the grid's words), so configs.csv and summary.md tell them apart."""
    from search_spaces.extended import extended_grid

    rows = [{"kind": "prune", **point} for point in extended_grid()]
    rows[0]["kind"] = "baseline"
    table = pd.DataFrame(rows)
    names = table.pop("name")
    assert configuration_labels(table).tolist() == names.tolist()
