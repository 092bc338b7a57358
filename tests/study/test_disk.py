"""A study's disk: a finished trial's folder without its training checkpoints, the size line."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs

from study.disk import disk_line, folder_bytes, remove_training_checkpoints


def _file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def _trial(folder: Path, model_bytes: int) -> Path:
    """A finished trial's storage folder as Tune and the trial leave it, checkpoints included."""
    _file(folder / "params.json", 10)
    _file(folder / "model" / "model.safetensors", model_bytes)
    _file(folder / "predictions.npz", 100)
    _file(folder / "final_metrics.json", 50)
    _file(folder / "checkpoint_000001" / "trial_state.pt", 5000)
    _file(folder / "checkpoint_000001" / "epoch.json", 20)
    _file(folder / "checkpoints" / "epoch_002" / "trial_state.pt", 5000)  # an earlier version's
    return folder


def test_a_finished_trial_loses_its_checkpoints_and_keeps_its_model_and_results(
    tmp_path: Path,
) -> None:
    trial = _trial(tmp_path / "1_abc_baseline", 700)
    removed = remove_training_checkpoints(pyarrow.fs.LocalFileSystem(), str(trial))
    assert removed == ["checkpoint_000001", "checkpoints"]
    left = sorted(str(p.relative_to(trial)) for p in trial.rglob("*") if p.is_file())
    kept = ["final_metrics.json", "model/model.safetensors", "params.json", "predictions.npz"]
    assert left == kept
    assert folder_bytes(trial) == 10 + 700 + 100 + 50
    # a second call (a trial completed twice by a resumed study) and a missing folder: no error
    assert remove_training_checkpoints(pyarrow.fs.LocalFileSystem(), str(trial)) == []
    assert remove_training_checkpoints(pyarrow.fs.LocalFileSystem(), str(tmp_path / "no")) == []


def test_the_disk_line_gives_the_study_folder_and_its_largest_trial(tmp_path: Path) -> None:
    study = tmp_path / "paper"
    _trial(study / "1_abc_baseline", 3_000_000)
    _trial(study / "2_def_25-pruning", 1_000_000)
    _file(study / "summary.csv", 1000)
    total = folder_bytes(study)
    assert 4_000_000 < total < 4_100_000
    assert disk_line(study) == f"disk: 4.0 MB in {study}; largest trial 3.0 MB (1_abc_baseline)"
    # a study with no trial folder yet says only its size
    empty = tmp_path / "empty"
    _file(empty / "study.json", 1500)
    assert disk_line(empty) == f"disk: 1.5 kB in {empty}"
