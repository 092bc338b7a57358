"""Vocabulary trimming: keep only the word pieces a corpus uses, in the tokenizer and the model.

Embeddings are most of a multilingual BERT: 151.9M of the paper model's 237.6M parameters
(vocabulary 197,285), which encoder pruning cannot touch. A topic classifier for one language
uses a small part of that vocabulary, so dropping the rows its training texts never produce is
the largest size lever there is.

Why predictions do not change. WordPiece splits a word greedily, taking at each step the longest
piece in the vocabulary. If every piece of a text's original split is kept, every longer
candidate was already missing from the original vocabulary (or it would have been chosen), so
the trimmed vocabulary splits the text the same way, and the model, whose kept embedding rows
are the same vectors under new ids, gives the same logits. A word that needs a dropped piece is
split differently: WordPiece falls back to shorter kept pieces, and only a word it cannot cover
at all becomes one ``[UNK]``; :func:`vocab_coverage` counts the words of unseen texts (validation)
that keep their split. A Unigram (SentencePiece) vocabulary keeps its best segmentation for the
same reason. A BPE vocabulary (RoBERTa's byte-level one) keeps, besides the pieces the texts
use, every piece a merge passes through on the way to them and every one-character piece (the
byte alphabet), and only the merges among kept pieces: every merge that splitting a covered text
applies is kept, and a dropped merge was never the lowest-ranked one applicable there, so the
covered text is merged in the same order into the same pieces (:func:`bpe_closure`).

>>> kept_ids([5, 0, 3, 0, 1], special_ids=[0], max_size=None)
[0, 2, 4]
>>> kept_ids([5, 0, 3, 0, 1], special_ids=[0], max_size=2)
[0, 2]
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trainables.compress.families import base_model, family_of
from trainables.errors import TrainablesError

SUPPORTED_MODELS = ("WordPiece", "Unigram", "BPE")


class VocabTrimError(TrainablesError, ValueError):
    """A tokenizer or model whose vocabulary cannot be trimmed as asked, and why."""


@dataclass(frozen=True)
class TrimReport:
    """What trimming did: vocabulary rows and parameters before and after, and the share of the
    trimming texts' token occurrences whose piece was kept (1.0 unless ``max_size`` cut used
    pieces; for unseen texts see :func:`vocab_coverage`)."""

    vocab_before: int
    vocab_after: int
    parameters_before: int
    parameters_after: int
    coverage: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def token_counts(tokenizer: Any, texts: Sequence[str], *, batch_size: int = 1024) -> np.ndarray:
    """How often each vocabulary id occurs when ``tokenizer`` splits ``texts`` (no special
    tokens, no truncation): an array of ``len(tokenizer)`` counts."""
    counts = np.zeros(len(tokenizer), dtype=np.int64)
    for begin in range(0, len(texts), batch_size):
        batch = list(texts[begin : begin + batch_size])
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            np.add.at(counts, np.asarray(ids, dtype=np.int64), 1)
    return counts


def kept_ids(
    counts: Sequence[int] | np.ndarray, *, special_ids: Sequence[int], max_size: int | None
) -> list[int]:
    """The ids to keep, in their original order: the special ids, then the used ids (all of
    them, or the most frequent up to ``max_size`` rows in all; ties go to the lower id)."""
    counts = np.asarray(counts)
    special = sorted(set(int(i) for i in special_ids))
    if max_size is not None and max_size < len(special):
        raise VocabTrimError(
            f"max_size {max_size} is below the {len(special)} special tokens: give at least "
            f"{len(special)}"
        )
    special_set = set(special)
    used = [int(i) for i in np.flatnonzero(counts > 0) if int(i) not in special_set]
    if max_size is not None and len(special) + len(used) > max_size:
        # most frequent first; a stable sort keeps the lower id first among equal counts
        order = sorted(used, key=lambda i: -int(counts[i]))
        used = order[: max_size - len(special)]
    return sorted(special + used)


def tokenizer_state(tokenizer: Any) -> dict[str, Any]:
    """The fast ``tokenizer``'s ``tokenizer.json``, parsed (a fresh copy, free to change)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise VocabTrimError(
            f"{type(tokenizer).__name__} is not a fast tokenizer: load it with use_fast=True "
            "(vocabulary trimming rewrites its tokenizer.json)"
        )
    return json.loads(backend.to_str())


def trim_tokenizer(
    tokenizer: Any, keep: Sequence[int], *, state: dict[str, Any] | None = None
) -> Any:
    """A copy of the fast ``tokenizer`` whose vocabulary is ``keep`` (old ids, in the new
    order): the same class, settings, normaliser and pre-tokeniser, with the special tokens'
    ids renumbered wherever the tokenizer refers to them. ``state``: its
    :func:`tokenizer_state`, when the caller has parsed it already (it is changed)."""
    from transformers import AutoTokenizer

    state = tokenizer_state(tokenizer) if state is None else state
    new_id = {old: new for new, old in enumerate(keep)}
    _trim_model(state["model"], keep, new_id)
    missing = [t["content"] for t in state.get("added_tokens", []) if t["id"] not in new_id]
    if missing:
        raise VocabTrimError(f"added tokens {missing} are not among the kept ids: keep them")
    for token in state.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    _renumber_post_processor(state.get("post_processor"), new_id)
    if state.get("padding") and "pad_id" in state["padding"]:
        state["padding"]["pad_id"] = new_id[state["padding"]["pad_id"]]
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        # The fast tokenizer reads tokenizer.json; a slow one's vocabulary file would disagree.
        for stale in ("vocab.txt", "sentencepiece.bpe.model", "spiece.model"):
            (Path(folder) / stale).unlink(missing_ok=True)
        (Path(folder) / "tokenizer.json").write_text(json.dumps(state, ensure_ascii=False))
        return AutoTokenizer.from_pretrained(folder)


def check_trimmable(tokenizer: Any) -> None:
    """Raise :class:`VocabTrimError` (one line: the kind, the kinds that work, the way out)
    unless ``tokenizer``'s vocabulary can be trimmed: checked before a trial trains, so a
    ``vocab_trim`` trial of such a model fails in seconds and the other trials run."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    kind = tokenizer_state(tokenizer)["model"].get("type") if backend is not None else None
    if kind not in SUPPORTED_MODELS:
        raise VocabTrimError(
            f"vocab_trim: the teacher's tokenizer ({type(tokenizer).__name__}, "
            f"{kind or 'not a fast tokenizer'}) cannot be trimmed without changing how texts are "
            f"split; trimming supports {', '.join(SUPPORTED_MODELS)}: run this model without "
            "vocab_trim"
        )


def _trim_model(model: dict[str, Any], keep: Sequence[int], new_id: dict[int, int]) -> None:
    kind = model.get("type")
    if kind == "WordPiece":
        token_of = {i: token for token, i in model["vocab"].items()}
        model["vocab"] = {token_of[old]: new for new, old in enumerate(keep)}
    elif kind == "BPE":
        token_of = {i: token for token, i in model["vocab"].items()}
        model["vocab"] = {token_of[old]: new for new, old in enumerate(keep)}
        kept = model["vocab"]
        model["merges"] = [
            merge
            for merge in model["merges"]
            if all(part in kept for part in (*_pair(merge), _merged(model, merge)))
        ]
    elif kind == "Unigram":
        model["vocab"] = [model["vocab"][old] for old in keep]
        if model.get("unk_id") is not None:
            if model["unk_id"] not in new_id:
                raise VocabTrimError("the unknown token is not among the kept ids: keep it")
            model["unk_id"] = new_id[model["unk_id"]]
    else:
        raise VocabTrimError(
            f"cannot trim a {kind} vocabulary without changing how texts are split (supported: "
            f"{', '.join(SUPPORTED_MODELS)})"
        )


def bpe_closure(
    tokenizer: Any, keep: Sequence[int], *, state: dict[str, Any] | None = None
) -> list[int]:
    """``keep`` plus what a BPE vocabulary needs to split the kept pieces' texts as before:
    every piece a merge builds a kept piece from (recursively) and every one-character piece.
    Other kinds of vocabulary: ``keep`` unchanged. Sorted ids. ``state``: the tokenizer's
    :func:`tokenizer_state`, when the caller has parsed it already."""
    model = (tokenizer_state(tokenizer) if state is None else state)["model"]
    if model.get("type") != "BPE":
        return sorted(keep)
    vocab = model["vocab"]
    token_of = {i: token for token, i in vocab.items()}
    sources: dict[str, list[tuple[str, str]]] = {}
    for merge in model["merges"]:
        sources.setdefault(_merged(model, merge), []).append(_pair(merge))
    kept = {token_of[i] for i in keep} | {token for token in vocab if len(token) == 1}
    stack = list(kept)
    while stack:
        for pair in sources.get(stack.pop(), ()):
            for part in pair:
                if part in vocab and part not in kept:
                    kept.add(part)
                    stack.append(part)
    return sorted(vocab[token] for token in kept)


def _pair(merge: str | Sequence[str]) -> tuple[str, str]:
    left, right = merge.split(" ") if isinstance(merge, str) else merge
    return left, right


def _merged(model: dict[str, Any], merge: str | Sequence[str]) -> str:
    """The piece a BPE merge makes (the right part loses the continuing-subword prefix)."""
    left, right = _pair(merge)
    prefix = model.get("continuing_subword_prefix") or ""
    return left + (right[len(prefix) :] if prefix and right.startswith(prefix) else right)


def _renumber_post_processor(processor: dict[str, Any] | None, new_id: dict[int, int]) -> None:
    """Special-token ids inside the post-processor (TemplateProcessing, BertProcessing,
    RobertaProcessing, or a Sequence of them)."""
    if not processor:
        return
    for inner in processor.get("processors", []):
        _renumber_post_processor(inner, new_id)
    for special in (processor.get("special_tokens") or {}).values():
        special["ids"] = [new_id[i] for i in special["ids"]]
    for key in ("sep", "cls"):
        if isinstance(processor.get(key), list):
            token, old = processor[key]
            processor[key] = [token, new_id[old]]


def trim_embeddings(model: nn.Module, keep: Sequence[int]) -> nn.Module:
    """A copy of ``model`` whose input embedding matrix has only the rows ``keep`` (row ``i``
    of the new matrix is old row ``keep[i]``); the config's vocabulary size (``vocab_size`` for
    every family so far) and ``pad_token_id`` follow.
    Refuses a model whose output layer is tied to the input embeddings (a language-model head):
    the classifier this study ships has none."""
    if model.get_output_embeddings() is not None:
        raise VocabTrimError(
            f"{type(model).__name__} has an output embedding layer (a language-model head): trim "
            "the classifier, not a masked-LM model"
        )
    family = family_of(model)
    trimmed = copy.deepcopy(model)
    old = family.word_embeddings_of(trimmed)
    index = torch.as_tensor(list(keep), dtype=torch.long, device=old.weight.device)
    new_id = {o: n for n, o in enumerate(keep)}
    pad = getattr(trimmed.config, "pad_token_id", None)
    embedding = nn.Embedding(
        len(keep),
        old.embedding_dim,
        padding_idx=new_id.get(pad) if pad is not None else None,
        device=old.weight.device,
        dtype=old.weight.dtype,
    )
    with torch.no_grad():
        embedding.weight.copy_(old.weight.index_select(0, index))
    family.replace(base_model(trimmed), family.word_embeddings, embedding)
    setattr(trimmed.config, family.config_names.vocab, len(keep))
    if pad is not None:
        if pad not in new_id:
            raise VocabTrimError(f"pad_token_id {pad} is not among the kept ids: keep it")
        positions = getattr(family.embeddings_of(trimmed), "padding_idx", None)
        if positions is not None and new_id[pad] != pad:  # RoBERTa: positions start after it
            raise VocabTrimError(
                f"pad_token_id {pad} would become {new_id[pad]}, and this model's positions "
                "count from the pad id: keep every id below it"
            )
        trimmed.config.pad_token_id = new_id[pad]
    return trimmed


def trim_vocabulary(
    model: nn.Module, tokenizer: Any, texts: Sequence[str], *, max_size: int | None = None
) -> tuple[nn.Module, Any, TrimReport]:
    """Keep the vocabulary rows ``texts`` use (the training texts: never the test set), plus the
    special and added tokens; ``max_size`` caps the rows, dropping the rarest pieces first.

    Returns the trimmed copies of ``model`` and ``tokenizer`` and a :class:`TrimReport`. Texts
    whose pieces are all kept get the same ids (renumbered) and the same logits.
    """
    rows = family_of(model).word_embeddings_of(model).num_embeddings
    if len(tokenizer) != rows:
        raise VocabTrimError(
            f"the tokenizer has {len(tokenizer)} ids but the model's embedding matrix {rows} "
            "rows: pass the model's own tokenizer"
        )
    if not len(texts):
        raise VocabTrimError("no texts to learn the vocabulary from: pass the training texts")
    counts = token_counts(tokenizer, texts)
    special = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    state = tokenizer_state(tokenizer)  # parsed once: a large vocabulary's JSON takes a while
    used = kept_ids(counts, special_ids=sorted(special), max_size=max_size)
    keep = bpe_closure(tokenizer, used, state=state)
    trimmed = trim_embeddings(model, keep)
    report = TrimReport(
        vocab_before=len(tokenizer),
        vocab_after=len(keep),
        parameters_before=_parameters(model),
        parameters_after=_parameters(trimmed),
        coverage=float(counts[keep].sum() / max(1, counts.sum())),
    )
    return trimmed, trim_tokenizer(tokenizer, keep, state=state), report


def vocab_coverage(
    tokenizer: Any, trimmed: Any, texts: Sequence[str], *, batch_size: int = 1024
) -> float:
    """The share of the words of ``texts`` that ``trimmed`` splits into the same pieces as
    ``tokenizer``, counting every occurrence of a word (a word: what the tokenizer's own
    pre-tokeniser cuts, e.g. BERT's whitespace and punctuation split). Pass texts the vocabulary
    was not chosen from (the validation split): on its own training texts a trimmed vocabulary
    covers every word by construction. NaN for texts without words.

    Both tokenizers share their normaliser and pre-tokeniser (:func:`trim_tokenizer`), so their
    words line up one to one.
    """
    same = total = 0
    for begin in range(0, len(texts), batch_size):
        batch = list(texts[begin : begin + batch_size])
        before = tokenizer(batch, add_special_tokens=False).encodings
        after = trimmed(batch, add_special_tokens=False).encodings
        for old, new in zip(before, after, strict=True):
            old_words, new_words = _word_pieces(old), _word_pieces(new)
            total += len(old_words)
            same += sum(old_words.get(w) == pieces for w, pieces in new_words.items())
    return same / total if total else float("nan")


def _word_pieces(encoding: Any) -> dict[int, tuple[str, ...]]:
    """Each word of a fast tokenizer's encoding -> its pieces (as strings, ids differ)."""
    words: dict[int, list[str]] = {}
    for word, token in zip(encoding.word_ids, encoding.tokens, strict=True):
        if word is not None:
            words.setdefault(word, []).append(token)
    return {word: tuple(pieces) for word, pieces in words.items()}


def _parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
