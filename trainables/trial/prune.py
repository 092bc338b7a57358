"""The ``prune`` trial: a pruned, optionally distilled copy of the teacher, trained and measured.

student (a copy of the teacher, minus the encoder layers ``drop_layers`` / ``drop_layer_share``
and ``layer_selection`` ask to drop, whose encoder linears carry learnable block masks) -> prune +
distil + AMP training, a report and checkpoint per epoch -> final masks -> compaction ->
:func:`trainables.trial.final.measure` against the teacher -> saved model. While it trains, the
trial's log gets a line every ~30 s: the step and an estimate of the training time left
(:class:`~trainables.measure.TrainingProgress`), which each epoch's report also carries.
"""

from __future__ import annotations

import copy
import math
import shutil
import sys
from pathlib import Path

import torch
from torch import Tensor, nn

from trainables import metrics as M
from trainables.compress.compaction import WEIGHTS_NAME, compact_model
from trainables.compress.depth import (
    IMPORTANCE_BATCHES,
    drop_layers,
    encoder_depth,
    layers_to_drop,
    learned_layers_to_drop,
    resolve_drop_count,
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
from trainables.compress.schedules import cubic_threshold, learning_rate_scheduler
from trainables.config import TrialConfig
from trainables.data import TokenizedSplit
from trainables.evaluation import evaluate, model_inputs
from trainables.measure import EnergyMeter, TrainingProgress
from trainables.precision import precision_autocast
from trainables.training import optimizer_step
from trainables.trial.checkpoint import (
    Progress,
    TrainingState,
    checkpoint_dropped_layers,
    newest_checkpoint,
)
from trainables.trial.context import Trial
from trainables.trial.final import final_model, measure, save_model
from trainables.trial.result import Outcome
from trainables.trial.students import StudentCache


def run(trial: Trial) -> Outcome:
    """Train the student for ``cfg.epochs`` (resuming from ``trial.restore_from``), or load it
    from the study's student cache where a twin trained it (:mod:`trainables.trial.students`);
    compact it, measure it against the teacher and save it."""
    cfg, clock = trial.cfg, trial.clock
    drop = _drop_count(cfg, trial.teacher)  # too many layers: refused before any work
    tokens = trial.tokenize(trial.tokenizer)
    students = StudentCache.of(cfg, _teacher_id(cfg.teacher), tokens["train"])
    with clock.phase(M.PHASE_SAVE):  # reading a stored student back is I/O, as a checkpoint's
        stored = None if students is None else students.load(trial.device)
    if stored is None:
        compact, progress, resumed_from = _train(trial, tokens, drop)
        if students is not None:
            with clock.phase(M.PHASE_SAVE):
                students.store(compact, progress)
    else:
        (compact, progress), resumed_from = stored, 0

    with clock.phase(M.PHASE_COMPACT):  # vocabulary trim (its tokens: tokenising), int8
        final = final_model(trial, compact, tokens)
    measured, predictions = measure(trial, final, tokens, reference=trial.teacher)
    metrics = {
        **measured,
        M.TRAIN_EMISSIONS_KG: progress.train_emissions_kg,
        M.TRAIN_ENERGY_KWH: progress.train_energy_kwh,
        M.TRAIN_SECONDS: progress.train_seconds,
        M.EPOCH: progress.epoch,
        **final.vocabulary,
        M.RESUMED_FROM_EPOCH: resumed_from,
        M.STUDENT_REUSED: stored is not None,
        **save_model(trial, final),
    }
    return Outcome(metrics, predictions, progress.history)


def _train(
    trial: Trial, tokens: dict[str, TokenizedSplit], drop: int
) -> tuple[nn.Module, Progress, int]:
    """The trained, compacted student (in eval mode), its progress, and the epoch this run
    resumed from (0: from the start)."""
    cfg, device, teacher, clock = trial.cfg, trial.device, trial.teacher, trial.clock
    autocast = precision_autocast(device, cfg.precision)
    train = tokens["train"]
    progress = Progress()
    resumed_from = 0

    # Student: a copy of the teacher minus the dropped layers, whose encoder linears carry
    # learnable block masks.
    pruning = cfg.pruning()
    checkpoints = trial.checkpoints
    restore = None
    if trial.restore_from is not None:
        restore = newest_checkpoint(Path(trial.restore_from), checkpoints)
    with clock.phase(M.PHASE_TRAIN):
        stored = None if restore is None else checkpoint_dropped_layers(restore)
        student, dropped = _shallower(cfg, teacher, drop, train, device, stored)
        student = prune_model(student, pruning).to(device)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = _optimizer(student, cfg)
    scheduler = learning_rate_scheduler(
        optimizer, student, pruning, total_steps, round(total_steps * cfg.warmup_fraction)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
    generator = torch.Generator().manual_seed(cfg.seed)
    state = TrainingState(student, optimizer, scheduler, scaler, generator, dropped)
    if restore is not None:
        with clock.phase(M.PHASE_SAVE):  # checkpoint I/O, read back
            progress = state.load(restore)
        resumed_from = progress.epoch
    with clock.phase(M.PHASE_TEACHER_LOGITS):
        teacher_logits = _teacher_logits(cfg, teacher, train, device, trial.cache_dir)
    status = TrainingProgress(
        cfg.name or "trial", total_steps, cfg.epochs, done_steps=progress.step
    )

    # Training: one report and checkpoint per epoch.
    for epoch in range(progress.epoch, cfg.epochs):
        student.train()
        sums = dict.fromkeys((M.LOSS, M.LOSS_CE, M.LOSS_DISTIL, M.LOSS_REG), 0.0)
        meter = EnergyMeter(**trial.meter_settings, task=f"train epoch {epoch + 1}")
        with clock.phase(M.PHASE_TRAIN), meter:  # the meter starting and stopping too
            for batch in train.batches(cfg.batch_size, shuffle=True, generator=generator):
                threshold = cubic_threshold(progress.step, total_steps, pruning)
                apply_threshold(student, threshold)
                with autocast:
                    logits = student(**model_inputs(batch, device, torch.long)).logits
                losses = _losses(cfg, pruning, student, threshold, logits, batch, teacher_logits)
                optimizer_step(losses[M.LOSS], student, optimizer, scheduler, scaler)
                progress.step += 1
                status.step()
                for key, value in losses.items():
                    sums[key] += float(value.detach()) / steps_per_epoch
        progress.epoch = epoch + 1
        progress.train_seconds += meter.seconds
        # NaN (no reading) stays NaN: a missing epoch must not look like a cheap one
        progress.train_energy_kwh += meter.energy_kwh
        progress.train_emissions_kg += meter.emissions_kg
        with clock.phase(M.PHASE_EVAL):
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
            M.TRAIN_SECONDS_LEFT: status.remaining(),
            **sums,
        }
        progress.history.append(epoch_metrics)
        checkpoint_dir = checkpoints / f"epoch_{progress.epoch:03d}"
        with clock.phase(M.PHASE_SAVE):  # Tune copies the checkpoint in report()
            state.save(checkpoint_dir, progress)
            trial.report(epoch_metrics, checkpoint_dir)
            # Keep only the latest (a paper-size one is ~3 GB); Tune's reporter removed it already.
            for old in checkpoints.glob("epoch_*"):
                if old != checkpoint_dir:
                    shutil.rmtree(old, ignore_errors=True)

    # The final masks, then the genuinely smaller model.
    with clock.phase(M.PHASE_COMPACT):
        apply_threshold(student, pruning.schedule_end)
        compact = compact_model(student).eval()
    del student, optimizer, state
    return compact, progress, resumed_from


def _drop_count(cfg: TrialConfig, teacher: nn.Module) -> int:
    """The encoder layers the student drops (``drop_layers``, or ``drop_layer_share`` of the
    teacher's depth, rounded), checked against the teacher's depth; a share that rounds to no
    layer is said in the trial's log."""
    depth = encoder_depth(teacher)
    count = resolve_drop_count(cfg.drop_layers, cfg.drop_layer_share, depth)
    if cfg.drop_layer_share > 0 and count == 0:
        print(
            f"{cfg.name or 'trial'}: drop_layer_share={cfg.drop_layer_share} of a {depth}-layer "
            "teacher rounds to 0 layers: no layer is dropped",
            file=sys.stderr,
            flush=True,
        )
    return count


def _shallower(
    cfg: TrialConfig,
    teacher: nn.Module,
    count: int,
    train: TokenizedSplit,
    device: torch.device,
    stored: list[int] | None = None,
) -> tuple[nn.Module, list[int]]:
    """A copy of the teacher without the ``count`` layers ``cfg.layer_selection`` picks
    (``learned``: measured on the first training batches, :func:`learned_layers_to_drop`), and
    those layers' indices. A resumed trial passes the ones its checkpoint ``stored``: the
    student it loads must be the one it saved, so nothing is measured again."""
    student = copy.deepcopy(teacher)
    if stored is not None:
        if len(stored) != count:
            raise ValueError(
                f"the checkpoint's student dropped layers {stored}, but this trial drops "
                f"{count}: resume it with the configuration it was started with"
            )
        indices = stored
    elif count == 0:
        indices = []
    elif cfg.layer_selection == "learned":
        batches = [
            model_inputs(batch, device, torch.long)
            for batch in train.batches(cfg.eval_batch_size)[:IMPORTANCE_BATCHES]
        ]
        indices = learned_layers_to_drop(student.to(device), batches, count)
    else:
        indices = layers_to_drop(encoder_depth(teacher), count, cfg.layer_selection)
    return (drop_layers(student, indices) if indices else student), list(indices)


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


def _teacher_id(teacher: str) -> str:
    """The teacher's path or id plus its weights' size and time, so changed weights miss."""
    weights = Path(teacher) / WEIGHTS_NAME
    if weights.exists():
        stat = weights.stat()
        return f"{Path(teacher).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return teacher
