"""The last steps of every encoder trial (prune, baseline): the final model, measured.

:func:`final_model` trims the vocabulary when asked and quantises to int8 when asked;
:func:`measure` measures it against a reference model (the teacher), the same way for every
kind; :func:`save_model` saves a trained one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from trainables import metrics as M
from trainables.compress.compaction import (
    encoder_density,
    kept_structure,
    model_flops,
    parameter_counts,
    save_compact,
)
from trainables.compress.depth import encoder_depth
from trainables.compress.quantize import (
    DYNAMIC_INT8,
    folder_megabytes,
    quantize_int8,
    serialized_megabytes,
)
from trainables.compress.vocab_trim import trim_vocabulary, vocab_coverage
from trainables.data import TokenizedSplit
from trainables.evaluation import classification_metrics, predict
from trainables.measure import (
    TOKENISE,
    in_fp32,
    measure_by_budget,
    measuring,
    speedup,
    text_heads,
    text_passes,
)
from trainables.measure.lock import measured_alone
from trainables.precision import precision_autocast
from trainables.trial.context import Trial
from trainables.trial.result import MODEL_DIR, energy_metrics, label_predictions

# The names of the timed models; the teacher timed with autocast off, next to a trial in mixed
# precision.
MODEL, TEACHER, TEACHER_FP32 = "model", "teacher", "teacher (fp32)"


@dataclass
class FinalModel:
    """The model a trial measures (``model``: int8 when asked) and what it was made from:
    ``dense`` (before int8, whose parameters are counted), its ``tokenizer`` and ``tokens`` (the
    splits in its own pieces) and its ``vocabulary`` columns."""

    model: nn.Module
    dense: nn.Module
    tokenizer: Any
    tokens: Mapping[str, TokenizedSplit]
    vocabulary: dict[str, Any] = field(default_factory=dict)


def final_model(trial: Trial, dense: nn.Module, tokens: Mapping[str, TokenizedSplit]) -> FinalModel:
    """``dense`` with a trimmed vocabulary (``cfg.vocab_trim``) and in int8 (``cfg.quantize``).

    ``tokens`` are the splits in the teacher's pieces. A trimmed model keeps only the pieces the
    training texts use; test and validation are split again with the trimmed vocabulary (a word
    needing a dropped piece is split into shorter kept pieces, or [UNK]). ``vocab_coverage`` is
    the share of validation words that keep the teacher's split (:func:`vocab_coverage`).
    """
    cfg = trial.cfg
    tokenizer, trim = trial.tokenizer, {}
    if cfg.vocab_trim:
        train_texts = list(trial.splits.train.text)
        dense, tokenizer, _ = trim_vocabulary(dense, trial.tokenizer, train_texts)
        tokens = trial.tokenize(tokenizer)
        validation_texts = list(trial.splits.validation.text)
        coverage = vocab_coverage(trial.tokenizer, tokenizer, validation_texts)
        trim = {M.VOCAB_COVERAGE: coverage}  # the size is the embedding's, below
    model = quantize_int8(dense) if cfg.quantize == "int8" else dense
    vocabulary = {M.VOCAB_SIZE: dense.get_input_embeddings().num_embeddings, **trim}
    return FinalModel(model, dense, tokenizer, tokens, vocabulary)


def save_model(trial: Trial, final: FinalModel, model_dir: Path | None = None) -> dict[str, Any]:
    """Save the final model (dense weights, int8 flag) and its tokenizer in ``model/`` (or
    ``model_dir``); return the folder and what it weighs on disk (``model_mb``)."""
    model_dir = trial.trial_dir / "model" if model_dir is None else model_dir
    quantization = DYNAMIC_INT8 if trial.cfg.quantize == "int8" else None
    with trial.clock.phase(M.PHASE_SAVE):
        save_compact(final.dense, model_dir, quantization=quantization)
        # pipeline() and trainables.commands.predict truncate where this trial did
        final.tokenizer.model_max_length = trial.cfg.max_length
        final.tokenizer.save_pretrained(model_dir)
    return {MODEL_DIR: str(model_dir), M.MODEL_MB: folder_megabytes(model_dir)}


def shipped_megabytes(trial: Trial, final: FinalModel, *, changed: bool) -> float:
    """What a model that a trial does not save would weigh as a folder: the teacher's own files
    when the model is the teacher unchanged in a local folder, else the folder
    :func:`save_model` would write, written to a temporary folder and measured."""
    teacher = Path(str(trial.cfg.teacher))
    if not changed and teacher.is_dir():
        return folder_megabytes(teacher)
    with tempfile.TemporaryDirectory() as folder:
        return float(save_model(trial, final, Path(folder) / "model")[M.MODEL_MB])


@measured_alone  # CPU trials side by side: one measures at a time, the others train
def measure(
    trial: Trial,
    final: FinalModel,
    tokens: Mapping[str, TokenizedSplit],
    *,
    reference: nn.Module | None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Quality, speed, inference energy and size of ``final.model`` against ``reference``.

    ``tokens`` are the splits in the reference's pieces: the same examples as ``final.tokens``
    (their widths give the reference's FLOPs). ``reference=None`` measures a model that is its
    own reference (the baseline's unchanged teacher: speedup 1, density 1, timed and metered
    once).

    Quality on test (reported) and on validation (what searches optimise and fronts are chosen
    on). Speed: the ratio of median times over the same test texts from raw text to label ids,
    each model tokenising with its own tokenizer (truncation to ``cfg.max_length``, padded to
    the batch's longest row, as the trial's batches), moving the ids to the device, its forward
    pass and the argmax (:func:`~trainables.measure.timing.text_passes`), timed interleaved by
    budget (about ``cfg.timing_seconds`` per model and round, at most ``cfg.timing_batches``
    batches, ``cfg.timing_repeats`` rounds or at least 3 when one batch overruns the budget,
    then the first rows of the first batch: a sub-batch; single-threaded on CPU, the tokenizer's
    Rust pool too: :func:`~trainables.measure.budget.measure_by_budget`; what was timed is
    reported as ``timed_batches``, ``timed_rows``, ``timing_rounds``). ``speedup`` is that
    end-to-end ratio. ``speedup_forward`` is the forward-only ratio of the same calls in the same
    rounds: each call times its own tokenising (and the ids' move to the device) and each
    round's forward time is its call's time less that, so no extra passes run and the
    interleaving and the medians are those of the end-to-end calls. ``tokenise_share`` is the
    median share of the model's time spent tokenising. ``speedup_ideal`` is the FLOP ratio at the
    padded widths of the timed batches, each model at its own tokenizer's widths
    (:func:`speedup_ideal_at`). Energy: each model's
    mean power from CodeCarbon over its timed passes (a window around each, outside the clock),
    plus extra windows (A B B A) when those add up to less than ``cfg.energy_seconds``, times
    its median time per pass (E = P x t: :meth:`InferenceEnergy.at`); per 1,000 predictions and
    per pass over the test set (the paper's column), with the reference's per 1,000 and the
    ratio reference / model. ``density`` is the realised kept fraction of the encoder's prunable
    weights, counted on ``final.dense`` (before int8); ``model_mb_in_memory`` is the measured
    model's state dict (int8 weights one byte each); ``model_mb``, the folder on disk, comes from
    :func:`save_model` or :func:`shipped_megabytes`.

    Returns the metrics and the per-example predictions (label ids) on test and validation.
    """
    cfg, device, model = trial.cfg, trial.device, final.model
    test, validation = final.tokens["test"], final.tokens["validation"]
    batch_size = cfg.eval_batch_size
    with precision_autocast(device, cfg.precision), trial.clock.phase(M.PHASE_EVAL):
        test_logits = predict(model, test, batch_size=batch_size, device=device)
        val_logits = predict(model, validation, batch_size=batch_size, device=device)
    quality, val_quality = (
        classification_metrics(test_logits, test.labels),
        classification_metrics(val_logits, validation.labels),
    )

    # One call per model and chunk of raw test texts, from text to label ids with the model's own
    # tokenizer (the teacher's; a trimmed model's trimmed one), timed and metered alike.
    texts = list(trial.splits.test.text)[: cfg.timing_batches * batch_size or None]
    chunks = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    models = {MODEL: (model, final.tokenizer)}
    baseline = MODEL
    if reference is not None:
        models = {TEACHER: (reference, trial.tokenizer), **models}
        reference.eval()
        baseline = TEACHER
    model.eval()
    calls = text_passes(models, chunks, max_length=cfg.max_length, device=device)
    heads = text_heads(models, chunks[0], max_length=cfg.max_length, device=device)
    metered = list(calls)
    if cfg.precision != "fp32":  # the fp32 reference too, in the same rounds (not metered)
        calls[TEACHER_FP32] = [in_fp32(call, device) for call in calls[baseline]]
        head = heads[baseline]
        heads[TEACHER_FP32] = lambda rows: in_fp32(head(rows), device)
    with measuring(device, cfg.precision, trial.timing_threads):
        measured = measure_by_budget(
            calls,
            [len(chunk) for chunk in chunks],
            trial.timing_budget,
            metered=metered,
            device=device,
            clock=trial.clock,
            heads=heads,
        )
    timings, energy = measured.timings, measured.energy
    fp32_baseline = TEACHER_FP32 if TEACHER_FP32 in timings else baseline

    dense = final.dense
    teacher = dense if reference is None else reference
    counts, teacher_params = parameter_counts(dense), parameter_counts(teacher)["total"]
    widths = timed_widths(test, measured.rows, batch_size)
    teacher_widths = timed_widths(tokens["test"], measured.rows, batch_size)
    forward = {name: timing.without(TOKENISE) for name, timing in timings.items()}
    metrics = {
        M.ACCURACY: quality["accuracy"],
        M.MACRO_F1: quality["macro_f1"],
        M.VAL_ACCURACY: val_quality["accuracy"],
        M.VAL_MACRO_F1: val_quality["macro_f1"],
        M.SPEEDUP: speedup(timings, baseline, MODEL),
        M.SPEEDUP_VS_FP32: speedup(timings, fp32_baseline, MODEL),
        M.SPEEDUP_FORWARD: speedup(forward, baseline, MODEL),
        M.SPEEDUP_IDEAL: speedup_ideal_at(teacher, dense, teacher_widths, widths),
        M.TOKENISE_SHARE: timings[MODEL].share(TOKENISE),
        M.INFERENCE_SECONDS: timings[MODEL].median,
        M.TEACHER_INFERENCE_SECONDS: timings[baseline].median,
        **measured.counts,
        M.NUM_PARAMETERS: counts["total"],
        M.ENCODER_PARAMETERS: counts["encoder"],
        M.TEACHER_NUM_PARAMETERS: teacher_params,
        M.PARAM_REDUCTION: 1.0 - counts["total"] / teacher_params,
        M.DENSITY: encoder_density(dense, teacher.config),
        **kept_structure(dense),
        M.LAYERS_DROPPED: encoder_depth(teacher) - encoder_depth(dense),
        M.MODEL_MB_IN_MEMORY: serialized_megabytes(model),
        **energy_metrics(
            energy[MODEL].at(timings[MODEL].median),
            energy[baseline].at(timings[baseline].median),
            len(test),
            cfg,
        ),
    }
    predictions = label_predictions(
        test_logits.argmax(-1).numpy(),
        test.labels.numpy(),
        val_logits.argmax(-1).numpy(),
        validation.labels.numpy(),
        test_texts=list(trial.splits.test.text),
    )
    return metrics, predictions


def timed_widths(split: TokenizedSplit, rows: int, batch_size: int) -> list[tuple[int, int]]:
    """(rows, padded width) of each batch of ``split``'s first ``rows`` rows in batches of
    ``batch_size``: the widths the timed calls ran at (a trial pads each batch to its longest
    row, truncated to ``max_length``)."""
    widths = split.attention_mask[:rows].sum(dim=1).tolist()
    return [
        (len(widths[i : i + batch_size]), max(1, int(max(widths[i : i + batch_size]))))
        for i in range(0, len(widths), batch_size)
    ]


def speedup_ideal_at(
    baseline: nn.Module,
    compact: nn.Module,
    baseline_widths: Sequence[tuple[int, int]],
    compact_widths: Sequence[tuple[int, int]],
) -> float:
    """Baseline FLOPs / compact FLOPs over the batches each ran, (rows, padded width) per batch
    (:func:`timed_widths`; a trimmed vocabulary may split the same texts into more pieces): the
    FLOP-ideal speedup at the widths that were timed, not at ``max_length``
    (:func:`~trainables.compress.compaction.model_flops` per sequence, times the rows)."""
    flops = [
        sum(rows * model_flops(model, width) for rows, width in widths)
        for model, widths in ((baseline, baseline_widths), (compact, compact_widths))
    ]
    return flops[0] / flops[1]
