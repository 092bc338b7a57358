"""One trial = one compression experiment of the paper, top to bottom.

config -> data -> teacher -> student (pruned copy of the teacher) -> prune + distil + AMP training,
a Tune report and checkpoint per epoch -> final masks -> compaction -> :func:`measure` (test
quality under a CodeCarbon meter, interleaved timing against the teacher, size) -> save -> report.
The baseline trial is the same path without the training: it measures the teacher itself.

:func:`train_trial` is the Ray Tune function trainable; :func:`run_trial` is the same without
Ray (tests, notebooks): it takes a ``report`` callback and a trial directory.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from trainables import metrics as M
from trainables.atomic import atomic_write
from trainables.compress.compaction import (
    compact_model,
    encoder_density,
    kept_structure,
    parameter_counts,
    save_compact,
    speedup_ideal,
)
from trainables.compress.distillation import (
    TeacherLogitsCache,
    distillation_loss,
    tensor_fingerprint,
)
from trainables.compress.pruning import (
    PruningConfig,
    apply_threshold,
    mask_score_parameters,
    model_density,
    prune_model,
    regularization_loss,
    weight_parameters,
)
from trainables.compress.quantize import DYNAMIC_INT8, quantize_int8, serialized_megabytes
from trainables.compress.schedules import cubic_threshold, learning_rate_scheduler
from trainables.compress.vocab_trim import trim_vocabulary
from trainables.config import TrialConfig
from trainables.data import (
    DataSplits,
    TokenizedSplit,
    default_cache_dir,
    load_splits,
    tokenize_splits,
)
from trainables.evaluation import classification_metrics, evaluate, predict, save_predictions
from trainables.measure.timing import (
    EnergyMeter,
    InferenceEnergy,
    forward_passes,
    in_fp32,
    inference_energy,
    measuring,
    precision_autocast,
    resolve_precision,
    speedup,
    time_calls,
)
from trainables.teachers.load import load_teacher
from trainables.trial.classical import CLASSICAL, TEACHER, run_classical

# report(metrics, checkpoint_dir or None): tune.report in a Tune trial, anything in a test.
Reporter = Callable[[dict[str, Any], Path | None], None]
CHECKPOINT_FILE = "trial_state.pt"
FINAL_METRICS_FILE = "final_metrics.json"
PREDICTIONS_NPZ = "predictions.npz"


@dataclass
class _Progress:
    """What a checkpoint carries besides the weights: where training stopped, what it cost."""

    epoch: int = 0
    step: int = 0
    train_seconds: float = 0.0
    train_energy_kwh: float = 0.0
    train_emissions_kg: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Entry points


def train_trial(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable (``tune.Tuner(tune.with_resources(train_trial, ...))``)."""
    import tempfile

    import ray
    from ray import tune

    # Every report says which node ran it: a cluster's trials spread over nodes, and a trial
    # retried after its node died continues elsewhere.
    node = {M.NODE_ID: ray.get_runtime_context().get_node_id()}

    def report(metrics: dict[str, Any], checkpoint_dir: Path | None) -> None:
        checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        tune.report({**metrics, **node}, checkpoint=checkpoint)

    restore = None
    checkpoint = tune.get_checkpoint()
    with tempfile.TemporaryDirectory() as scratch:
        if checkpoint is not None:
            restore = Path(checkpoint.to_directory(str(Path(scratch) / "restore")))
        trial_dir = Path(tune.get_context().get_trial_dir())
        run_trial(config, report=report, trial_dir=trial_dir, restore_from=restore)


def run_trial(
    config: dict[str, Any],
    *,
    report: Reporter,
    trial_dir: str | Path,
    restore_from: str | Path | None = None,
) -> dict[str, Any]:
    """Run one trial; return (and report last) its final metrics."""
    cfg = TrialConfig.from_dict(config)
    if not cfg.teacher or cfg.data is None:
        raise ValueError(
            f"a trial needs `teacher` (a folder or hub id) and `data` (a DataSpec); got "
            f"teacher={cfg.teacher!r}, data={cfg.data!r}: `python -m study.run` sets both"
        )
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    _seed_everything(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # From here on the precision this trial runs in ("auto" resolved on this device).
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))
    autocast = precision_autocast(device, cfg.precision)  # fp16 on CPU fails here, before work
    if cfg.quantize != "none" and device.type != "cpu":
        raise ValueError(
            f"quantize={cfg.quantize} measures the model on the CPU, but this trial runs on "
            f"{device}: run int8 trials on CPU workers (--gpus-per-trial 0)"
        )

    # Data and teacher: the same splits and the same teacher as every other trial of the study.
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    splits = load_splits(cfg.data, cache_dir=cache_dir)
    teacher, tokenizer = load_teacher(cfg.teacher)
    teacher.to(device).eval()
    if cfg.kind == M.KIND_CLASSICAL:
        return _classical_trial(cfg, splits, teacher, tokenizer, device, trial_dir, report)
    tokens = tokenize_splits(
        splits,
        tokenizer,
        teacher.config.label2id,
        max_length=cfg.max_length,
        cache_dir=cache_dir / "tokens",
    )
    progress = _Progress()
    compact = None
    resumed_from = 0

    if cfg.kind != "baseline":
        # Student: a copy of the teacher whose encoder linears carry learnable block masks.
        pruning = cfg.pruning()
        student = prune_model(copy.deepcopy(teacher), pruning).to(device)
        train = tokens["train"]
        steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        total_steps = steps_per_epoch * cfg.epochs
        optimizer = _optimizer(student, cfg)
        scheduler = learning_rate_scheduler(
            optimizer, student, pruning, total_steps, round(total_steps * cfg.warmup_fraction)
        )
        scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
        generator = torch.Generator().manual_seed(cfg.seed)
        state = _TrainingState(student, optimizer, scheduler, scaler, generator)
        if restore_from is not None:
            progress = state.load(Path(restore_from))
            resumed_from = progress.epoch
        teacher_logits = _teacher_logits(cfg, teacher, train, device, cache_dir)

        # Training: one Tune report and checkpoint per epoch.
        for epoch in range(progress.epoch, cfg.epochs):
            student.train()
            sums = dict.fromkeys((M.LOSS, M.LOSS_CE, M.LOSS_DISTIL, M.LOSS_REG), 0.0)
            meter = EnergyMeter(**_meter_settings(cfg, trial_dir), task=f"train epoch {epoch + 1}")
            with meter:
                for batch in train.batches(cfg.batch_size, shuffle=True, generator=generator):
                    threshold = cubic_threshold(progress.step, total_steps, pruning)
                    apply_threshold(student, threshold)
                    with autocast:
                        logits = student(**_inputs(batch, device)).logits
                    losses = _losses(
                        cfg, pruning, student, threshold, logits, batch, teacher_logits
                    )
                    scaler.scale(losses[M.LOSS]).backward()
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
                    scaler.step(optimizer)
                    scaler.update()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    progress.step += 1
                    for key, value in losses.items():
                        sums[key] += float(value.detach()) / steps_per_epoch
            progress.epoch = epoch + 1
            progress.train_seconds += meter.seconds
            # NaN (no reading) stays NaN: a missing epoch must not look like a cheap one
            progress.train_energy_kwh += meter.energy_kwh
            progress.train_emissions_kg += meter.emissions_kg
            val = evaluate(
                student, tokens["validation"], batch_size=cfg.eval_batch_size, device=device
            )
            epoch_metrics = {
                M.EPOCH: progress.epoch,
                M.VAL_ACCURACY: val["accuracy"],
                M.VAL_MACRO_F1: val["macro_f1"],
                M.MASK_DENSITY: model_density(student),
                M.THRESHOLD: threshold,
                M.TRAIN_SECONDS: progress.train_seconds,
                **sums,
            }
            progress.history.append(epoch_metrics)
            checkpoint_dir = trial_dir / "checkpoints" / f"epoch_{progress.epoch:03d}"
            state.save(checkpoint_dir, progress)
            report(epoch_metrics, checkpoint_dir)
            # Tune has its own copy now; keep only the latest here (a paper-size one is ~3 GB).
            for old in (trial_dir / "checkpoints").glob("epoch_*"):
                if old != checkpoint_dir:
                    shutil.rmtree(old, ignore_errors=True)

        # The final masks, then the genuinely smaller model.
        apply_threshold(student, pruning.schedule_end)
        compact = compact_model(student).eval()
        del student, optimizer, state

    # Measure the model this trial is about, the same way for the baseline and the students.
    dense = teacher if cfg.kind == M.KIND_BASELINE else compact
    model_tokenizer, model_tokens, trim = tokenizer, tokens, {}
    if cfg.vocab_trim:
        # Only the pieces the training texts use; test and validation are split again with the
        # trimmed vocabulary (a word needing a dropped piece becomes one [UNK]).
        train_texts = list(splits.train.text)
        dense, model_tokenizer, trim_report = trim_vocabulary(dense, tokenizer, train_texts)
        model_tokens = tokenize_splits(
            splits,
            model_tokenizer,
            teacher.config.label2id,
            max_length=cfg.max_length,
            cache_dir=cache_dir / "tokens",
        )
        trim = {M.VOCAB_SIZE: trim_report.vocab_after, M.VOCAB_COVERAGE: trim_report.coverage}
        if cfg.kind != M.KIND_BASELINE:
            compact = dense
    model = quantize_int8(dense) if cfg.quantize == "int8" else dense
    measured, predictions = measure(
        model, teacher, tokens, cfg, device, trial_dir, dense=dense, model_tokens=model_tokens
    )
    result = {
        "name": cfg.name,
        "kind": cfg.kind,
        **measured,
        M.TRAIN_EMISSIONS_KG: progress.train_emissions_kg,
        M.TRAIN_ENERGY_KWH: progress.train_energy_kwh,
        M.TRAIN_SECONDS: progress.train_seconds,
        M.EPOCH: progress.epoch,
        M.PRECISION_USED: cfg.precision,
        M.VOCAB_SIZE: dense.get_input_embeddings().num_embeddings,
        **trim,
        M.RESUMED_FROM_EPOCH: resumed_from,
    }
    if compact is not None:
        model_dir = trial_dir / "model"
        save_compact(
            compact, model_dir, quantization=DYNAMIC_INT8 if cfg.quantize == "int8" else None
        )
        # pipeline() and trainables.commands.predict truncate where this trial did
        model_tokenizer.model_max_length = cfg.max_length
        model_tokenizer.save_pretrained(model_dir)
        result["model_dir"] = str(model_dir)
    return _finish(result, predictions, progress.history, trial_dir, report)


def _finish(
    result: dict[str, Any],
    predictions: Mapping[str, np.ndarray],
    history: list[dict[str, float]],
    trial_dir: Path,
    report: Reporter,
) -> dict[str, Any]:
    """Save the predictions and the final metrics, then the final report."""
    result[M.PREDICTIONS_FILE] = str(save_predictions(predictions, trial_dir / PREDICTIONS_NPZ))
    with atomic_write(trial_dir / FINAL_METRICS_FILE) as tmp:
        tmp.write_text(json.dumps({**result, "history": history}, indent=2, default=float))
    report(result, None)
    return result


def _classical_trial(
    cfg: TrialConfig,
    splits: DataSplits,
    teacher: nn.Module,
    tokenizer: Any,
    device: torch.device,
    trial_dir: Path,
    report: Reporter,
) -> dict[str, Any]:
    """The TF-IDF + logistic-regression reference on the same splits, measured like a trial:
    quality on test and validation, speed against the teacher from raw text (tokenisation
    included), inference energy over repeated test passes."""
    # The meter spans the fit and its evaluation and timing: the training emissions are an
    # upper bound of the fit's own (seconds, for a model that costs seconds).
    threads = _timing_threads(cfg, device)
    with EnergyMeter(**_meter_settings(cfg, trial_dir), task="fit") as meter:
        run = run_classical(
            splits,
            teacher,
            tokenizer,
            teacher.config.label2id,
            max_length=cfg.max_length,
            eval_batch_size=cfg.eval_batch_size,
            timing_batches=cfg.timing_batches,
            timing_repeats=cfg.timing_repeats,
            timing_threads=threads,
            seed=cfg.seed,
            device=device,
            precision=cfg.precision,
        )
    with measuring(device, cfg.precision, threads):
        energy = inference_energy(
            run.energy_passes,
            predictions=run.energy_predictions,
            min_seconds=cfg.energy_seconds,
            device=device,
            **_meter_settings(cfg, trial_dir),
        )
    result = {
        "name": cfg.name,
        "kind": cfg.kind,
        **run.metrics,
        # no encoder: no kept fraction, no FLOP ratio of one
        M.SPEEDUP_IDEAL: math.nan,
        M.DENSITY: math.nan,
        M.HEADS: 0,
        M.FFN_NEURONS: 0,
        M.ENCODER_PARAMETERS: 0,
        **_energy_metrics(
            energy[CLASSICAL].at(run.timing.timings[CLASSICAL].median),
            energy[TEACHER].at(run.timing.timings[TEACHER].median),
            len(run.test_gold),
            cfg,
        ),
        M.TRAIN_EMISSIONS_KG: meter.emissions_kg,
        M.TRAIN_ENERGY_KWH: meter.energy_kwh,
        M.EPOCH: 0,
        M.PRECISION_USED: cfg.precision,
        # the teacher is timed in the trial's precision only
        M.SPEEDUP_VS_FP32: run.metrics[M.SPEEDUP] if cfg.precision == "fp32" else math.nan,
        M.RESUMED_FROM_EPOCH: 0,
    }
    predictions = {
        "test_pred": run.test_pred,
        "test_gold": run.test_gold,
        "val_pred": run.val_pred,
        "val_gold": run.val_gold,
    }
    return _finish(result, predictions, [], trial_dir, report)


# --------------------------------------------------------------------------------------------
# Measurement of the final model


# The teacher timed with autocast off, next to a trial in mixed precision.
_TEACHER_FP32 = "teacher (fp32)"


def measure(
    model: nn.Module,
    teacher: nn.Module,
    tokens: Mapping[str, TokenizedSplit],
    cfg: TrialConfig,
    device: torch.device,
    trial_dir: Path,
    *,
    dense: nn.Module | None = None,
    model_tokens: Mapping[str, TokenizedSplit] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Quality, speed, inference energy and size of ``model`` against ``teacher``.

    ``dense`` is ``model`` before int8 quantisation, whose parameters (and encoder density) are
    counted; the size in MB is the measured model's own. ``model_tokens`` are the splits as the
    model's own tokenizer split them, when it is not the teacher's (a trimmed vocabulary): the
    same examples, timed batch for batch against the teacher's.

    Quality on test (reported) and on validation (what searches optimise and fronts are chosen
    on). Speed: the ratio of median times over the same test batches, timed interleaved
    (``cfg.timing_batches`` batches, ``cfg.timing_repeats`` repeats, single-threaded on CPU).
    Energy: each model's mean power from CodeCarbon over passes of the same timed test batches,
    after a warm-up, for at least ``cfg.energy_seconds`` per model in windows that alternate
    teacher and model (A B B A), under the same threads as the timing, times its median time per
    pass from the timing (E = P x t: :meth:`InferenceEnergy.at`); per 1,000 predictions and per
    pass over the test set (the paper's column), with the teacher's per 1,000 and the ratio
    teacher / model. ``density`` is
    the realised kept fraction of the encoder's prunable weights. Passing the teacher as
    ``model`` measures the baseline (speedup 1, density 1).

    Returns the metrics and the per-example predictions (label ids) on test and validation.
    """
    own = model_tokens or tokens
    test, validation = own["test"], own["validation"]
    batch_size = cfg.eval_batch_size
    with precision_autocast(device, cfg.precision):
        test_logits = predict(model, test, batch_size=batch_size, device=device)
        val_logits = predict(model, validation, batch_size=batch_size, device=device)
    quality, val_quality = (
        classification_metrics(test_logits, test.labels),
        classification_metrics(val_logits, validation.labels),
    )

    batches = test.batches(batch_size)[: cfg.timing_batches or None]
    teacher_batches = tokens["test"].batches(batch_size)[: cfg.timing_batches or None]
    models = {"teacher": teacher, "model": model} if model is not teacher else {"model": model}
    # One set of passes (batches moved to the device once), timed and then metered alike.
    passes = forward_passes({"model": model}, batches, device=device)
    if "teacher" in models:
        passes = {**forward_passes({"teacher": teacher}, teacher_batches, device=device), **passes}
    for timed in models.values():
        timed.eval()
    timed_passes = dict(passes)
    if cfg.precision != "fp32":  # the fp32 teacher too, in the same rounds
        timed_passes[_TEACHER_FP32] = in_fp32(passes.get("teacher", passes["model"]), device)
    with measuring(device, cfg.precision, _timing_threads(cfg, device)):
        timings = time_calls(timed_passes, repeats=cfg.timing_repeats, device=device)
        energy = inference_energy(
            passes,
            predictions=sum(len(batch["input_ids"]) for batch in batches),
            min_seconds=cfg.energy_seconds,
            device=device,
            **_meter_settings(cfg, trial_dir),
        )
    teacher_timing = "teacher" if "teacher" in timings else "model"
    fp32_timing = _TEACHER_FP32 if _TEACHER_FP32 in timings else teacher_timing

    dense = model if dense is None else dense
    counts, teacher_params = parameter_counts(dense), parameter_counts(teacher)["total"]
    metrics = {
        M.ACCURACY: quality["accuracy"],
        M.MACRO_F1: quality["macro_f1"],
        M.VAL_ACCURACY: val_quality["accuracy"],
        M.VAL_MACRO_F1: val_quality["macro_f1"],
        M.SPEEDUP: speedup(timings, teacher_timing, "model"),
        M.SPEEDUP_VS_FP32: speedup(timings, fp32_timing, "model"),
        M.SPEEDUP_IDEAL: speedup_ideal(teacher, dense, cfg.max_length),
        M.INFERENCE_SECONDS: timings["model"].median,
        M.TEACHER_INFERENCE_SECONDS: timings[teacher_timing].median,
        M.NUM_PARAMETERS: counts["total"],
        M.ENCODER_PARAMETERS: counts["encoder"],
        M.TEACHER_NUM_PARAMETERS: teacher_params,
        M.PARAM_REDUCTION: 1.0 - counts["total"] / teacher_params,
        M.DENSITY: encoder_density(dense, teacher.config),
        **kept_structure(dense),
        M.MODEL_MB: serialized_megabytes(model),
        **_energy_metrics(
            energy["model"].at(timings["model"].median),
            energy.get("teacher", energy["model"]).at(timings[teacher_timing].median),
            len(test),
            cfg,
        ),
    }
    predictions = {
        "test_pred": test_logits.argmax(-1).numpy(),
        "test_gold": test.labels.numpy(),
        "val_pred": val_logits.argmax(-1).numpy(),
        "val_gold": validation.labels.numpy(),
    }
    return metrics, predictions


def _energy_metrics(
    model: InferenceEnergy, teacher: InferenceEnergy, test_size: int, cfg: TrialConfig
) -> dict[str, Any]:
    """The model's inference energy and the teacher's, metered in the same trial over the same
    timed test batches (the baseline trial's model is the teacher); per pass over the whole test
    set (the paper's column) is the per-prediction figure times ``test_size``."""
    return {
        M.EMISSIONS_KG: model.emissions_kg_per_1k * test_size / 1000.0,
        M.ENERGY_KWH: model.energy_kwh_per_1k * test_size / 1000.0,
        M.EMISSIONS_KG_PER_1K: model.emissions_kg_per_1k,
        M.ENERGY_KWH_PER_1K: model.energy_kwh_per_1k,
        M.TEACHER_EMISSIONS_KG_PER_1K: teacher.emissions_kg_per_1k,
        M.ENERGY_RATIO: teacher.energy_kwh / model.energy_kwh if model.energy_kwh > 0 else math.nan,
        M.ENERGY_METHOD: model.method,
        M.MACHINE_SHARED: cfg.machine_shared,
    }


def _meter_settings(cfg: TrialConfig, trial_dir: Path) -> dict[str, Any]:
    """Every meter of a trial: its country, on or off, CodeCarbon's emissions.csv in the trial."""
    return {
        "country_iso_code": cfg.country_iso_code,
        "enabled": cfg.measure_energy,
        "tracking_mode": cfg.energy_tracking,
        "output_dir": trial_dir,
    }


# --------------------------------------------------------------------------------------------
# Pieces of the training loop


def _optimizer(student: nn.Module, cfg: TrialConfig) -> torch.optim.Optimizer:
    """AdamW with the weights and the mask scores in separate groups (own rate, no decay)."""
    return torch.optim.AdamW(
        [
            {
                "params": weight_parameters(student),
                "lr": cfg.learning_rate,
                "weight_decay": cfg.weight_decay,
            },
            {
                "params": mask_score_parameters(student),
                "lr": cfg.score_learning_rate,
                "weight_decay": 0.0,
            },
        ]
    )


def _teacher_logits(
    cfg: TrialConfig, teacher: nn.Module, train: TokenizedSplit, device: torch.device, cache: Path
) -> Tensor | None:
    """The teacher's logits on the training split (cached on disk per teacher and data)."""
    if not cfg.distil:
        return None
    logits_cache = TeacherLogitsCache(
        teacher,
        _teacher_id(cfg.teacher),
        device=device,
        precision=cfg.precision,
        cache_dir=cache / "logits",
    )
    fingerprint = tensor_fingerprint(train.input_ids, train.attention_mask)
    return logits_cache.get("train", train.batches(cfg.eval_batch_size), fingerprint)


def _losses(
    cfg: TrialConfig,
    pruning: PruningConfig,
    student: nn.Module,
    threshold: float,
    logits: Tensor,
    batch: dict[str, Tensor],
    teacher_logits: Tensor | None,
) -> dict[str, Tensor]:
    """The loss to minimise and its parts: CE or the KD mix, plus the pruning regulariser."""
    labels = batch["labels"].to(logits.device)
    if teacher_logits is not None:
        kd = distillation_loss(
            logits,
            teacher_logits[batch["idx"]].to(logits.device),
            labels,
            cfg.temperature,
            cfg.alpha_distil,
        )
        loss, ce, distil = kd.total, kd.ce, kd.distil
    else:
        loss = ce = nn.functional.cross_entropy(logits.float(), labels)
        distil = loss.new_zeros(())
    reg = regularization_loss(student, pruning, threshold)
    return {M.LOSS: loss + reg, M.LOSS_CE: ce, M.LOSS_DISTIL: distil, M.LOSS_REG: reg}


def _inputs(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {
        "input_ids": batch["input_ids"].to(device, torch.long),
        "attention_mask": batch["attention_mask"].to(device, torch.long),
    }


def _timing_threads(cfg: TrialConfig, device: torch.device) -> int:
    """CPU threads while timing and metering (0: leave torch's setting, as on a GPU)."""
    return cfg.timing_threads if device.type == "cpu" else 0


def _teacher_id(teacher: str) -> str:
    """The teacher's path or id plus its weights' size and time, so changed weights miss."""
    weights = Path(teacher) / "model.safetensors"
    if weights.exists():
        stat = weights.stat()
        return f"{Path(teacher).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return teacher


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------
# Checkpoints


@dataclass
class _TrainingState:
    """Everything a resumed trial needs to continue exactly where it stopped."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    generator: torch.Generator

    def save(self, directory: Path, progress: _Progress) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "progress": json.dumps(asdict(progress)),
        }
        with atomic_write(directory / CHECKPOINT_FILE) as tmp:
            torch.save(state, tmp)

    def load(self, directory: Path) -> _Progress:
        state = torch.load(directory / CHECKPOINT_FILE, weights_only=True, map_location="cpu")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        return _Progress(**json.loads(state["progress"]))
