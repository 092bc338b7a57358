"""Prediction files: a trial's ``predictions.npz`` or the teacher command's ``--predictions``.

Each holds int64 arrays: ``test_pred`` and ``test_gold`` (label ids, one per test row), the
same for validation, and ``test_group`` (one id per row, equal for copies of one whitespace-
collapsed text: :func:`trainables.data.text_groups`), the unit the paired statistics resample
and count. Files written before ``test_group`` existed still read: each row is then its own
text, and the statistics say their unit is rows.

>>> import tempfile, numpy as np
>>> path = tempfile.mkdtemp() + "/p.npz"
>>> np.savez(path, test_pred=np.array([1, 0, 1]), test_gold=np.array([1, 1, 1]),
...          test_group=np.array([0, 1, 0]))
>>> read_predictions(path).texts, read_predictions(path).unit
(2, 'distinct texts')
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from trainables.metrics import majority_share

TEXTS = "distinct texts"
ROWS = "rows"


class TestPredictions(NamedTuple):
    """One file's test split: predicted and gold label ids, and the text group of each row
    (None for a file without ``test_group``)."""

    pred: np.ndarray
    gold: np.ndarray
    group: np.ndarray | None

    @property
    def unit(self) -> str:
        """What the statistics resample and count: ``"distinct texts"`` or ``"rows"``."""
        return ROWS if self.group is None else TEXTS

    @property
    def texts(self) -> int:
        """Distinct test texts (rows, for a file without groups)."""
        return self.gold.size if self.group is None else int(np.unique(self.group).size)


def _arrays(path: str | Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: np.asarray(data[name]) for name in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"cannot read {path} as an .npz file: {error}") from None


def read_predictions(path: str | Path) -> TestPredictions:
    """:class:`TestPredictions` of a prediction file; ``ValueError`` naming the file and what
    is wrong with it otherwise."""
    arrays = _arrays(path)
    missing = [name for name in ("test_pred", "test_gold") if name not in arrays]
    if missing:
        raise ValueError(
            f"{path} has no {' or '.join(missing)} array (it has {sorted(arrays)}); "
            "expected test_pred and test_gold"
        )
    pred, gold = arrays["test_pred"], arrays["test_gold"]
    if pred.ndim != 1 or pred.shape != gold.shape:
        raise ValueError(
            f"{path}: test_pred has shape {pred.shape} and test_gold {gold.shape}; "
            "expected two 1-D arrays of the same length"
        )
    group = arrays.get("test_group")
    integers = group is not None and np.issubdtype(group.dtype, np.integer)
    if group is not None and (group.shape != gold.shape or not integers):
        raise ValueError(
            f"{path}: test_group has shape {group.shape} of {group.dtype} for {gold.size} test "
            "rows; expected one integer id per row (re-save the predictions)"
        )
    return TestPredictions(pred, gold, group)


def read_test_predictions(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(test_pred, test_gold)`` label ids from a prediction file (:func:`read_predictions`
    without the groups)."""
    pred, gold, _ = read_predictions(path)
    return pred, gold


def val_majority(path: str | Path) -> float:
    """The validation's majority share (:func:`trainables.metrics.majority_share` of
    ``val_gold``) from a prediction file; NaN where the file or its ``val_gold`` is missing or
    unreadable (results written before trials reported it fill it in from here)."""
    try:
        gold = _arrays(path).get("val_gold")
    except ValueError:
        return float("nan")
    return float("nan") if gold is None or gold.size == 0 else majority_share(gold)
