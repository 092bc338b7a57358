"""sigmoid_threshold end to end: in a real (tiny) trial the L1 strength sets how much of the
encoder survives compaction, so a search over ``regularization_lambda`` searches the density."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SMALL_ROWS
from trainables import metrics as M
from trainables.config import TrialConfig
from trainables.trial.run import run_trial

pytestmark = pytest.mark.slow

# The top and the bottom of the search range (search_spaces.optuna_space: 0.1 to 100, log).
LARGE_LAMBDA = 100.0
SMALL_LAMBDA = 0.1


def _trial(small_teacher, mahanews_dir: Path, trial_dir: Path, lam: float) -> dict[str, Any]:
    teacher, _, cache = small_teacher
    config = {
        "name": f"lambda {lam}",
        "teacher": teacher.path,
        "data": {"data_dir": str(mahanews_dir), "variant": "shc", "max_rows": SMALL_ROWS},
        "max_length": 48,
        "cache_dir": str(cache),
        "method": "sigmoid_threshold",
        "regularization_lambda": lam,
        # 13 steps an epoch: the score rate is raised to make up for so short a run.
        "epochs": 2,
        "block_rows": 16,
        "block_cols": 16,
        "learning_rate": 1e-3,
        "seed": 0,
        # Measurement is not what this test is about: as little of it as the trial allows.
        "timing_repeats": 1,
        "timing_batches": 1,
        "measure_energy": False,
        "energy_seconds": 0.0,
    }
    epochs: list[dict[str, Any]] = []
    result = run_trial(
        config,
        report=lambda metrics, checkpoint: epochs.append(metrics),
        trial_dir=trial_dir,
    )
    result["epochs"] = epochs[:-1]  # the last report is the final result itself
    return result


def test_lambda_sets_the_density_of_the_compact_encoder(
    small_teacher, mahanews_dir: Path, tmp_path: Path
) -> None:
    large = _trial(small_teacher, mahanews_dir, tmp_path / "large", LARGE_LAMBDA)
    small = _trial(small_teacher, mahanews_dir, tmp_path / "small", SMALL_LAMBDA)
    # The realised density: what compaction removed (whole heads, whole neurons).
    assert large[M.DENSITY] < 0.6, large[M.DENSITY]
    # 0.967 in every run since the session's small teacher is built the same every time (its
    # WordPiece vocabulary used to differ by a few pieces run to run: 0.896 to 0.982).
    assert small[M.DENSITY] > 0.9, small[M.DENSITY]
    # The masks never fall below the guard (0.05 of every score tensor, so of the encoder) ...
    masks = [epoch[M.MASK_DENSITY] for epoch in large["epochs"]]
    assert all(density >= TrialConfig().min_density for density in masks), masks
    # ... and the large lambda is what prunes: its penalty is in the loss.
    assert large["epochs"][-1][M.LOSS_REG] > small["epochs"][-1][M.LOSS_REG] > 0


def test_trial_config_carries_the_guard_and_the_score_travel() -> None:
    config = TrialConfig.from_dict(
        {"method": "sigmoid_threshold", "min_density": 0.1, "score_travel": 4.0}
    )
    pruning = config.pruning()
    assert (pruning.min_density, pruning.score_travel) == (0.1, 4.0)
    assert TrialConfig().pruning().min_density == 0.05  # the study guards by default
    with pytest.raises(ValueError, match="min_density"):
        TrialConfig.from_dict({"method": "sigmoid_threshold", "min_density": 1.0})
