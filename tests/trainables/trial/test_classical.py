"""The classical trial kind on real SHC headlines, and the interleaving of ``time_calls``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from trainables import metrics as M
from trainables.data import DataError, DataSpec, DataSplits, load_splits
from trainables.measure import TOKENISE, TimingBudget, time_calls
from trainables.tfidf import ClassicalModel, fit_classical, tfidf_pipeline
from trainables.trial.classical import CLASSICAL, TEACHER, run_classical

ROWS = 300  # per split: enough for a real signal, small enough for seconds of fitting
SEED = 0
# Far apart, so the validation scores differ and choosing among them is a real choice.
GRID = (0.25, 4.0, 64.0)


@pytest.fixture(scope="module")
def splits(mahanews_dir: Path) -> DataSplits:
    return load_splits(DataSpec(data_dir=str(mahanews_dir), variant="shc", max_rows=ROWS))


@pytest.fixture(scope="module")
def label2id(splits: DataSplits) -> dict[str, int]:
    # Reversed numbering: ids that coincide with the model's class order would hide a mix-up.
    return {label: i for i, label in enumerate(reversed(splits.labels))}


@pytest.fixture(scope="module")
def fitted(splits: DataSplits) -> tuple[ClassicalModel, float]:
    begin = time.perf_counter()
    model = fit_classical(
        splits.train.text,
        splits.train.label,
        splits.validation.text,
        splits.validation.label,
        seed=SEED,
        c_grid=GRID,
    )
    return model, time.perf_counter() - begin


def test_test_accuracy_is_far_above_the_majority_class(fitted, splits, label2id):
    model, seconds = fitted
    gold = np.array([label2id[label] for label in splits.test.label])
    accuracy = float((model.predict_ids(list(splits.test.text), label2id) == gold).mean())
    majority = float(splits.test.label.value_counts(normalize=True).max())
    print(
        f"test accuracy {accuracy:.3f} (majority {majority:.3f}), C={model.C}, fit {seconds:.1f}s"
    )
    assert accuracy > max(0.45, 3 * majority)


def test_the_chosen_C_is_the_best_on_validation_and_was_fitted_on_train_only(fitted, splits):
    model, _ = fitted
    assert list(model.val_scores) == list(GRID)
    accuracies = [s.accuracy for s in model.val_scores.values()]
    assert len(set(accuracies)) > 1, "the grid does not discriminate; this test proves nothing"
    best = max(accuracies)
    tied = [c for c, s in model.val_scores.items() if s.accuracy == best]
    assert model.C in tied
    assert model.val_scores[model.C].macro_f1 == max(model.val_scores[c].macro_f1 for c in tied)
    # The stored score is the kept pipeline's own score on validation.
    val_pred = model.pipeline.predict(list(splits.validation.text))
    assert (val_pred == splits.validation.label.to_numpy()).mean() == pytest.approx(best)

    # A pipeline fitted from scratch on train alone with the chosen C predicts the same: no
    # validation text reached the vocabulary and no validation label reached the weights.
    fresh = Pipeline(
        [
            ("tfidf", replace_params(model.pipeline[0])),
            ("logreg", replace_params(model.pipeline[-1])),
        ]
    ).fit(list(splits.train.text), list(splits.train.label))
    test_texts = list(splits.test.text)
    assert (fresh.predict(test_texts) == model.pipeline.predict(test_texts)).all()
    assert model.pipeline[-1].C == model.C


def replace_params(estimator: Any) -> Any:
    """An unfitted copy of ``estimator`` with the same parameters."""
    assert isinstance(estimator, TfidfVectorizer | LogisticRegression)
    return type(estimator)(**estimator.get_params())


def test_predictions_are_ids_of_the_teachers_label2id(fitted, splits, label2id):
    model, _ = fitted
    texts = list(splits.test.text)
    ids = model.predict_ids(texts, label2id)
    assert ids.dtype == np.int64 and ids.shape == (len(texts),)
    assert set(ids.tolist()) <= set(label2id.values())
    assert ids.tolist() == [label2id[name] for name in model.pipeline.predict(texts)]
    assert model.predict_ids([], label2id).shape == (0,)
    # Matched ignoring case, as encode_labels matches the tokenised splits.
    upper = {name.upper(): i for name, i in label2id.items()}
    assert model.predict_ids(texts[:20], upper).tolist() == ids[:20].tolist()
    lr = model.pipeline[-1]
    assert model.num_parameters == lr.coef_.shape[0] * (lr.coef_.shape[1] + 1)


def test_a_label_the_teacher_lacks_is_refused_with_the_fix(fitted, splits, label2id):
    model, _ = fitted
    missing = model.classes[0]
    partial = {name: i for name, i in label2id.items() if name != missing}
    with pytest.raises(
        DataError,
        match=rf"label '{missing}' in the classical model's classes is "
        r"not in the teacher's label2id .*use data with the teacher's labels",
    ):
        model.predict_ids(list(splits.test.text[:5]), partial)

    # A gold label the teacher lacks fails up front, before any fitting or timing.
    strange = replace(splits, test=splits.test.assign(label=["Horoscope"] * len(splits.test)))
    with pytest.raises(DataError, match=r"label 'Horoscope' in the test split"):
        run_classical(
            strange,
            teacher=None,  # type: ignore[arg-type]  # never reached
            tokenizer=None,  # type: ignore[arg-type]
            label2id=label2id,
            max_length=16,
            eval_batch_size=8,
            budget=TimingBudget(repeats=1, max_batches=1),
            timing_threads=1,
            seed=SEED,
        )


def test_time_calls_interleaves_and_rotates_the_first_call():
    log: list[str] = []
    calls = {name: (lambda name=name: log.append(name)) for name in "ABC"}
    results = time_calls(calls, repeats=4, warmup=1)
    assert log == list("ABC" + "ABC" + "BCA" + "CAB" + "ABC")
    assert {name: len(result.seconds) for name, result in results.items()} == dict.fromkeys(
        "ABC", 4
    )
    assert all(t >= 0 for result in results.values() for t in result.seconds)

    log.clear()
    time_calls(calls, repeats=2, warmup=0, device="cpu")
    assert log == list("ABC" + "BCA")
    with pytest.raises(ValueError, match="at least one call"):
        time_calls({}, repeats=1)
    with pytest.raises(ValueError, match="repeats >= 1"):
        time_calls(calls, repeats=0)


class _RecordingTokenizer:
    """A real tokenizer that remembers the chunks it was asked to encode."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.chunks: list[list[str]] = []

    def __call__(self, texts: list[str], **kwargs: Any) -> Mapping[str, torch.Tensor]:
        self.chunks.append(list(texts))
        return self.tokenizer(texts, **kwargs)


def test_run_classical_measures_against_the_teacher_from_raw_text(splits, label2id):
    from transformers import BertConfig, BertForSequenceClassification

    from trainables.teachers.tiny_family import train_wordpiece

    wordpiece = train_wordpiece(list(splits.train.text), vocab_size=400)
    torch.manual_seed(SEED)
    teacher = BertForSequenceClassification(
        BertConfig(
            vocab_size=len(wordpiece),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            num_labels=len(label2id),
            label2id=label2id,
            id2label={i: name for name, i in label2id.items()},
        )
    )
    teacher.train()  # to check it is given back in the mode it came in
    tokenizer = _RecordingTokenizer(wordpiece)
    batch_size, batches, repeats = 16, 3, 3
    run = run_classical(
        splits,
        teacher,
        tokenizer,
        label2id,
        max_length=32,
        eval_batch_size=batch_size,
        budget=TimingBudget(repeats=repeats, max_batches=batches),
        timing_threads=1,
        seed=SEED,
        c_grid=(4.0, 64.0),
    )
    metrics = run.metrics
    assert set(metrics) == {
        M.ACCURACY,
        M.MACRO_F1,
        M.VAL_ACCURACY,
        M.VAL_MACRO_F1,
        M.SPEEDUP,
        M.INFERENCE_SECONDS,
        M.TEACHER_INFERENCE_SECONDS,
        M.NUM_PARAMETERS,
        M.TEACHER_NUM_PARAMETERS,
        M.PARAM_REDUCTION,
        M.MODEL_MB,
        M.TRAIN_SECONDS,
    }
    print({key: round(float(value), 4) for key, value in metrics.items()})

    # Quality: from the saved ids, and the same numbers the C search saw on validation.
    texts = list(splits.test.text)
    assert run.test_gold.tolist() == [label2id[name] for name in splits.test.label]
    assert metrics[M.ACCURACY] == pytest.approx((run.test_pred == run.test_gold).mean())
    assert metrics[M.VAL_ACCURACY] == pytest.approx(run.model.val_scores[run.model.C].accuracy)
    assert metrics[M.VAL_MACRO_F1] == pytest.approx(run.model.val_scores[run.model.C].macro_f1)
    assert run.val_pred.shape == run.val_gold.shape == (len(splits.validation),)
    assert (run.predict_test() == run.test_pred).all() and run.test_pred.shape == (len(texts),)

    # Speed: the teacher tokenised exactly the timed chunks, once per warm-up and repeat.
    chunks = [texts[i : i + batch_size] for i in range(0, batches * batch_size, batch_size)]
    assert tokenizer.chunks == chunks * (1 + repeats)
    timings = run.timing.timings
    assert {name: len(result.seconds) for name, result in timings.items()} == {
        TEACHER: repeats,
        CLASSICAL: repeats,
    }
    assert metrics[M.SPEEDUP] == pytest.approx(timings[TEACHER].median / timings[CLASSICAL].median)
    assert metrics[M.INFERENCE_SECONDS] == timings[CLASSICAL].median > 0
    # the teacher in the encoder trials' harness: its tokenising timed inside each timed call
    assert len(timings[TEACHER].parts[TOKENISE]) == repeats and not timings[CLASSICAL].parts
    assert 0 < timings[TEACHER].share(TOKENISE) < 1
    assert teacher.training

    # Size: the logistic regression's weights against every teacher parameter.
    teacher_parameters = sum(p.numel() for p in teacher.parameters())
    assert metrics[M.NUM_PARAMETERS] == run.model.num_parameters
    assert metrics[M.TEACHER_NUM_PARAMETERS] == teacher_parameters
    assert metrics[M.PARAM_REDUCTION] == pytest.approx(
        1 - run.model.num_parameters / teacher_parameters
    )
    assert metrics[M.MODEL_MB] == pytest.approx(run.model.megabytes) and metrics[M.MODEL_MB] > 0
    assert metrics[M.TRAIN_SECONDS] > 0


def test_one_pipeline_builder_takes_each_users_settings():
    tiny_teachers = tfidf_pipeline(C=10.0, max_iter=1000)
    assert [name for name, _ in tiny_teachers.steps] == ["tfidf", "logreg"]
    logreg = tiny_teachers.named_steps["logreg"]
    assert (logreg.C, logreg.solver, logreg.max_iter) == (10.0, "lbfgs", 1000)
    vectorizer = tiny_teachers.named_steps["tfidf"]
    assert (vectorizer.analyzer, vectorizer.ngram_range, vectorizer.min_df) == (
        "char_wb",
        (2, 5),
        2,
    )
    shared = TfidfVectorizer()
    assert tfidf_pipeline(C=1.0, solver="newton-cg", vectorizer=shared)[0] is shared
