"""Load a fine-tuned BERT-family classifier (hub id or local folder) as a teacher, and evaluate
one on a study's test split.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:  # doctest: +ELLIPSIS
...     load_teacher(folder)
Traceback (most recent call last):
trainables.teachers.base.TeacherError: /... is not a model folder transformers can read (...)...
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainables.compress.families import family_of
from trainables.data import DataSplits, default_cache_dir, tokenize_splits
from trainables.errors import first_line
from trainables.evaluation import label_metrics, predict
from trainables.teachers.base import TeacherError


def load_teacher(model: str | Path) -> tuple[nn.Module, object]:
    """Load a fine-tuned sequence classifier and its tokenizer from a local folder or a hub id.

    Weights load through safetensors and never run remote code.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    name = str(model)
    is_local = Path(name).exists()
    try:
        config = AutoConfig.from_pretrained(name, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        if is_local:
            raise TeacherError(
                f"{name} is not a model folder transformers can read ({first_line(exc)}); it "
                "needs config.json, model.safetensors and tokenizer files"
            ) from None
        raise TeacherError(
            f"cannot load model {name!r} from the Hugging Face hub ({first_line(exc)}). "
            f"Without network, download it where there is one (`hf download {name} "
            "--local-dir DIR`) and pass --model DIR; or use --preset tiny"
        ) from None
    try:
        family_of(config, compact=True)
    except ValueError as error:
        raise TeacherError(f"{name}: {error}; pass a BERT-family classifier") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=False)
        net = AutoModelForSequenceClassification.from_pretrained(
            name, config=config, trust_remote_code=False, use_safetensors=True
        )
    except (OSError, ValueError) as exc:
        raise TeacherError(
            f"cannot load weights or tokenizer of {name!r} ({first_line(exc)}); the folder needs "
            "model.safetensors (not a pickle .bin) and tokenizer files"
        ) from None
    net.eval()
    return net, tokenizer


def evaluate_teacher(
    path: str, splits: DataSplits, max_length: int, cache_dir: str | Path | None
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Test accuracy and macro-F1 of a fine-tuned teacher, and its test predictions:
    ``test_pred`` / ``test_gold`` label ids (its ``label2id``), as a trial saves them."""
    model, tokenizer = load_teacher(path)
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    tokens = tokenize_splits(
        splits, tokenizer, model.config.label2id, max_length=max_length, cache_dir=root / "tokens"
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    logits = predict(model, tokens["test"], batch_size=64, device=device)
    pred, gold = logits.argmax(-1).numpy(), tokens["test"].labels.numpy()
    test = label_metrics(pred, gold)
    metrics = {
        "test_accuracy": test["accuracy"],
        "macro_f1": test["macro_f1"],
        "train_seconds": 0.0,
        "num_parameters": sum(p.numel() for p in model.parameters()),
    }
    return metrics, {"test_pred": pred, "test_gold": gold}
