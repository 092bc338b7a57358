"""Labels and token ids: what a model trains on, cached on disk by content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from trainables.atomic import atomic_write
from trainables.data.sources import SPLITS, DataError
from trainables.data.splits import DataSplits


def encode_labels(splits: DataSplits, label2id: Mapping[str, int]) -> dict[str, torch.Tensor]:
    """Map label names onto the model's ids; a label the model does not know is an error."""
    known = {str(k): int(v) for k, v in label2id.items()}
    lowered = {k.lower(): v for k, v in known.items()}
    out = {}
    for split in SPLITS:
        ids = []
        for label in splits[split].label:
            idx = known.get(label, lowered.get(label.lower()))
            if idx is None:
                raise DataError(
                    f"label {label!r} in the {split} split ({splits.source}) is not one the model "
                    f"knows ({', '.join(sorted(known))}); fix the data or use a model trained on "
                    "these labels"
                )
            ids.append(idx)
        out[split] = torch.tensor(ids, dtype=torch.long)
    return out


@dataclass
class TokenizedSplit:
    """Padded token ids of one split plus labels; :meth:`batches` trims padding per batch."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        mask = self.attention_mask[index]
        width = max(1, int(mask.sum(dim=1).max()))
        return {
            "input_ids": self.input_ids[index, :width],
            "attention_mask": mask[:, :width],
            "labels": self.labels[index],
            "idx": index,
        }

    def batches(
        self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> list[dict[str, torch.Tensor]]:
        order = (
            torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        )
        return [self.batch(order[i : i + batch_size]) for i in range(0, len(self), batch_size)]


def tokenize_splits(
    splits: DataSplits,
    tokenizer,
    label2id: Mapping[str, int],
    *,
    max_length: int,
    cache_dir: str | Path | None = None,
) -> dict[str, TokenizedSplit]:
    """Tokenize every split with the model's fast tokenizer, batched; cached on disk by content.

    The cache key covers the data fingerprint, the tokenizer's vocabulary and ``max_length``, so
    trials of a study read the tensors instead of re-tokenizing.
    """
    labels = encode_labels(splits, label2id)
    key = _tokenizer_key(tokenizer, splits.fingerprint(), max_length)
    path = Path(cache_dir) / f"tokens-{key}.safetensors" if cache_dir else None
    if path is not None and path.exists():
        tensors = load_file(str(path))
        return {
            s: TokenizedSplit(tensors[f"{s}.input_ids"], tensors[f"{s}.attention_mask"], labels[s])
            for s in SPLITS
        }
    out = {}
    for split in SPLITS:
        enc = tokenizer(
            list(splits[split].text),
            max_length=max_length,
            truncation=True,
            padding="max_length",
            return_tensors="pt",
        )
        out[split] = TokenizedSplit(
            enc["input_ids"].to(torch.int32), enc["attention_mask"].to(torch.int8), labels[split]
        )
    if path is not None:
        tensors = {}
        for s, t in out.items():
            tensors[f"{s}.input_ids"] = t.input_ids.contiguous()
            tensors[f"{s}.attention_mask"] = t.attention_mask.contiguous()
        with atomic_write(path) as tmp:
            save_file(tensors, str(tmp))
    return out


def _tokenizer_key(tokenizer, fingerprint: str, max_length: int) -> str:
    h = hashlib.sha256()
    h.update(fingerprint.encode())
    h.update(str(max_length).encode())
    h.update(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode())
    else:
        h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    return h.hexdigest()[:16]
