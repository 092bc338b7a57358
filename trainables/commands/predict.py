"""Classify texts with a model folder of the study (a compact model, or a teacher): label and
probability per text.

    python -m trainables.commands.predict results/paper/3_.../model --text "..." [--text "..."]
    python -m trainables.commands.predict DIR --file news.csv [--text-column Text] [--out out.csv]

A compact folder is a transformers model of its own type (``lowres-compact-bert``), registered
when ``trainables`` is imported; this command imports it, so it reads every folder the study
writes. Weights load through safetensors; no remote code runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from trainables.errors import TrainablesError, first_line

BATCH_SIZE = 64


class PredictError(TrainablesError, ValueError):
    """Input the command cannot use, and what to do instead."""


def load_with_tokenizer(directory: str | Path, *, fp32: bool = False) -> tuple[Any, Any]:
    """The sequence classifier in ``directory`` (``load_classifier``: a compact folder or a
    teacher's, in eval mode on the CPU) and its tokenizer. ``fp32=True`` keeps the saved fp32
    weights of a folder saved for int8: what export needs."""
    from transformers import AutoTokenizer

    from trainables.compress.compaction import ModelFolderError, load_classifier

    folder = Path(directory)
    try:
        model = load_classifier(folder, fp32=fp32)
    except ModelFolderError as error:
        raise PredictError(str(error)) from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise PredictError(
            f"{folder} has no tokenizer transformers can read ({first_line(error)}): save the "
            "teacher's tokenizer into it (tokenizer.save_pretrained)"
        ) from None
    return model, tokenizer


@torch.inference_mode()
def predict(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    max_length: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> pd.DataFrame:
    """One row per text: ``label`` (the model's name for it), ``label_id`` and ``probability``
    (softmax of the logits). ``max_length`` defaults to the tokenizer's ``model_max_length``
    (a trial saves the length it was trained and measured at), at most the model's position
    limit."""
    positions = int(getattr(model.config, "max_position_embeddings", 512))
    limit = max_length or min(int(getattr(tokenizer, "model_max_length", positions)), positions)
    id2label = getattr(model.config, "id2label", None) or {}
    rows = []
    for begin in range(0, len(texts), batch_size):
        batch = tokenizer(
            list(texts[begin : begin + batch_size]),
            padding=True,
            truncation=True,
            max_length=limit,
            return_tensors="pt",
        )
        inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        probabilities = model(**inputs).logits.float().softmax(dim=-1)
        best, ids = probabilities.max(dim=-1)
        for label_id, probability in zip(ids.tolist(), best.tolist(), strict=True):
            name = id2label.get(label_id, id2label.get(str(label_id), str(label_id)))
            rows.append({"label": name, "label_id": label_id, "probability": probability})
    return pd.DataFrame(rows, columns=["label", "label_id", "probability"])


def read_texts(path: str | Path, text_column: str | None) -> list[str]:
    """The texts of a CSV/TSV file: its ``text_column``, or the one column named like a text."""
    from trainables.data.cleaning import find_column
    from trainables.data.sources import DataError, read_table

    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{path} does not exist: pass a CSV or TSV file with a text column")
    try:
        frame = read_table(path)
        text_column = find_column(frame, str(path), text_column)
    except DataError as error:
        raise PredictError(str(error)) from None
    texts = frame[text_column].fillna("").astype(str).tolist()
    if not texts:
        raise PredictError(f"{path} has no rows to classify")
    return texts


def utf8_texts(texts: list[str]) -> list[str]:
    r"""``texts`` from the command line, refused if one is not UTF-8 (the shell passed bytes that
    Python could only keep as surrogate escapes, which no tokenizer takes).

    >>> utf8_texts(["नमस्कार"])
    ['नमस्कार']
    >>> utf8_texts(["ok", "caf\udce9"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    trainables.commands.predict.PredictError: --text number 2 is not UTF-8 text ...
    """
    for number, text in enumerate(texts, 1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise PredictError(
                f"--text number {number} is not UTF-8 text (undecodable byte at position "
                f"{error.start}): set the terminal to UTF-8, or put the texts in a "
                "UTF-8 file and pass --file"
            ) from None
    return texts


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m trainables.commands.predict",
        description="Label and probability for each text, from a model folder of the study.",
    )
    p.add_argument("model", help="a model folder (a trial's model/, or a teacher folder)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", action="append", help="a text to classify (repeatable)")
    source.add_argument("--file", help="a CSV/TSV file whose text column is classified")
    p.add_argument("--text-column", help="the file's text column (default: found by name)")
    p.add_argument(
        "--max-length",
        type=int,
        help="tokens per text (default: the length the trial used, else the model's limit)",
    )
    p.add_argument("--out", help="write the predictions here as CSV instead of printing them")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        texts = utf8_texts(args.text) if args.text else read_texts(args.file, args.text_column)
        model, tokenizer = load_with_tokenizer(args.model)
    except PredictError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    table = predict(model, tokenizer, texts, max_length=args.max_length)
    if args.out:
        table.insert(0, "text", texts)
        table.to_csv(args.out, index=False)
        print(args.out)
        return 0
    for text, row in zip(texts, table.itertuples(index=False), strict=True):
        shown = text if len(text) <= 60 else text[:57] + "..."
        print(f"{row.label}\t{row.probability:.4f}\t{shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
