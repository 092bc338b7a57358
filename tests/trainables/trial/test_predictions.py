"""What a trial's predictions.npz holds: label ids and the test split's text groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis import read_predictions
from trainables.evaluation import save_predictions
from trainables.trial.result import label_predictions


def test_predictions_file_holds_one_text_group_per_test_row(tmp_path: Path) -> None:
    texts = ["एक बातमी", "दुसरी", "एक  बातमी", "तिसरी", " दुसरी\n"]
    pred, gold = np.array([1, 0, 1, 2, 0]), np.array([1, 1, 1, 2, 0])
    saved = label_predictions(pred, gold, pred[:2], gold[:2], test_texts=texts)
    path = save_predictions(saved, tmp_path / "predictions.npz")
    read = read_predictions(path)
    # copies that differ only in whitespace share a group; ids in order of first appearance
    assert read.group is not None and read.group.dtype == np.int64
    assert read.group.tolist() == [0, 1, 0, 2, 1]
    assert (read.unit, read.texts) == ("distinct texts", 3)
    assert read.pred.tolist() == pred.tolist() and read.gold.tolist() == gold.tolist()


def test_texts_of_another_split_are_refused() -> None:
    labels = np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match="2 test texts for 3 test labels"):
        label_predictions(labels, labels, labels, labels, test_texts=["a", "b"])
