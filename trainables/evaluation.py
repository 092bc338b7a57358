"""Accuracy and macro-F1 of a sequence classifier on a tokenized split."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn

from trainables.atomic import atomic_write
from trainables.data import TokenizedSplit

# Batch keys that are bookkeeping, not model inputs: the loss is not part of inference time and
# ``idx`` (the example's position in its split) only serves the teacher-logits cache.
_NON_INPUT_KEYS = frozenset({"labels", "idx"})


def model_inputs(
    batch: Mapping[str, Any],
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """The batch without its ``labels`` and ``idx`` entries, ready for ``model(**inputs)``: its
    tensors moved to ``device`` and cast to ``dtype`` when given (the splits store their ids
    narrow: int32 ids, int8 masks).

    >>> batch = {"input_ids": torch.ones(1, 3, dtype=torch.int32), "labels": torch.zeros(1)}
    >>> model_inputs(batch, "cpu", torch.long)["input_ids"].dtype, sorted(model_inputs(batch))
    (torch.int64, ['input_ids'])
    """
    if device is None and dtype is None:
        return {key: value for key, value in batch.items() if key not in _NON_INPUT_KEYS}
    return {
        key: value.to(device, dtype) if isinstance(value, torch.Tensor) else value
        for key, value in batch.items()
        if key not in _NON_INPUT_KEYS
    }


@torch.inference_mode()
def predict(
    model: nn.Module, split: TokenizedSplit, *, batch_size: int, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Logits for every example of ``split``, in order (float32, on the CPU)."""
    was_training = model.training
    model.eval()
    out = []
    for batch in split.batches(batch_size):
        logits = model(**model_inputs(batch, device, torch.long)).logits
        out.append(logits.float().cpu())
    model.train(was_training)
    return torch.cat(out)


def label_metrics(pred: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    """``accuracy`` and ``macro_f1`` of predicted labels (over the labels present in ``gold`` or
    predicted); any model's predictions, BERT or not, are scored by this one definition."""
    pred, gold = np.asarray(pred), np.asarray(gold)
    return {
        "accuracy": float((pred == gold).mean()),
        "macro_f1": float(f1_score(gold, pred, average="macro", zero_division=0)),
    }


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """:func:`label_metrics` of the logits' argmax."""
    return label_metrics(logits.argmax(dim=-1).numpy(), labels.numpy())


def evaluate(
    model: nn.Module, split: TokenizedSplit, *, batch_size: int, device: torch.device | str = "cpu"
) -> dict[str, float]:
    """Accuracy and macro-F1 of ``model`` on ``split``."""
    return classification_metrics(
        predict(model, split, batch_size=batch_size, device=device), split.labels
    )


def save_predictions(predictions: Mapping[str, np.ndarray], path: str | Path) -> Path:
    """Per-example label ids (``test_pred``, ``test_gold``, ...) and ``test_group`` (one id per
    distinct test text, :func:`trainables.data.text_groups`) as int64 arrays in one ``.npz``,
    written atomically: a trial's ``predictions.npz`` and the teacher CLI's ``--predictions``
    (``analysis.statistics`` pairs models on them and resamples distinct texts)."""
    path = Path(path)
    with atomic_write(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **{k: np.asarray(v, dtype=np.int64) for k, v in predictions.items()})
    return path
