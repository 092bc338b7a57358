"""Trained students shared by twins: an int8 row measures the student its twin trained."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.conftest import SMALL_ROWS
from trainables import metrics as M
from trainables.compress.compaction import load_compact
from trainables.trial import run_trial
from trainables.trial.result import MODEL_DIR


def test_an_int8_twin_quantises_the_student_its_twin_trained(
    small_teacher, mahanews_dir: Path, tmp_path: Path
) -> None:
    teacher, _, cache = small_teacher
    students = tmp_path / "students"
    config = dict(
        name="fp32", teacher=teacher.path, cache_dir=str(cache), student_cache=str(students),
        data={"data_dir": str(mahanews_dir), "variant": "shc", "max_rows": SMALL_ROWS},
        max_length=48, target_density=0.5, epochs=2, block_rows=16, block_cols=16,
        learning_rate=1e-3, timing_repeats=2, measure_energy=False,
    )  # fmt: skip
    epochs: dict[str, list[int]] = {"fp32": [], "int8": []}

    def trial(name: str, **overrides) -> dict:
        return run_trial(
            {**config, "name": name, **overrides},
            report=lambda metrics, _: epochs[name].append(metrics[M.EPOCH]),
            trial_dir=tmp_path / name,
        )

    first = trial("fp32")
    assert epochs["fp32"] == [1, 2, 2] and not first[M.STUDENT_REUSED]
    assert len(list(students.iterdir())) == 1  # stored whole, nothing left aside
    twin = trial("int8", quantize="int8")
    # nothing trained: the final report only, no training time of its own, the twin's cost
    assert epochs["int8"] == [2] and twin[M.STUDENT_REUSED]
    assert twin[M.PHASE_TRAIN] == 0.0 and twin[M.TRAIN_SECONDS] == first[M.TRAIN_SECONDS]
    # the same weights, quantised only when measured: its folder holds the twin's fp32 weights
    fp32 = load_compact(first[MODEL_DIR], fp32=True).state_dict()
    int8 = load_compact(twin[MODEL_DIR], fp32=True).state_dict()
    assert fp32.keys() == int8.keys() and all(torch.equal(fp32[k], int8[k]) for k in fp32)
    assert len(list(students.iterdir())) == 1  # found, not stored again
