"""One trial = one compression experiment of the paper, top to bottom.

config -> data -> teacher -> student (pruned copy of the teacher) -> prune + distil + AMP training,
a Tune report and checkpoint per epoch -> final masks -> compaction -> test accuracy under a
CodeCarbon meter -> interleaved timing against the teacher -> report.

:func:`train_trial` is the Ray Tune function trainable; :func:`run_trial` is the same without
Ray (tests, notebooks): it takes a ``report`` callback and a trial directory.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trainables import metrics as M
from trainables.compaction import (
    compact_model,
    model_flops,
    parameter_counts,
    save_compact,
)
from trainables.config import TrialConfig
from trainables.data import TokenizedSplit, default_cache_dir, load_splits, tokenize_splits
from trainables.distillation import TeacherLogitsCache, distillation_loss, tensor_fingerprint
from trainables.evaluation import classification_metrics, predict
from trainables.measure import EnergyMeter, precision_autocast, time_inference
from trainables.pruning import (
    mask_score_parameters,
    model_density,
    prune_model,
    regularization_loss,
    set_pruning_step,
    weight_parameters,
)
from trainables.schedule import linear_warmup_decay
from trainables.teacher import load_teacher

# report(metrics, checkpoint_dir or None): tune.report in a Tune trial, anything in a test.
Reporter = Callable[[dict[str, Any], Path | None], None]
CHECKPOINT_FILE = "trial_state.pt"


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

    from ray import tune

    def report(metrics: dict[str, Any], checkpoint_dir: Path | None) -> None:
        checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        tune.report(metrics, checkpoint=checkpoint)

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
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    _seed_everything(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision_autocast(device, cfg.precision)  # fp16 on CPU fails here, before any work

    # Data and teacher.
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    splits = load_splits(
        cfg.data_dir,
        variant=cfg.variant,
        dataset=cfg.dataset,
        text_column=cfg.text_column,
        label_column=cfg.label_column,
        seed=cfg.seed,
        cache_dir=cache_dir,
        max_rows=cfg.max_rows,
    )
    teacher, tokenizer = load_teacher(cfg.teacher)
    teacher.to(device).eval()
    tokens = tokenize_splits(
        splits,
        tokenizer,
        teacher.config.label2id,
        max_length=cfg.max_length,
        cache_dir=cache_dir / "tokens",
    )
    test_batches = tokens["test"].batches(cfg.eval_batch_size)
    teacher_params = parameter_counts(teacher)["total"]

    if cfg.kind == "baseline":
        return _finish(
            cfg,
            report,
            teacher,
            teacher,
            test_batches,
            tokens["test"],
            device,
            _Progress(),
            teacher_params,
            trial_dir,
            tokenizer=None,
            density=1.0,
        )

    # Student: a copy of the teacher whose encoder linears carry learnable block masks.
    student = prune_model(copy.deepcopy(teacher), cfg.pruning()).to(device)
    train, steps_per_epoch = tokens["train"], math.ceil(len(tokens["train"]) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = torch.optim.AdamW(
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
    scheduler = linear_warmup_decay(
        optimizer, round(total_steps * cfg.warmup_fraction), total_steps
    )
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    generator = torch.Generator().manual_seed(cfg.seed)
    progress = _Progress()
    if restore_from is not None:
        progress = _load_checkpoint(
            Path(restore_from), student, optimizer, scheduler, scaler, generator
        )

    teacher_logits = None
    if cfg.distil:
        cache = TeacherLogitsCache(
            teacher,
            _teacher_id(cfg.teacher),
            device=device,
            precision=cfg.precision,
            cache_dir=cache_dir / "logits",
        )
        teacher_logits = cache.get(
            "train",
            train.batches(cfg.eval_batch_size),
            tensor_fingerprint(train.input_ids, train.attention_mask),
        )

    # Training: one Tune report and checkpoint per epoch.
    autocast = precision_autocast(device, cfg.precision)
    for epoch in range(progress.epoch, cfg.epochs):
        student.train()
        parts = {M.LOSS: 0.0, M.LOSS_CE: 0.0, M.LOSS_DISTIL: 0.0, M.LOSS_REG: 0.0}
        meter = EnergyMeter(
            country_iso_code=cfg.country_iso_code, enabled=cfg.measure_energy, output_dir=None
        )
        with meter:
            for batch in train.batches(cfg.batch_size, shuffle=True, generator=generator):
                threshold = set_pruning_step(student, progress.step, total_steps)
                with autocast:
                    logits = student(
                        input_ids=batch["input_ids"].to(device, torch.long),
                        attention_mask=batch["attention_mask"].to(device, torch.long),
                    ).logits
                labels = batch["labels"].to(device)
                if teacher_logits is not None:
                    kd = distillation_loss(
                        logits,
                        teacher_logits[batch["idx"]].to(device),
                        labels,
                        cfg.temperature,
                        cfg.alpha_distil,
                    )
                    loss, ce, distil = kd.total, kd.ce, kd.distil
                else:
                    loss = ce = nn.functional.cross_entropy(logits.float(), labels)
                    distil = loss.new_zeros(())
                reg = regularization_loss(student)
                scaler.scale(loss + reg).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                progress.step += 1
                for key, value in (
                    (M.LOSS, loss + reg),
                    (M.LOSS_CE, ce),
                    (M.LOSS_DISTIL, distil),
                    (M.LOSS_REG, reg),
                ):
                    parts[key] += float(value.detach()) / steps_per_epoch
        progress.epoch = epoch + 1
        progress.train_seconds += meter.seconds
        progress.train_energy_kwh += _finite(meter.energy_kwh)
        progress.train_emissions_kg += _finite(meter.emissions_kg)
        val = classification_metrics(
            predict(student, tokens["validation"], batch_size=cfg.eval_batch_size, device=device),
            tokens["validation"].labels,
        )
        epoch_metrics = {
            M.EPOCH: progress.epoch,
            M.VAL_ACCURACY: val["accuracy"],
            M.VAL_MACRO_F1: val["macro_f1"],
            M.DENSITY: model_density(student),
            "threshold": threshold,
            M.TRAIN_SECONDS: progress.train_seconds,
            **parts,
        }
        progress.history.append(epoch_metrics)
        checkpoint_dir = trial_dir / "checkpoints" / f"epoch_{progress.epoch:03d}"
        _save_checkpoint(checkpoint_dir, student, optimizer, scheduler, scaler, generator, progress)
        report(epoch_metrics, checkpoint_dir)
        # Tune has its own copy now; keep only the latest here (a paper-size one is ~3 GB).
        for old in (trial_dir / "checkpoints").glob("epoch_*"):
            if old != checkpoint_dir:
                shutil.rmtree(old, ignore_errors=True)

    # The final masks, then the genuinely smaller model.
    set_pruning_step(student, total_steps, total_steps)
    density = model_density(student)
    compact = compact_model(student).eval()
    del student, optimizer
    return _finish(
        cfg,
        report,
        teacher,
        compact,
        test_batches,
        tokens["test"],
        device,
        progress,
        teacher_params,
        trial_dir,
        tokenizer=tokenizer,
        density=density,
    )


# --------------------------------------------------------------------------------------------
# Measurement of the final model


def _finish(
    cfg: TrialConfig,
    report: Reporter,
    teacher: nn.Module,
    model: nn.Module,
    test_batches: list[dict[str, torch.Tensor]],
    test: TokenizedSplit,
    device: torch.device,
    progress: _Progress,
    teacher_params: int,
    trial_dir: Path,
    tokenizer: Any,
    density: float,
) -> dict[str, Any]:
    """Test quality under a CodeCarbon meter, interleaved timing, sizes; save; report."""
    is_baseline = model is teacher
    # The paper's emissions column: inference over the test set.
    meter = EnergyMeter(country_iso_code=cfg.country_iso_code, enabled=cfg.measure_energy)
    with meter, precision_autocast(device, cfg.precision):
        logits = predict(model, test, batch_size=cfg.eval_batch_size, device=device)
    quality = classification_metrics(logits, test.labels)

    timed = test_batches[: cfg.timing_batches] if cfg.timing_batches else test_batches
    models = {"teacher": teacher} if is_baseline else {"teacher": teacher, "student": model}
    with _cpu_threads(cfg.timing_threads if device.type == "cpu" else 0):
        timings = time_inference(
            models, timed, device=device, precision=cfg.precision, repeats=cfg.timing_repeats
        )
    teacher_time = timings["teacher"].median
    model_time = timings["student"].median if not is_baseline else teacher_time

    counts = parameter_counts(model)
    seq_len = cfg.max_length
    result: dict[str, Any] = {
        "name": cfg.name,
        "kind": cfg.kind,
        M.ACCURACY: quality["accuracy"],
        M.MACRO_F1: quality["macro_f1"],
        M.SPEEDUP: teacher_time / model_time,
        M.SPEEDUP_IDEAL: model_flops(teacher, seq_len) / model_flops(model, seq_len),
        M.INFERENCE_SECONDS: model_time,
        M.TEACHER_INFERENCE_SECONDS: teacher_time,
        M.NUM_PARAMETERS: counts["total"],
        M.ENCODER_PARAMETERS: counts["encoder"],
        M.TEACHER_NUM_PARAMETERS: teacher_params,
        M.PARAM_REDUCTION: 1.0 - counts["total"] / teacher_params,
        M.DENSITY: density,
        M.EMISSIONS_KG: meter.emissions_kg,
        M.ENERGY_KWH: meter.energy_kwh,
        M.TRAIN_EMISSIONS_KG: progress.train_emissions_kg,
        M.TRAIN_ENERGY_KWH: progress.train_energy_kwh,
        M.TRAIN_SECONDS: progress.train_seconds,
        M.EPOCH: progress.epoch,
    }
    if not is_baseline:
        model_dir = trial_dir / "model"
        save_compact(model, model_dir)
        tokenizer.save_pretrained(model_dir)
        result["model_dir"] = str(model_dir)
    return _report_final(report, result, progress, trial_dir)


def _report_final(
    report: Reporter, result: dict[str, Any], progress: _Progress, trial_dir: Path
) -> dict[str, Any]:
    (trial_dir / "final_metrics.json").write_text(
        json.dumps({**result, "history": progress.history}, indent=2, default=float)
    )
    report(result, None)
    return result


# --------------------------------------------------------------------------------------------
# Helpers


@contextlib.contextmanager
def _cpu_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (0: unchanged)."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _save_checkpoint(
    directory: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    generator: torch.Generator,
    progress: _Progress,
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "progress": json.dumps(progress.__dict__),
    }
    tmp = directory / (CHECKPOINT_FILE + ".part")
    torch.save(state, tmp)
    tmp.rename(directory / CHECKPOINT_FILE)


def _load_checkpoint(
    directory: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    scaler: torch.amp.GradScaler,
    generator: torch.Generator,
) -> _Progress:
    state = torch.load(directory / CHECKPOINT_FILE, weights_only=True, map_location="cpu")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    return _Progress(**json.loads(state["progress"]))
