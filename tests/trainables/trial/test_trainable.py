"""The trainable without Ray: a tiny teacher, a data subset, the full trial path."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from tests.conftest import SMALL_ROWS
from trainables import metrics as M
from trainables.compress.compaction import layer_shapes, load_compact, parameter_counts
from trainables.compress.quantize import folder_megabytes
from trainables.config import TrialConfig
from trainables.data import DataSpec, load_splits, text_groups
from trainables.training import optimizer_step
from trainables.trial import run_trial
from trainables.trial.checkpoint import newest_checkpoint
from trainables.trial.result import COLUMNS, REQUIRED, result_row


def _config(teacher, cache: Path, **overrides) -> dict:
    base = dict(
        name="test",
        teacher=teacher.path,
        data={
            "data_dir": str(Path(teacher.path).parents[2] / "unused"),
            "variant": "shc",
            "max_rows": SMALL_ROWS,
        },
        max_length=48,
        cache_dir=str(cache),
        target_density=0.25,
        epochs=3,
        block_rows=16,
        block_cols=16,
        learning_rate=1e-3,
        timing_repeats=3,
        energy_seconds=1.0,
    )
    return {**base, **overrides}


@pytest.fixture
def cfg(small_teacher, mahanews_dir: Path):
    teacher, _, cache = small_teacher

    def make(**overrides) -> dict:
        data = {"data_dir": str(mahanews_dir), "variant": "shc", "max_rows": SMALL_ROWS}
        return {**_config(teacher, cache, data=data), **overrides}

    return make


def test_pruned_distilled_trial_reports_every_metric(
    cfg, tmp_path: Path, mahanews_dir: Path
) -> None:
    reports: list[tuple[dict, Path | None]] = []
    existed: list[bool] = []

    def report(metrics: dict, checkpoint: Path | None) -> None:
        reports.append((metrics, checkpoint))
        existed.append(checkpoint is not None and (checkpoint / "trial_state.pt").exists())

    result = run_trial(cfg(distil=True, measure_energy=True), report=report, trial_dir=tmp_path)
    # one report per epoch, each with a checkpoint, then the final one
    assert [r[0][M.EPOCH] for r in reports] == [1, 2, 3, 3]
    assert existed == [True, True, True, False] and reports[-1][1] is None
    # finished: no training checkpoint stays; the model, predictions and final metrics do
    assert not (tmp_path / "checkpoints").exists()
    kept = {p.name for p in tmp_path.iterdir()}
    assert {"model", "predictions.npz", "final_metrics.json"} <= kept
    assert reports[-1][0] is result
    for name in M.FINAL_METRICS:
        assert math.isfinite(result[name]), name
    # always answering the validation's most common label: what the saved labels give
    val_gold = np.load(tmp_path / "predictions.npz")["val_gold"]
    assert result[M.VAL_MAJORITY] == np.bincount(val_gold).max() / val_gold.size
    # the compact encoder keeps at least the target (a head whose Q/K died but V/O live stays)
    assert 0.25 - 0.03 <= result[M.DENSITY] < 0.75
    assert result[M.NUM_PARAMETERS] < result[M.TEACHER_NUM_PARAMETERS]
    # at least the FFN-only ideal at this shape (1.46 when no head dies; dead heads add more)
    assert result[M.PARAM_REDUCTION] > 0 and result[M.SPEEDUP_IDEAL] > 1.4
    # timed from raw text; the forward passes alone from the same calls in the same rounds
    assert math.isfinite(result[M.SPEEDUP_FORWARD]) and result[M.SPEEDUP_FORWARD] > 0
    assert 0 < result[M.TOKENISE_SHARE] < 1
    assert result[M.ENERGY_KWH] > 0 and result[M.TRAIN_ENERGY_KWH] > 0
    assert result[M.EMISSIONS_KG_PER_1K] == pytest.approx(
        result[M.EMISSIONS_KG] / SMALL_ROWS * 1000, rel=1e-9
    )
    # CodeCarbon counted this trial's process, not the machine: named with the method
    source, _, components = result[M.ENERGY_METHOD].partition(" (")
    assert source in (M.ENERGY_MEASURED, M.ENERGY_ESTIMATED) and components.startswith("cpu: ")
    assert result[M.ENERGY_METHOD].endswith("; process tracking")
    # the teacher is metered in the same trial, in windows interleaved with the student's, under
    # the same grid intensity: the energy ratio is the ratio of the two emissions per prediction
    assert result[M.ENERGY_RATIO] == pytest.approx(
        result[M.TEACHER_EMISSIONS_KG_PER_1K] / result[M.EMISSIONS_KG_PER_1K], rel=1e-6
    )
    # E = P x t with each model's median time: the energy ratio is the speedup times the ratio
    # of the two mean powers, which on the same threads of one process are alike
    power_ratio = result[M.ENERGY_RATIO] / result[M.SPEEDUP]
    assert 1 / 3 < power_ratio < 3, power_ratio
    # what was timed: every test batch (all fit the default budget at this size), 3 rounds
    assert (result[M.TIMED_ROWS], result[M.TIMING_ROUNDS]) == (SMALL_ROWS, 3)
    assert result[M.TIMED_BATCHES] == math.ceil(SMALL_ROWS / 64)
    # CodeCarbon's own log stays with the trial: one row per training epoch, then the inference
    # windows of the 3 timing rounds (teacher and student, the first rotating), then, as these
    # rounds are shorter than energy_seconds, extra windows alternating A B B A
    log = pd.read_csv(tmp_path / "emissions.csv")
    rounds = ["inference:teacher", "inference:model", "inference:model", "inference:teacher"]
    assert [name.split(":", 1)[1] for name in log.project_name] == [
        "train epoch 1",
        "train epoch 2",
        "train epoch 3",
        *rounds,
        *rounds[:2],
        *rounds,
    ]
    # the saved predictions are the ones the accuracies were computed from
    saved = np.load(result[M.PREDICTIONS_FILE], allow_pickle=False)
    assert len(saved["test_gold"]) == len(saved["test_pred"]) == SMALL_ROWS
    splits = load_splits(DataSpec(data_dir=str(mahanews_dir), variant="shc", max_rows=SMALL_ROWS))
    assert saved["test_group"].tolist() == text_groups(splits.test.text).tolist()
    assert result[M.ACCURACY] == pytest.approx((saved["test_pred"] == saved["test_gold"]).mean())
    assert result[M.VAL_ACCURACY] == pytest.approx((saved["val_pred"] == saved["val_gold"]).mean())
    # the compact model on disk is the one measured
    model = load_compact(result["model_dir"])
    # model_mb is that folder on disk, tokenizer included (the model card written after it not)
    files = [f for f in Path(result["model_dir"]).iterdir() if f.is_file()]
    assert "README.md" in {f.name for f in files}
    files = [f for f in files if f.name != "README.md"]
    assert {"model.safetensors", "config.json", "tokenizer.json"} <= {f.name for f in files}
    assert result[M.MODEL_MB] == pytest.approx(sum(f.stat().st_size for f in files) / 1e6)
    assert parameter_counts(model)["total"] == result[M.NUM_PARAMETERS]
    shapes = layer_shapes(model)
    assert result[M.HEADS] == sum(s["heads"] for s in shapes)
    assert result[M.FFN_NEURONS] == sum(s["ffn"] for s in shapes)
    # density 0.25 of the FFN is kept per neuron: a quarter of the teacher's neurons, or a few more
    teacher_neurons = model.config.intermediate_size * model.config.num_hidden_layers
    assert 0.2 * teacher_neurons <= result[M.FFN_NEURONS] < 0.75 * teacher_neurons
    # every epoch report has the loss parts and the masks' density, falling to the target
    densities = [r[0][M.MASK_DENSITY] for r in reports[:-1]]
    assert densities == sorted(densities, reverse=True)
    assert densities[-1] == pytest.approx(0.25, abs=0.03)
    assert all(M.DENSITY not in r[0] for r in reports[:-1])  # the realised one is reported once
    for key in (M.LOSS, M.LOSS_CE, M.LOSS_DISTIL, M.VAL_ACCURACY):
        assert math.isfinite(reports[0][0][key])
    assert reports[0][0][M.LOSS_DISTIL] > 0
    # where the time went: every phase reported, each it went through took time, and they add
    # up to the trial's wall time (the rest is phase_other_s)
    phases = [result[name] for name in M.PHASES]
    assert all(seconds > 0 for seconds in phases), dict(zip(M.PHASES, phases, strict=True))
    assert 0 <= sum(phases) <= result[M.TRIAL_SECONDS]
    assert sum(phases) + result[M.PHASE_OTHER] == pytest.approx(result[M.TRIAL_SECONDS])
    # training's own meter (its window) sits inside the training phase
    assert result[M.PHASE_TRAIN] >= result[M.TRAIN_SECONDS]
    # each epoch's report estimates the training time left: none after the last
    left = [r[0][M.TRAIN_SECONDS_LEFT] for r in reports[:-1]]
    assert all(seconds > 0 for seconds in left[:-1]) and left[-1] == 0


def test_baseline_trial_measures_the_teacher(cfg, tmp_path: Path, small_teacher) -> None:
    result = run_trial(
        cfg(kind="baseline", measure_energy=False), report=lambda m, c: None, trial_dir=tmp_path
    )
    # the teacher's own accuracies, measured when it was prepared, on the same splits
    teacher_metrics = small_teacher[0].metrics
    assert result[M.ACCURACY] == pytest.approx(teacher_metrics["test_accuracy"])
    assert result[M.PARAM_REDUCTION] == 0.0 and result[M.TRAIN_SECONDS] == 0.0
    # energy off: no reading is NaN, never a free-looking 0
    for key in (
        M.EMISSIONS_KG,
        M.ENERGY_KWH,
        M.EMISSIONS_KG_PER_1K,
        M.TEACHER_EMISSIONS_KG_PER_1K,
        M.ENERGY_RATIO,
    ):
        assert math.isnan(result[key]), key
    assert result[M.ENERGY_METHOD] == "disabled"
    # "auto" on a CPU is fp32: the fp32 teacher is the teacher
    assert result[M.PRECISION_USED] == "fp32"
    assert result[M.SPEEDUP] == result[M.SPEEDUP_VS_FP32] == 1.0
    assert result[M.SPEEDUP_FORWARD] == result[M.SPEEDUP_IDEAL] == 1.0
    assert 0 < result[M.TOKENISE_SHARE] < 1
    # nothing trained, no teacher logits; the teacher measured and weighed
    assert result[M.PHASE_TRAIN] == result[M.PHASE_TEACHER_LOGITS] == 0.0
    assert result[M.PHASE_EVAL] > 0 and result[M.PHASE_TIMING] > 0
    assert sum(result[name] for name in M.PHASES) <= result[M.TRIAL_SECONDS]


def test_a_mixed_precision_trial_is_also_timed_against_the_fp32_teacher(
    cfg, tmp_path: Path, linear_outputs
) -> None:
    result = run_trial(
        cfg(kind="baseline", precision="bf16", measure_energy=False, timing_repeats=2),
        report=lambda m, c: None,
        trial_dir=tmp_path,
    )
    assert result[M.PRECISION_USED] == "bf16"
    assert result[M.SPEEDUP] == 1.0  # the teacher against itself, both in bf16
    assert math.isfinite(result[M.SPEEDUP_VS_FP32]) and result[M.SPEEDUP_VS_FP32] > 0
    # the reference of speedup_vs_fp32 really ran in fp32 beside the model's bf16 passes
    assert {torch.bfloat16, torch.float32} <= {dtype for _, dtype in linear_outputs}


@pytest.fixture
def linear_outputs():
    """The (module type, output dtype) of every Linear-like forward pass while a test runs."""
    seen: set[tuple[type, torch.dtype]] = set()

    def record(module: nn.Module, inputs: object, output: object) -> None:
        if "Linear" in type(module).__name__ and isinstance(output, torch.Tensor):
            seen.add((type(module), output.dtype))

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    yield seen
    handle.remove()


def test_an_int8_baseline_measures_the_quantised_teacher(
    cfg, tmp_path: Path, small_teacher, linear_outputs
):
    fp32 = run_trial(
        cfg(kind="baseline", measure_energy=False, timing_repeats=2),
        report=lambda m, c: None,
        trial_dir=tmp_path / "fp32",
    )
    linear_outputs.clear()
    int8 = run_trial(
        cfg(kind="baseline", quantize="int8", measure_energy=False, timing_repeats=2),
        report=lambda m, c: None,
        trial_dir=tmp_path / "int8",
    )
    # the same parameters, fewer bytes; timed against the fp32 teacher in the same rounds
    assert int8[M.NUM_PARAMETERS] == fp32[M.NUM_PARAMETERS]
    # in memory the int8 weights count one byte (embeddings, most of it, stay fp32); the folder
    # that would ship stores fp32 weights, the teacher's files' size
    assert int8[M.MODEL_MB_IN_MEMORY] < 0.9 * fp32[M.MODEL_MB_IN_MEMORY]
    assert int8[M.MODEL_MB] == pytest.approx(fp32[M.MODEL_MB], rel=0.01)
    assert int8[M.MODEL_MB_IN_MEMORY] < 0.9 * int8[M.MODEL_MB]
    # the speedup is the fp32 teacher's median time over the int8 model's, both run here: the
    # quantised Linear layers and the teacher's fp32 ones
    assert int8[M.SPEEDUP] == pytest.approx(
        int8[M.TEACHER_INFERENCE_SECONDS] / int8[M.INFERENCE_SECONDS]
    )
    assert math.isfinite(int8[M.SPEEDUP_FORWARD]) and int8[M.SPEEDUP_FORWARD] > 0
    kinds = {kind for kind, _ in linear_outputs}
    assert nn.Linear in kinds and any(
        kind.__module__.startswith("torch.ao.nn.quantized") for kind in kinds
    )
    assert abs(int8[M.ACCURACY] - fp32[M.ACCURACY]) < 0.05


def test_a_trimmed_vocabulary_ships_smaller_and_covers_validation_words(
    cfg, tmp_path: Path, small_teacher
) -> None:
    trimmed = run_trial(
        cfg(kind="baseline", vocab_trim=True, measure_energy=False, timing_repeats=2),
        report=lambda m, c: None,
        trial_dir=tmp_path,
    )
    teacher_files = small_teacher[0].path
    assert trimmed[M.MODEL_MB] < folder_megabytes(Path(teacher_files))  # fewer embedding rows
    # measured on validation words, not on the training texts the vocabulary came from (1.0)
    assert 0.5 < trimmed[M.VOCAB_COVERAGE] <= 1.0
    # timed with its own (trimmed) tokenizer against the teacher with its own; FLOPs at each
    # one's widths
    for key in (M.SPEEDUP, M.SPEEDUP_FORWARD, M.SPEEDUP_IDEAL):
        assert math.isfinite(trimmed[key]) and trimmed[key] > 0, key


class _Stop(Exception):
    pass


def test_interrupted_trial_resumes_from_its_checkpoint(cfg, tmp_path: Path) -> None:
    seen: list[int] = []

    def stop_after_first(metrics: dict, checkpoint: Path | None) -> None:
        seen.append(metrics[M.EPOCH])
        if metrics[M.EPOCH] == 1:
            raise _Stop

    config = cfg(measure_energy=False, epochs=2)
    with pytest.raises(_Stop):
        run_trial(config, report=stop_after_first, trial_dir=tmp_path)
    checkpoint = tmp_path / "checkpoints" / "epoch_001"
    resumed: list[int] = []
    result = run_trial(
        config,
        report=lambda m, c: resumed.append(m[M.EPOCH]),
        trial_dir=tmp_path,
        restore_from=checkpoint,
    )
    assert seen == [1] and resumed == [2, 2]
    assert 0.25 - 0.03 <= result[M.DENSITY] < 0.75


def test_a_resumed_trial_does_not_train_an_epoch_its_own_checkpoint_holds(
    cfg, tmp_path: Path
) -> None:
    """Tune can log epoch 2's report and still hand back epoch 1's checkpoint (an interrupt
    while it saved its state): the trial's own latest checkpoint wins, no epoch runs twice."""
    tune_copies = tmp_path / "tune"

    def keep_a_copy_then_stop(metrics: dict, checkpoint: Path | None) -> None:
        if checkpoint is not None:
            shutil.copytree(checkpoint, tune_copies / f"epoch_{metrics[M.EPOCH]}")
        if metrics[M.EPOCH] == 2 and M.ACCURACY not in metrics:
            raise _Stop

    config = cfg(measure_energy=False, epochs=2)
    trial_dir = tmp_path / "trial"
    with pytest.raises(_Stop):
        run_trial(config, report=keep_a_copy_then_stop, trial_dir=trial_dir)
    reported: list[dict] = []
    result = run_trial(
        config,
        report=lambda m, c: reported.append(m),
        trial_dir=trial_dir,
        restore_from=tune_copies / "epoch_1",  # the older one
    )
    assert [m[M.EPOCH] for m in reported] == [2] and M.ACCURACY in reported[0]  # final only
    assert result[M.RESUMED_FROM_EPOCH] == 2
    # Tune's checkpoint wins when the trial's own folder has nothing later
    assert newest_checkpoint(tune_copies / "epoch_2", tmp_path / "none") == tune_copies / "epoch_2"


def test_a_reporter_that_stores_each_checkpoint_leaves_one_copy_and_resumes_from_the_newest(
    cfg, tmp_path: Path
) -> None:
    """As under Tune: checkpoints written outside the trial folder, each copied to storage as
    ``checkpoint_NNNNNN`` by the reporter and removed, so one copy exists after each report.
    Handed back the older copy, the trial resumes from the newer one beside it and skips a copy
    cut short; once finished it leaves no checkpoint of its own behind."""
    storage, scratch, trial_dir = tmp_path / "storage", tmp_path / "scratch", tmp_path / "trial"
    copies: list[list[str]] = []

    def store_then_stop(metrics: dict, checkpoint: Path | None) -> None:
        if checkpoint is not None:
            shutil.copytree(checkpoint, storage / f"checkpoint_{metrics[M.EPOCH] - 1:06d}")
            shutil.rmtree(checkpoint)
            copies.append(sorted(p.name for p in [*scratch.rglob("epoch_*"), *storage.iterdir()]))
        if metrics[M.EPOCH] == 2 and M.ACCURACY not in metrics:
            raise _Stop

    config = cfg(measure_energy=False, epochs=3)
    with pytest.raises(_Stop):
        run_trial(config, report=store_then_stop, trial_dir=trial_dir, checkpoint_dir=scratch)
    assert copies == [["checkpoint_000000"], ["checkpoint_000000", "checkpoint_000001"]]
    assert not (trial_dir / "checkpoints").exists()  # nothing in the folder Tune syncs
    # a later copy cut short (an interrupt while it was copied) is not resumed from
    cut = storage / "checkpoint_000002"
    shutil.copytree(storage / "checkpoint_000001", cut)
    (cut / "epoch.json").write_text('{"epoch": 3, "bytes": 1}')
    restore = newest_checkpoint(storage / "checkpoint_000000", storage)  # Tune's older one
    assert restore == storage / "checkpoint_000001"
    reported: list[dict] = []
    result = run_trial(
        config,
        report=lambda m, c: reported.append(m),
        trial_dir=trial_dir,
        restore_from=restore,
        checkpoint_dir=scratch,
    )
    assert [m[M.EPOCH] for m in reported] == [3, 3] and result[M.RESUMED_FROM_EPOCH] == 2
    assert not scratch.exists() and (trial_dir / "final_metrics.json").exists()


def test_bad_config_keys_and_values_are_named(cfg) -> None:
    with pytest.raises(ValueError, match="unknown trial config key.*densty"):
        TrialConfig.from_dict({**cfg(), "densty": 0.5})
    with pytest.raises(ValueError, match="target_density is the kept fraction.*1.5"):
        TrialConfig.from_dict(cfg(target_density=1.5))
    with pytest.raises(ValueError, match="unknown data setting.*dir; known keys: data_dir"):
        TrialConfig.from_dict(cfg(data={"dir": "x"}))
    with pytest.raises(ValueError, match=r"initial_warmup \+ final_warmup = 1.1"):
        TrialConfig.from_dict(cfg(initial_warmup=0.6, final_warmup=0.5))
    with pytest.raises(ValueError, match="energy_tracking must be one of.*'node'"):
        TrialConfig.from_dict(cfg(energy_tracking="node"))
    with pytest.raises(ValueError, match="fp16.*CUDA"):
        run_trial(cfg(precision="fp16"), report=lambda m, c: None, trial_dir="/tmp/unused")


def test_classical_trial_is_measured_like_the_others(cfg, tmp_path: Path) -> None:
    result = run_trial(cfg(kind="classical"), report=lambda m, c: None, trial_dir=tmp_path)
    saved = np.load(result[M.PREDICTIONS_FILE], allow_pickle=False)
    majority = np.bincount(saved["test_gold"]).max() / len(saved["test_gold"])
    # a real classifier: far above always answering the commonest label
    assert result[M.ACCURACY] > majority + 0.2
    assert result[M.ACCURACY] == pytest.approx((saved["test_pred"] == saved["test_gold"]).mean())
    assert result[M.VAL_ACCURACY] == pytest.approx((saved["val_pred"] == saved["val_gold"]).mean())
    # timed against the teacher from raw text; no encoder, so no density or FLOP ratio
    assert result[M.SPEEDUP] > 0 and math.isnan(result[M.DENSITY])
    assert math.isnan(result[M.SPEEDUP_FORWARD]) and math.isnan(result[M.TOKENISE_SHARE])
    assert result[M.EMISSIONS_KG_PER_1K] > 0 and result[M.TRAIN_EMISSIONS_KG] > 0
    assert 0 < result[M.NUM_PARAMETERS] < result[M.TEACHER_NUM_PARAMETERS]
    # what a model without an encoder or a vocabulary lacks, from the one table of defaults
    assert result[M.HEADS] == 0 and M.VOCAB_SIZE not in result
    # phases it has none of take 0 s; the fit is its training
    for name in (M.PHASE_TOKENISE, M.PHASE_TEACHER_LOGITS, M.PHASE_COMPACT):
        assert result[name] == 0.0, name
    for name in (M.PHASE_TRAIN, M.PHASE_EVAL, M.PHASE_TIMING, M.PHASE_ENERGY):
        assert result[name] > 0, name
    assert sum(result[name] for name in M.PHASES) <= result[M.TRIAL_SECONDS]


def test_whole_heads_go_where_independent_blocks_keep_them(mahanews_dir: Path) -> None:
    """The benchmark's short training runs: at one density, scoring heads whole leaves about that
    share of the heads, while 16 x 16 blocks scored on their own keep at least as many; both keep
    the FFN per neuron. Read from real trials' compact models."""
    from trainables.commands.bench import trained_rows
    from trainables.data import DataSpec
    from trainables.presets import TinyTeacherConfig

    shape = TinyTeacherConfig(
        vocab_size=800,
        num_hidden_layers=2,
        hidden_size=64,
        num_attention_heads=4,
        intermediate_size=128,
        batch_size=16,
    )
    data = DataSpec(data_dir=str(mahanews_dir), variant="shc", max_rows=200)
    rows = trained_rows(data, shape, [0.25], epochs=2, max_length=32, block=16)
    by = {row["attention_block"]: row for row in rows}
    assert list(by) == ["block", "head"]
    assert all(row["heads_total"] == 8 and row["ffn_neurons_total"] == 256 for row in rows)
    # topk per head keeps the top quarter of each layer's heads: one of four
    assert by["head"][M.HEADS] == 2
    assert by["block"][M.HEADS] >= by["head"][M.HEADS]
    # FFN neurons are scored one by one in both: a quarter of them
    assert all(row[M.FFN_NEURONS] == pytest.approx(64, abs=8) for row in rows)
    assert by["head"][M.SPEEDUP_IDEAL] >= by["block"][M.SPEEDUP_IDEAL]


def test_every_kind_gets_the_same_row_with_one_set_of_defaults() -> None:
    cfg = TrialConfig(name="t", kind="classical", precision="bf16")
    required = {key: 1.0 for key, default in COLUMNS.items() if default is REQUIRED}
    del required[M.PRECISION_USED]  # the trial's own, from its config
    row = result_row(cfg, required)
    assert list(row)[:3] == ["name", "kind", M.ACCURACY] and row[M.PRECISION_USED] == "bf16"
    assert math.isnan(row[M.DENSITY]) and row[M.HEADS] == 0 and row[M.TRAIN_SECONDS] == 0.0
    assert M.VOCAB_SIZE not in row and M.PREDICTIONS_FILE not in row
    assert result_row(cfg, {**required, M.VOCAB_SIZE: 7})[M.VOCAB_SIZE] == 7
    with pytest.raises(KeyError, match="reported no 'accuracy'"):
        result_row(cfg, {k: v for k, v in required.items() if k != M.ACCURACY})
    with pytest.raises(KeyError, match="acuracy.*not result columns"):
        result_row(cfg, {**required, "acuracy": 1.0})


def test_the_optimizer_step_clips_steps_and_clears_the_gradients() -> None:
    model = nn.Linear(3, 1, bias=False)
    nn.init.zeros_(model.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    loss = model(torch.full((1, 3), 100.0)).sum()
    optimizer_step(loss, model, optimizer, scheduler, scaler, max_norm=0.5)
    assert float(torch.linalg.vector_norm(model.weight)) == pytest.approx(0.5)
    assert model.weight.grad is None and scheduler.last_epoch == 1
