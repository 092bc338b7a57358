"""The classical reference: TF-IDF character n-grams + logistic regression, against the teacher.

A compressed BERT is only worth its cost if it beats what a bag of character n-grams does in
seconds, so the study reports one as its own trial kind (``classical``). The model is fitted on
the train split once per value of the regularisation ``C`` in a small grid; the value with the
best validation accuracy is kept (validation chooses, it is never trained on) and measured on the
same test set as every other trial.

Speed is timed from raw text for both models, since that is what each costs in use: the
classical model vectorises and predicts; the teacher tokenises, pads, moves to its device and
runs its forward pass. Both predict label ids, interleaved over the same chunks of test texts
(:func:`trainables.measure.timing.time_calls`).

Energy is not measured here: the trainer wraps its shared meter around repeated calls of
:attr:`ClassicalRun.predict_test`.

>>> run = run_classical(splits, teacher, tokenizer, label2id, max_length=128,
...                     eval_batch_size=64, timing_batches=8, timing_repeats=5,
...                     timing_threads=1, seed=0)  # doctest: +SKIP
>>> run.metrics["accuracy"], run.model.C  # doctest: +SKIP
(0.84, 64.0)
"""

from __future__ import annotations

import contextlib
import functools
import pickle
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits
from torch import nn

from trainables import metrics as M
from trainables.compress.compaction import parameter_counts
from trainables.data import DataError, DataSplits
from trainables.evaluation import label_metrics
from trainables.measure.timing import (
    TimingResult,
    measuring,
    precision_autocast,
    speedup,
    time_calls,
)

# Regularisation strengths tried (LogisticRegression's C, inverse strength). On the shared LPC
# and SHC splits validation accuracy rises from C=1 (LPC 0.80) to a plateau at 64-256 (0.86).
DEFAULT_C_GRID: tuple[float, ...] = (4.0, 16.0, 64.0, 256.0)
# Character n-grams inside word boundaries carry Marathi's inflections and sandhi without a
# tokenizer; sublinear tf keeps a repeated n-gram from dominating a paragraph.
NGRAM_RANGE = (2, 5)
MIN_DF = 2
MAX_ITER = 2000
# newton-cg reaches the same (strictly convex) optimum as the default lbfgs in ~7 iterations
# where lbfgs takes ~50; with 10^5 n-grams x 12 classes, SciPy's L-BFGS-B spends most of its time
# in its own bookkeeping, and newton-cg fitted the LPC split 2.5-3x faster.
SOLVER = "newton-cg"
# Names of the two timed models in :class:`TextTiming`.
TEACHER = "teacher"
CLASSICAL = "classical"


@dataclass(frozen=True)
class Scores:
    """Accuracy and macro-F1 of one model on one split."""

    accuracy: float
    macro_f1: float


@dataclass(frozen=True)
class ClassicalModel:
    """A fitted TF-IDF + logistic-regression pipeline, the ``C`` it was chosen with, and why.

    ``val_scores`` holds the validation scores of every ``C`` tried, in grid order; ``C`` is the
    one with the best accuracy (ties: the best macro-F1, then the smallest ``C``).
    """

    pipeline: Pipeline
    C: float
    val_scores: dict[float, Scores]

    @property
    def classes(self) -> list[str]:
        """The label names the model can predict, in the order of its coefficient rows."""
        return [str(label) for label in self.pipeline.classes_]

    @property
    def num_parameters(self) -> int:
        """Learnt weights: the coefficients and intercepts of the logistic regression.

        The vectoriser's vocabulary and idf weights are extra state (a fitted lookup table, one
        idf per n-gram) that this count leaves out, as a BERT count leaves out its tokenizer.
        """
        lr = self.pipeline[-1]
        return int(lr.coef_.size + lr.intercept_.size)

    @property
    def megabytes(self) -> float:
        """The fitted pipeline as pickled (vocabulary and idf weights included), in MB."""
        return len(pickle.dumps(self.pipeline, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6

    def predict_ids(self, texts: Sequence[str], label2id: Mapping[str, int]) -> np.ndarray:
        """Predicted label ids (int64) of ``texts``, in ``label2id``'s numbering (the teacher's).

        Raises ``DataError`` if the model can predict a label that ``label2id`` lacks.
        """
        class_ids = label_ids(self.classes, label2id, where="the classical model's classes")
        if len(texts) == 0:
            return np.zeros(0, dtype=np.int64)
        predicted = self.pipeline.predict(list(texts))
        # classes_ is sorted (np.unique), so searchsorted gives each name's row in it.
        return class_ids[np.searchsorted(self.pipeline.classes_, predicted)]


def label_ids(labels: Iterable[str], label2id: Mapping[str, int], *, where: str) -> np.ndarray:
    """Map label names onto ``label2id``'s ids (int64), as ``encode_labels`` does for tokens.

    A name is matched exactly, else ignoring case; one that matches nothing raises ``DataError``.
    """
    known = {str(name): int(i) for name, i in label2id.items()}
    lowered = {name.lower(): i for name, i in known.items()}
    out = []
    for label in labels:
        idx = known.get(label, lowered.get(str(label).lower()))
        if idx is None:
            raise DataError(
                f"label {label!r} in {where} is not in the teacher's label2id "
                f"({', '.join(sorted(known))}); use data with the teacher's labels or a teacher "
                "trained on these labels"
            )
        out.append(idx)
    return np.asarray(out, dtype=np.int64)


def fit_classical(
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    val_texts: Sequence[str],
    val_labels: Sequence[str],
    *,
    seed: int,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    threads: int = 1,
) -> ClassicalModel:
    """Fit TF-IDF char n-grams + logistic regression on train; choose ``C`` on validation.

    The vectoriser is fitted on the train texts only, once; one logistic regression per ``C`` is
    fitted on its features and scored on validation. The kept pipeline is the best ``C``'s, so it
    has seen no validation text or label.

    ``seed`` is the solver's ``random_state``: newton-cg is deterministic, so it only matters to
    a stochastic solver. ``threads`` caps the BLAS/OpenMP threads while fitting (0: the
    libraries' default). The cap is 1 by default because trials share cores: on a loaded
    two-core machine two OpenMP threads made the fit 10-20 times slower than one.
    """
    train_texts, val_texts = list(train_texts), list(val_texts)
    train_labels = [str(label) for label in train_labels]
    val_labels = [str(label) for label in val_labels]
    for split, texts, labels in (
        ("train", train_texts, train_labels),
        ("validation", val_texts, val_labels),
    ):
        if len(texts) != len(labels):
            raise ValueError(
                f"{split}: {len(texts)} texts but {len(labels)} labels; pass one label per text"
            )
        if not texts:
            raise ValueError(f"{split} split is empty; the classical model needs rows in it")
    if len(set(train_labels)) < 2:
        raise ValueError(
            f"the train split has {len(set(train_labels))} label(s) ({sorted(set(train_labels))});"
            " a classifier needs at least 2: use more or stratified rows"
        )
    if not c_grid or any(not (c > 0) for c in c_grid):
        raise ValueError(f"c_grid must be non-empty and every C > 0, got {list(c_grid)}")

    limits = threadpool_limits(limits=threads) if threads else contextlib.nullcontext()
    with limits:
        vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=NGRAM_RANGE,
            # On a train split of a handful of texts min_df=2 could leave no n-gram at all.
            min_df=MIN_DF if len(train_texts) >= 10 * MIN_DF else 1,
            sublinear_tf=True,
        )
        x_train = vectorizer.fit_transform(train_texts)
        x_val = vectorizer.transform(val_texts)
        fitted: dict[float, LogisticRegression] = {}
        val_scores: dict[float, Scores] = {}
        for c in c_grid:
            lr = LogisticRegression(C=float(c), solver=SOLVER, max_iter=MAX_ITER, random_state=seed)
            fitted[float(c)] = lr.fit(x_train, train_labels)
            val_scores[float(c)] = _scores(val_labels, lr.predict(x_val))
    best = max(val_scores, key=lambda c: (val_scores[c].accuracy, val_scores[c].macro_f1, -c))
    pipeline = Pipeline([("tfidf", vectorizer), ("logreg", fitted[best])])
    return ClassicalModel(pipeline=pipeline, C=best, val_scores=val_scores)


# --------------------------------------------------------------------------------------------
# Timing from raw text


@dataclass(frozen=True)
class TextTiming:
    """Interleaved timings from raw text of the classical model and the teacher."""

    timings: dict[str, TimingResult]  # keys TEACHER and CLASSICAL
    texts_per_repeat: int

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
    batches: int,
    repeats: int,
    warmup: int = 1,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    threads: int = 0,
) -> TextTiming:
    """Time the classical model and the teacher from raw text on the same chunks, interleaved.

    The first ``batches`` chunks of ``batch_size`` texts (0: all of them) are what each model
    turns into label ids per repeat. The teacher's time includes tokenising with padding and
    truncation to ``max_length``, moving the ids to ``device`` and its forward pass under
    ``torch.inference_mode()`` and the autocast of ``precision``; the classical model's includes
    vectorising. ``threads`` caps torch's CPU threads (on CPU) and the BLAS/OpenMP threads
    during timing, for both models (0: unchanged).

    ``device`` defaults to the teacher's; the teacher must already be on it. It is timed in eval
    mode and given back in the mode it came in.
    """
    device = _teacher_device(teacher, device)
    precision_autocast(device, precision)  # validates precision before any work
    if batch_size < 1 or batches < 0:
        raise ValueError(f"need batch_size >= 1 and batches >= 0, got {batch_size=}, {batches=}")
    texts = list(texts)[: batches * batch_size or None]
    if not texts:
        raise ValueError("time_from_text needs at least one text, got none")
    chunks = _chunks(texts, batch_size)
    label_ids(model.classes, label2id, where="the classical model's classes")  # fail before work

    def run_classical_model() -> None:
        for chunk in chunks:
            model.predict_ids(chunk, label2id)

    run_teacher = functools.partial(
        teacher_from_text, teacher, tokenizer, chunks, max_length=max_length, device=device
    )

    was_training = teacher.training
    try:
        teacher.eval()
        with measuring(device, precision, threads):
            timings = time_calls(
                {TEACHER: run_teacher, CLASSICAL: run_classical_model},
                repeats=repeats,
                warmup=warmup,
                device=device,
            )
    finally:
        teacher.train(was_training)
    return TextTiming(timings=timings, texts_per_repeat=len(texts))


def teacher_from_text(
    teacher: nn.Module,
    tokenizer: Callable[..., Mapping[str, torch.Tensor]],
    chunks: Sequence[Sequence[str]],
    *,
    max_length: int,
    device: torch.device,
) -> None:
    """Turn each chunk of raw texts into the teacher's label ids: tokenising (padding, truncation
    to ``max_length``), moving the ids to ``device``, the forward pass and the argmax (both models
    end at label ids, as a deployed classifier would). Inference mode, autocast and eval mode
    are the caller's."""
    for chunk in chunks:
        encoded = tokenizer(
            list(chunk), truncation=True, max_length=max_length, padding=True, return_tensors="pt"
        )
        inputs = {key: value.to(device) for key, value in encoded.items()}
        teacher(**inputs).logits.argmax(dim=-1)


# --------------------------------------------------------------------------------------------
# The trial


@dataclass(frozen=True)
class ClassicalRun:
    """What a ``classical`` trial measured, and what the trainer needs to save and meter.

    ``metrics`` has the keys of :mod:`trainables.metrics` this trial can fill (not
    ``speedup_ideal``, ``density``, energy or training energy). The id arrays are int64 in the
    teacher's ``label2id``, in split order; ``predict_test()`` predicts the whole test split
    from raw text. ``energy_passes`` are the teacher's and the classical model's passes over the
    timed test texts (``energy_predictions`` of them) from raw text, tokenising included: what
    the trainer meters, with the teacher in eval mode under inference mode and its autocast.
    """

    metrics: dict[str, float]
    model: ClassicalModel
    timing: TextTiming
    test_pred: np.ndarray
    test_gold: np.ndarray
    val_pred: np.ndarray
    val_gold: np.ndarray
    predict_test: Callable[[], np.ndarray]
    energy_passes: dict[str, Callable[[], object]]
    energy_predictions: int


def run_classical(
    splits: DataSplits,
    teacher: nn.Module,
    tokenizer: Callable[..., Mapping[str, torch.Tensor]],
    label2id: Mapping[str, int],
    *,
    max_length: int,
    eval_batch_size: int,
    timing_batches: int,
    timing_repeats: int,
    timing_threads: int,
    seed: int,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    fit_threads: int = 1,
) -> ClassicalRun:
    """Fit, choose ``C``, evaluate on validation and test, and time against the teacher.

    ``teacher`` (on ``device``, default its own) and ``tokenizer`` are the study's teacher,
    timed from raw text on the first ``timing_batches`` chunks of ``eval_batch_size`` test texts
    (0: all), ``timing_repeats`` times, with ``timing_threads`` threads (0: unchanged).
    ``precision`` is the teacher's autocast while timed, as in the other trials.
    ``train_seconds`` is the whole fit, search over ``c_grid`` included.
    """
    # Gold labels first: a label the teacher does not know fails before a minute of fitting.
    test_texts, val_texts = list(splits.test.text), list(splits.validation.text)
    test_gold = label_ids(splits.test.label, label2id, where=f"the test split ({splits.source})")
    val_gold = label_ids(
        splits.validation.label, label2id, where=f"the validation split ({splits.source})"
    )

    begin = time.perf_counter()
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

    test_pred = model.predict_ids(test_texts, label2id)
    timed_texts = test_texts[: timing_batches * eval_batch_size or None]
    val_pred = model.predict_ids(val_texts, label2id)
    test, val = _scores(test_gold, test_pred), _scores(val_gold, val_pred)
    timing = time_from_text(
        model,
        teacher,
        tokenizer,
        timed_texts,
        label2id,
        max_length=max_length,
        batch_size=eval_batch_size,
        batches=0,
        repeats=timing_repeats,
        device=device,
        precision=precision,
        threads=timing_threads,
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
        energy_passes={
            TEACHER: functools.partial(
                teacher_from_text,
                teacher,
                tokenizer,
                _chunks(timed_texts, eval_batch_size),
                max_length=max_length,
                device=_teacher_device(teacher, device),
            ),
            CLASSICAL: lambda: model.predict_ids(timed_texts, label2id),
        },
        energy_predictions=len(timed_texts),
    )


# --------------------------------------------------------------------------------------------
# Helpers


def _chunks(texts: Sequence[str], size: int) -> list[Sequence[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def _scores(gold: Sequence[object] | np.ndarray, pred: Sequence[object] | np.ndarray) -> Scores:
    # The trainer's own definitions, so the reference's numbers compare with the students'.
    return Scores(**label_metrics(np.asarray(pred), np.asarray(gold)))


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
