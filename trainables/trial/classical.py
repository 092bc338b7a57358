"""The classical reference: TF-IDF character n-grams + logistic regression, against the teacher.

A compressed BERT is only worth its cost if it beats what a bag of character n-grams does in
seconds, so the study reports one as its own trial kind (``classical``). The model is fitted on
the train split once per value of the regularisation ``C`` in a small grid; the value with the
best validation accuracy is kept (validation chooses, it is never trained on) and measured on the
same test set as every other trial.

Speed is timed from raw text for both models, since that is what each costs in use: the
classical model vectorises and predicts; the teacher tokenises, pads, moves to its device and
runs its forward pass (:func:`trainables.measure.timing.text_passes`, the harness every encoder
trial times its models in). Both predict label ids, interleaved over the same chunks of test
texts (:func:`trainables.measure.timing.time_calls`).

The model itself (:func:`trainables.tfidf.fit_classical`) is a component; this module times it
against the teacher from raw text (:func:`run_classical`) and is the ``classical`` kind's recipe
(:func:`run`): the fit and its evaluation under one CodeCarbon meter (the training cost), the
inference energy of both models metered in their timing rounds (:mod:`trainables.measure.budget`).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from trainables import metrics as M
from trainables.compress.compaction import parameter_counts
from trainables.data import DataSplits
from trainables.measure import (
    EnergyMeter,
    InferenceEnergy,
    PhaseClock,
    TimingBudget,
    TimingResult,
    measure_by_budget,
    measuring,
    speedup,
    text_heads,
    text_passes,
)
from trainables.precision import precision_autocast
from trainables.tfidf import DEFAULT_C_GRID, ClassicalModel, fit_classical, label_ids, scores
from trainables.trial.context import Trial
from trainables.trial.result import Outcome, energy_metrics, label_predictions

# Names of the two timed models in :class:`TextTiming`.
TEACHER = "teacher"
CLASSICAL = "classical"


# --------------------------------------------------------------------------------------------
# Timing from raw text


@dataclass(frozen=True)
class TextTiming:
    """Interleaved timings from raw text of the classical model and the teacher, what was
    timed (``counts``: :attr:`BudgetMeasurement.counts <trainables.measure.BudgetMeasurement>`)
    and, when metered, their energy per pass over the timed texts."""

    timings: dict[str, TimingResult]  # keys TEACHER and CLASSICAL
    texts_per_repeat: int
    counts: dict[str, int] = field(default_factory=dict)
    energy: dict[str, InferenceEnergy] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        """Teacher median / classical median."""
        return speedup(self.timings, TEACHER, CLASSICAL)


def time_from_text(
    model: ClassicalModel,
    teacher: nn.Module,
    tokenizer: Callable[..., Mapping[str, torch.Tensor]],
    texts: Sequence[str],
    label2id: Mapping[str, int],
    *,
    max_length: int,
    batch_size: int,
    budget: TimingBudget,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    threads: int = 0,
    clock: PhaseClock | None = None,
) -> TextTiming:
    """Time the classical model and the teacher from raw text on the same chunks, interleaved.

    The first chunks of ``batch_size`` texts are what each model turns into label ids per
    repeat: as many as ``budget`` buys, as in
    :func:`~trainables.measure.budget.measure_by_budget`, which with the budget's meter also
    meters both models in the rounds.
    The teacher's time includes tokenising with padding and
    truncation to ``max_length``, moving the ids to ``device`` and its forward pass under
    ``torch.inference_mode()`` and the autocast of ``precision``; the classical model's includes
    vectorising. ``threads`` caps torch's CPU threads (on CPU) and the BLAS/OpenMP threads
    during timing, for both models (0: unchanged).

    ``device`` defaults to the teacher's; the teacher must already be on it. It is timed in eval
    mode and given back in the mode it came in. ``clock`` counts timing and energy as
    :func:`~trainables.measure.budget.measure_by_budget` says.
    """
    device = _teacher_device(teacher, device)
    precision_autocast(device, precision)  # validates precision before any work
    if batch_size < 1:
        raise ValueError(f"need batch_size >= 1, got {batch_size=}")
    texts = list(texts)[: budget.max_batches * batch_size or None]
    if not texts:
        raise ValueError("time_from_text needs at least one text, got none")
    chunks = _chunks(texts, batch_size)
    label_ids(model.classes, label2id, where="the classical model's classes")  # fail before work
    encoders = {TEACHER: (teacher, tokenizer)}
    calls: dict[str, list[Callable[[], object]]] = {
        **text_passes(encoders, chunks, max_length=max_length, device=device),
        CLASSICAL: [functools.partial(model.predict_ids, chunk, label2id) for chunk in chunks],
    }
    heads: dict[str, Callable[[int], Callable[[], object]]] = {
        **text_heads(encoders, chunks[0], max_length=max_length, device=device),
        CLASSICAL: lambda rows: functools.partial(model.predict_ids, chunks[0][:rows], label2id),
    }

    was_training = teacher.training
    try:
        teacher.eval()
        with measuring(device, precision, threads):
            measured = measure_by_budget(
                calls,
                [len(chunk) for chunk in chunks],
                budget,
                device=device,
                clock=clock,
                heads=heads,
            )
    finally:
        teacher.train(was_training)
    return TextTiming(
        timings=measured.timings,
        texts_per_repeat=measured.rows,
        counts=measured.counts,
        energy=measured.energy,
    )


# --------------------------------------------------------------------------------------------
# The trial


@dataclass(frozen=True)
class ClassicalRun:
    """What a ``classical`` trial measured, and what the trainer needs to save and meter.

    ``metrics`` has the keys of :mod:`trainables.metrics` this trial can fill (not
    ``speedup_ideal``, ``density``, energy or training energy). The id arrays are int64 in the
    teacher's ``label2id``, in split order; ``predict_test()`` predicts the whole test split
    from raw text. ``timing.energy`` is both models' energy per pass over the timed test
    texts from raw text, tokenising included, metered in the timing rounds (empty of readings,
    NaN, without a ``meter``).
    """

    metrics: dict[str, float]
    model: ClassicalModel
    timing: TextTiming
    test_pred: np.ndarray
    test_gold: np.ndarray
    val_pred: np.ndarray
    val_gold: np.ndarray
    predict_test: Callable[[], np.ndarray]


def run_classical(
    splits: DataSplits,
    teacher: nn.Module,
    tokenizer: Callable[..., Mapping[str, torch.Tensor]],
    label2id: Mapping[str, int],
    *,
    max_length: int,
    eval_batch_size: int,
    budget: TimingBudget,
    timing_threads: int,
    seed: int,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    fit_threads: int = 1,
    clock: PhaseClock | None = None,
) -> ClassicalRun:
    """Fit, choose ``C``, evaluate on validation and test, and time against the teacher.

    ``teacher`` (on ``device``, default its own) and ``tokenizer`` are the study's teacher,
    timed from raw text on the first chunks of ``eval_batch_size`` test texts that ``budget``
    buys, with ``timing_threads`` threads (0: unchanged), and metered in those rounds with the
    budget's meter (:func:`time_from_text`).
    ``precision`` is the teacher's autocast while timed, as in the other trials.
    ``train_seconds`` is the whole fit, search over ``c_grid`` included. ``clock`` (a trial's)
    counts the fit as training, the predictions as evaluation and the timing as timing.
    """
    clock = PhaseClock() if clock is None else clock
    # Gold labels first: a label the teacher does not know fails before a minute of fitting.
    test_texts, val_texts = list(splits.test.text), list(splits.validation.text)
    test_gold = label_ids(splits.test.label, label2id, where=f"the test split ({splits.source})")
    val_gold = label_ids(
        splits.validation.label, label2id, where=f"the validation split ({splits.source})"
    )

    begin = time.perf_counter()
    with clock.phase(M.PHASE_TRAIN):
        model = fit_classical(
            list(splits.train.text),
            list(splits.train.label),
            val_texts,
            list(splits.validation.label),
            seed=seed,
            c_grid=c_grid,
            threads=fit_threads,
        )
    train_seconds = time.perf_counter() - begin

    with clock.phase(M.PHASE_EVAL):
        test_pred = model.predict_ids(test_texts, label2id)
        val_pred = model.predict_ids(val_texts, label2id)
    test, val = scores(test_gold, test_pred), scores(val_gold, val_pred)
    timing = time_from_text(
        model,
        teacher,
        tokenizer,
        test_texts,
        label2id,
        max_length=max_length,
        batch_size=eval_batch_size,
        budget=budget,
        device=device,
        precision=precision,
        threads=timing_threads,
        clock=clock,
    )
    num_parameters = model.num_parameters
    teacher_parameters = parameter_counts(teacher)["total"]
    metrics = {
        M.ACCURACY: test.accuracy,
        M.MACRO_F1: test.macro_f1,
        M.VAL_ACCURACY: val.accuracy,
        M.VAL_MACRO_F1: val.macro_f1,
        M.SPEEDUP: timing.speedup,
        M.INFERENCE_SECONDS: timing.timings[CLASSICAL].median,
        M.TEACHER_INFERENCE_SECONDS: timing.timings[TEACHER].median,
        # Coefficients + intercepts; the TF-IDF vocabulary and idf weights are extra state.
        M.NUM_PARAMETERS: num_parameters,
        M.TEACHER_NUM_PARAMETERS: teacher_parameters,
        M.PARAM_REDUCTION: 1.0 - num_parameters / teacher_parameters,
        M.MODEL_MB: model.megabytes,
        M.TRAIN_SECONDS: train_seconds,
    }
    return ClassicalRun(
        metrics=metrics,
        model=model,
        timing=timing,
        test_pred=test_pred,
        test_gold=test_gold,
        val_pred=val_pred,
        val_gold=val_gold,
        predict_test=lambda: model.predict_ids(test_texts, label2id),
    )


def run(trial: Trial) -> Outcome:
    """The ``classical`` kind's recipe: the TF-IDF + logistic-regression reference on the same
    splits, measured like a trial: quality on test and validation, speed against the teacher
    from raw text (tokenisation included), inference energy metered in the timing rounds. Its
    tokenising, teacher-logits and compaction phases are 0 s: it has none of them."""
    cfg, device, teacher = trial.cfg, trial.device, trial.teacher
    # The meter spans the fit and its evaluation and timing: the training emissions are an
    # upper bound of the fit's own (seconds, for a model that costs seconds). The inference
    # windows of the timing rounds are meters of their own inside it.
    threads = trial.timing_threads
    with EnergyMeter(**trial.meter_settings, task="fit") as meter:
        classical = run_classical(
            trial.splits,
            teacher,
            trial.tokenizer,
            teacher.config.label2id,
            max_length=cfg.max_length,
            eval_batch_size=cfg.eval_batch_size,
            budget=trial.timing_budget,
            timing_threads=threads,
            seed=cfg.seed,
            device=device,
            precision=cfg.precision,
            clock=trial.clock,
        )
    timings, energy = classical.timing.timings, classical.timing.energy
    metrics = {
        **classical.metrics,
        **classical.timing.counts,
        **energy_metrics(
            energy[CLASSICAL].at(timings[CLASSICAL].median),
            energy[TEACHER].at(timings[TEACHER].median),
            len(classical.test_gold),
            cfg,
        ),
        M.TRAIN_EMISSIONS_KG: meter.emissions_kg,
        M.TRAIN_ENERGY_KWH: meter.energy_kwh,
        # the teacher is timed in the trial's precision only
        M.SPEEDUP_VS_FP32: classical.metrics[M.SPEEDUP] if cfg.precision == "fp32" else math.nan,
    }
    predictions = label_predictions(
        classical.test_pred,
        classical.test_gold,
        classical.val_pred,
        classical.val_gold,
        test_texts=list(trial.splits.test.text),
    )
    return Outcome(metrics, predictions)


# --------------------------------------------------------------------------------------------
# Helpers


def _chunks(texts: Sequence[str], size: int) -> list[Sequence[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def _teacher_device(teacher: nn.Module, device: torch.device | str | None) -> torch.device:
    parameter = next(teacher.parameters(), None)
    own = parameter.device if parameter is not None else torch.device("cpu")
    if device is None:
        return own
    device = torch.device(device)
    if own.type != device.type:
        raise ValueError(
            f"the teacher is on {own} but timing was asked on {device}; move it first with "
            f"teacher.to({str(device)!r}) or leave device=None"
        )
    return device
