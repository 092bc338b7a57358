"""TF-IDF character n-grams + logistic regression: the study's classical reference model.

One builder (:func:`tfidf_pipeline`) makes the pipeline for every user (the ``classical``
trial's :func:`fit_classical`, the tiny teacher's n-gram distillation) with their own ``C``,
solver and iteration cap; :func:`fit_classical` fits it on train and chooses ``C`` on validation.

>>> model = fit_classical(["ab ab", "ab ba", "cd cd", "cd dc"], ["x", "x", "y", "y"],
...                       ["ab", "cd"], ["x", "y"], seed=0, c_grid=(1.0,))
>>> model.predict_ids(["ab ab", "dc cd"], {"x": 0, "y": 1}).tolist()
[0, 1]
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from trainables.data import DataError
from trainables.evaluation import label_metrics

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


def tfidf_vectorizer(*, min_df: int = MIN_DF) -> TfidfVectorizer:
    """Sublinear TF-IDF over character n-grams (:data:`NGRAM_RANGE`) inside word boundaries."""
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=NGRAM_RANGE, min_df=min_df, sublinear_tf=True
    )


def tfidf_pipeline(
    *,
    C: float,
    solver: str = "lbfgs",
    max_iter: int = 100,
    random_state: int | None = None,
    min_df: int = MIN_DF,
    vectorizer: TfidfVectorizer | None = None,
) -> Pipeline:
    """The unfitted pipeline ``tfidf`` (:func:`tfidf_vectorizer`, or ``vectorizer``) ->
    ``logreg`` (``LogisticRegression(C, solver, max_iter, random_state)``).

    >>> tfidf_pipeline(C=10.0, max_iter=1000).named_steps["logreg"].C
    10.0
    """
    classifier = LogisticRegression(
        C=float(C), solver=solver, max_iter=max_iter, random_state=random_state
    )
    vectorizer = tfidf_vectorizer(min_df=min_df) if vectorizer is None else vectorizer
    return Pipeline([("tfidf", vectorizer), ("logreg", classifier)])


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
        # On a train split of a handful of texts min_df=2 could leave no n-gram at all.
        vectorizer = tfidf_vectorizer(min_df=MIN_DF if len(train_texts) >= 10 * MIN_DF else 1)
        x_train = vectorizer.fit_transform(train_texts)
        x_val = vectorizer.transform(val_texts)
        fitted: dict[float, Pipeline] = {}
        val_scores: dict[float, Scores] = {}
        for c in c_grid:
            pipeline = tfidf_pipeline(
                C=c, solver=SOLVER, max_iter=MAX_ITER, random_state=seed, vectorizer=vectorizer
            )
            lr = pipeline[-1].fit(x_train, train_labels)
            fitted[float(c)] = pipeline
            val_scores[float(c)] = scores(val_labels, lr.predict(x_val))
    best = max(val_scores, key=lambda c: (val_scores[c].accuracy, val_scores[c].macro_f1, -c))
    return ClassicalModel(pipeline=fitted[best], C=best, val_scores=val_scores)


def scores(gold: Sequence[object] | np.ndarray, pred: Sequence[object] | np.ndarray) -> Scores:
    """Accuracy and macro-F1 by the trainer's own definitions (:func:`label_metrics`), so the
    reference's numbers compare with the students'.

    >>> scores(["a", "b", "b"], ["a", "b", "a"]).accuracy
    0.6666666666666666
    """
    return Scores(**label_metrics(np.asarray(pred), np.asarray(gold)))
