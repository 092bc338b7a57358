"""The unit of evidence is a distinct test text (copies resampled and counted together), and the
stars of a table are controlled as a family (Holm)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from analysis import (
    config_table,
    holm_adjust,
    mcnemar_exact,
    paired_bootstrap_delta,
    paired_bootstrap_test,
    read_predictions,
    text_rows,
)
from analysis.compare import main as compare_main
from trainables import metrics as M

# --------------------------------------------------------------------------------------------
# Grouped bootstrap


def test_grouped_bootstrap_equals_the_row_bootstrap_when_every_group_has_one_row() -> None:
    rng = np.random.default_rng(21)
    base = rng.random((2, 700)) < 0.8
    candidate = base[:1] ^ (rng.random((3, 700)) < 0.1)
    ids = rng.permutation(700) * 7 + 3  # any distinct ids, in any order
    for n_boot, seed in ((500, 0), (2000, 5)):
        rows = paired_bootstrap_test(candidate, base, n_boot=n_boot, rng_seed=seed)
        texts = paired_bootstrap_test(candidate, base, groups=ids, n_boot=n_boot, rng_seed=seed)
        assert texts == rows  # bit for bit: the same draws, interval and p


def test_grouped_bootstrap_matches_a_plain_loop_over_texts_and_seeds() -> None:
    """The vectorised grouped bootstrap has the distribution of the obvious loop: draw texts
    with replacement, take every row of each drawn text (the same rows for candidate and
    baseline), draw candidate seeds, average over the drawn rows, subtract."""
    rng = np.random.default_rng(9)
    groups = rng.permutation(np.repeat(np.arange(200), rng.integers(1, 6, 200)))
    n = groups.size
    base_text = rng.random(200) < 0.75
    base = base_text[groups]
    candidate = (base_text | (rng.random((2, 200)) < 0.15))[:, groups]
    candidate[1, rng.choice(n, 20, replace=False)] = False  # seeds that differ, within texts
    rows_of = [np.flatnonzero(groups == g) for g in range(200)]
    loop = np.empty(3000)
    for b in range(loop.size):
        idx = np.concatenate([rows_of[g] for g in rng.integers(200, size=200)])
        seeds = rng.integers(2, size=2)
        loop[b] = candidate[seeds][:, idx].mean() - base[idx].mean()
    _, low, high = paired_bootstrap_delta(candidate, base, groups=groups, n_boot=4000)
    assert low == pytest.approx(np.quantile(loop, 0.025), abs=0.004)
    assert high == pytest.approx(np.quantile(loop, 0.975), abs=0.004)  # rows: 0.008 off


def _shc_like_groups() -> np.ndarray:
    """SHC_Test's duplicate pattern (DESIGN.md): 2,761 rows over 2,402 distinct texts, 37 of
    them copied 5-18 times, 117 twice, the rest once; copies scattered through the file."""
    heavy = [5] * 15 + [6] * 5 + [7] * 4 + [8] * 3 + [9] + [10] * 3 + [11] + [12] * 2
    heavy += [14, 16, 18]
    sizes = np.array(heavy + [2] * 117 + [1] * (2402 - 37 - 117))
    assert len(heavy) == 37 and sizes.size == 2402 and sizes.sum() == 2761
    return np.random.default_rng(0).permutation(np.repeat(np.arange(2402), sizes))


def test_shc_like_copies_widen_the_interval_when_texts_are_resampled() -> None:
    """No true difference: each text is right or wrong for both models alike except a few
    texts where they disagree, as often one way as the other; every copy of a text is
    predicted alike. Resampling rows treats a text copied 18 times as 18 independent pieces of
    evidence and gives a narrower interval than resampling the 2,402 texts."""
    groups = _shc_like_groups()
    sizes = np.bincount(groups)
    ratios = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        base_text = rng.random(2402) < 0.85
        cand_text = base_text.copy()  # 120 texts fixed, 120 new errors: no true difference
        cand_text[rng.choice(np.flatnonzero(base_text), 120, replace=False)] = False
        cand_text[rng.choice(np.flatnonzero(~base_text), 120, replace=False)] = True
        base, cand = base_text[groups], cand_text[groups]
        _, row_low, row_high = paired_bootstrap_delta(cand, base, rng_seed=seed)
        _, low, high = paired_bootstrap_delta(cand, base, groups=groups, rng_seed=seed)
        assert low < 0.0 < high  # no true difference: the text interval holds 0
        ratios.append((high - low) / (row_high - row_low))
    # For disagreements spread evenly over texts the width grows by about
    # sqrt(sum size^2 / sum size): sqrt(5,225 / 2,761) = 1.38 here.
    expected = math.sqrt((sizes**2).sum() / sizes.sum())
    assert expected == pytest.approx(1.376, abs=0.001)
    assert min(ratios) > 1.2 and np.mean(ratios) > 1.3  # measured: 1.28 to 1.50


def test_bootstrap_p_value_comes_from_the_same_draws() -> None:
    rng = np.random.default_rng(8)
    base = rng.random(1500) < 0.8
    clear = base | (rng.random(1500) < 0.3)  # +6 points: no draw at or below 0
    result = paired_bootstrap_test(clear, base, n_boot=1000)
    assert result.low > 0 and result.p_value == pytest.approx(1 / 1000)  # floored at 1/n_boot
    assert tuple(result[:3]) == paired_bootstrap_delta(clear, base, n_boot=1000)
    assert paired_bootstrap_test(base, base).p_value == 1.0
    noisy = base.copy()
    noisy[np.flatnonzero(base)[:12]] = False
    noisy[np.flatnonzero(~base)[:10]] = True  # -2 rows of 1500: p far from 0
    assert 0.5 < paired_bootstrap_test(noisy, base).p_value <= 1.0


def test_groups_must_be_one_integer_per_example() -> None:
    ones = np.ones(4, dtype=bool)
    for bad in (np.zeros(3, dtype=int), np.zeros(4) + 0.5):
        with pytest.raises(ValueError, match="one integer id per test example"):
            paired_bootstrap_delta(ones, ones, groups=bad)


# --------------------------------------------------------------------------------------------
# McNemar on texts


def test_mcnemar_counts_a_text_once_and_leaves_out_conflicting_labels() -> None:
    # text 0: copied 10 times, the candidate right and the baseline wrong on every copy;
    # texts 1-3: the baseline right and the candidate wrong; text 4: copies with two labels.
    groups = np.array([0] * 10 + [1, 2, 3] + [4, 4])
    gold = np.array([1] * 10 + [2, 2, 2] + [0, 1])
    cand = np.array([True] * 10 + [False] * 3 + [True, False])
    base = np.array([False] * 10 + [True] * 3 + [False, True])
    # rows: b = 11, c = 4 (copies counted apart, the two-label text's rows too)
    assert mcnemar_exact(cand, base) == pytest.approx(2 * binom.cdf(4, 15, 0.5))
    # texts: b = 1, c = 3 (text 4 left out): 2 * P(X <= 1 | 4, 1/2) = 2 * 5/16
    assert mcnemar_exact(cand, base, groups=groups, gold=gold) == pytest.approx(0.625)
    rows, conflicting = text_rows(groups, gold)
    assert rows.tolist() == [0, 10, 11, 12] and conflicting == 1
    with pytest.raises(ValueError, match="both groups and gold"):
        mcnemar_exact(cand, base, groups=groups)


# --------------------------------------------------------------------------------------------
# Holm


def test_holm_on_a_hand_computed_family() -> None:
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> 0.06
    adjusted = holm_adjust([0.01, 0.04, 0.03, 0.005, math.nan])
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[4])  # not a member of the family
    assert holm_adjust([0.6, 0.5]).tolist() == [1.0, 1.0]  # capped at 1
    with pytest.raises(ValueError, match="must lie in"):
        holm_adjust([0.2, 1.5])


# --------------------------------------------------------------------------------------------
# The configuration table and the CLI on files with test_group

N_TEXTS = 300


def _write(path: Path, correct: np.ndarray, gold: np.ndarray, group: np.ndarray | None) -> str:
    pred = np.where(correct, gold, (gold + 1) % 3).astype(np.int64)
    arrays = {"test_pred": pred, "test_gold": gold}
    np.savez(path, **arrays, **({} if group is None else {"test_group": group}))
    return str(path)


def _row(trial: str, path: str, **config: object) -> dict[str, object]:
    return {
        "status": "TERMINATED",
        "kind": "prune",
        "target_density": 0.5,
        "trial_id": trial,
        "seed": 1,
        "accuracy": 0.8,
        M.PREDICTIONS_FILE: path,
        **config,
    }


@pytest.fixture
def texts_study(tmp_path: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """A baseline and three single-seed configurations on 300 texts, text 0 copied 20 times:
    "d=0.5" loses 9 texts and fixes 1 (McNemar p = 0.021 alone, 0.064 after Holm over 3),
    "d=0.6" and "d=0.7" predict like the baseline."""
    groups = np.concatenate([np.zeros(19, dtype=np.int64), np.arange(N_TEXTS)])
    gold = np.random.default_rng(2).integers(0, 3, N_TEXTS)[groups]
    base_text = np.arange(N_TEXTS) % 5 != 0  # 80% of texts right
    worse_text = base_text.copy()
    worse_text[np.flatnonzero(base_text)[1:10]] = False  # 9 texts lost (not text 0)
    worse_text[np.flatnonzero(~base_text)[1]] = True  # 1 fixed
    correct = {"base": base_text[groups], "worse": worse_text[groups]}
    rows = [
        _row("base", _write(tmp_path / "b.npz", correct["base"], gold, groups), kind="baseline"),
        _row("worse", _write(tmp_path / "w.npz", correct["worse"], gold, groups)),
    ]
    for density in (0.6, 0.7):
        path = _write(tmp_path / f"{density}.npz", correct["base"], gold, groups)
        rows.append(_row(f"same{density}", path, target_density=density))
    return pd.DataFrame(rows), correct, groups


def test_a_configuration_starred_before_holm_is_not_after(texts_study) -> None:
    table, correct, groups = texts_study
    configs = config_table(table).set_index("configuration")
    worse = configs.loc["50% pruning"]
    gold = read_predictions(table.loc[1, M.PREDICTIONS_FILE]).gold
    expected = paired_bootstrap_delta(correct["worse"], correct["base"], groups=groups)
    delta = ["delta_accuracy_mean", "delta_accuracy_ci_low", "delta_accuracy_ci_high"]
    assert worse[delta].tolist() == pytest.approx(list(expected))
    # one seed against one baseline: the p is McNemar on texts, b = 1, c = 9
    assert worse["mcnemar_p"] == pytest.approx(0.021484375)
    assert worse["mcnemar_p"] == mcnemar_exact(
        correct["worse"], correct["base"], groups=groups, gold=gold
    )
    assert worse["p_value"] == worse["mcnemar_p"]
    assert worse["ci_excludes_zero"]  # significant on its own...
    assert worse["p_holm"] == pytest.approx(3 * 0.021484375)  # ...not in a family of three
    assert configs["p_value"].notna().sum() == 3 and math.isnan(configs.loc["baseline", "p_holm"])
    assert worse["test_texts"] == N_TEXTS and worse["test_rows"] == N_TEXTS + 19


def test_old_files_without_groups_are_counted_in_rows(texts_study, tmp_path: Path) -> None:
    table, correct, _ = texts_study
    gold = read_predictions(table.loc[0, M.PREDICTIONS_FILE]).gold
    old = _write(tmp_path / "old.npz", correct["worse"], gold, None)
    assert read_predictions(old).unit == "rows" and read_predictions(old).group is None
    table.loc[1, M.PREDICTIONS_FILE] = old
    worse = config_table(table).set_index("configuration").loc["50% pruning"]
    assert math.isnan(worse["test_texts"]) and worse["test_rows"] == N_TEXTS + 19
    expected = paired_bootstrap_delta(correct["worse"], correct["base"])  # rows
    assert worse["delta_accuracy_ci_low"] == pytest.approx(expected[1])


def test_cli_reports_its_unit(texts_study, tmp_path: Path, capsys) -> None:
    table, _, groups = texts_study
    worse, base = table.loc[1, M.PREDICTIONS_FILE], table.loc[0, M.PREDICTIONS_FILE]
    assert compare_main([worse, base, "--n-boot", "300"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["unit"], out["texts"], out["rows"]) == ("distinct texts", N_TEXTS, N_TEXTS + 19)
    assert (out["candidate_only_right"], out["baseline_only_right"]) == (1, 9)
    assert out["mcnemar_p"] == pytest.approx(0.021484375)
    shuffled = read_predictions(base)
    other = tmp_path / "other.npz"
    _write(other, shuffled.pred == shuffled.gold, shuffled.gold, groups[::-1].copy())
    with pytest.raises(SystemExit):
        compare_main([worse, str(other)])
    assert "test_group differs" in capsys.readouterr().err
