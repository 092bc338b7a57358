"""The tiny teacher in any encoder family: the family's tokenizer kind trained on the training
texts, and the family's config and classes at the tiny preset's shape.

==============  ==================================  =========================================
family          tokenizer (trained here)            model
==============  ==================================  =========================================
bert            WordPiece, cased (BertTokenizer)    BERT
electra         WordPiece, cased (BertTokenizer)    ELECTRA, embedding size = hidden / 2
distilbert      WordPiece, cased (DistilBert...)    DistilBERT
roberta         byte-level BPE (RobertaTokenizer)   RoBERTa (positions offset by the pad id)
xlm-roberta     SentencePiece Unigram (XLM-R's)     XLM-RoBERTa
==============  ==================================  =========================================

So a whole study runs on a laptop in the family a researcher will bring at full size, and every
lever (pruning, compaction, int8, vocabulary trimming per tokenizer kind, ONNX) is exercised on
it.

>>> tokenizer = train_tokenizer("xlm-roberta", ["नमस्कार जग", "जग सुंदर आहे"] * 20, 40)
>>> type(tokenizer).__name__, tokenizer.pad_token_id, tokenizer.unk_token_id
('XLMRobertaTokenizer', 1, 3)
>>> train_tokenizer("albert", ["a"], 10)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: no tiny teacher recipe for family 'albert'; use one of bert, distilbert, ...
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import transformers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from trainables.compress.families import FAMILIES
from trainables.presets import TINY_FAMILIES, TinyTeacherConfig

# The family of the tiny teacher when none is named (and the one whose caches predate families).
DEFAULT_FAMILY = "bert"
# <s> <pad> </s> <unk> <mask>: the ids RoBERTa and XLM-R tokenizers give their special tokens.
_ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
_WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(texts: list[str], vocab_size: int) -> transformers.BertTokenizerFast:
    """A cased WordPiece tokenizer for Devanagari (no lower-casing, no accent stripping).

    Accent stripping would delete the vowel signs (matras): Devanagari needs both off.

    >>> tokenizer = train_wordpiece(["नमस्कार जग", "जग सुंदर आहे"] * 20, vocab_size=60)
    >>> tokenizer.tokenize("सुंदर जग")  # the matras kept: no accent stripping
    ['सुंदर', 'जग']
    """
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=_WORDPIECE_SPECIALS + _continuing_pieces(tok, texts),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    vocab = tok.get_vocab()
    return transformers.BertTokenizerFast(vocab=vocab, do_lower_case=False, strip_accents=False)


def _continuing_pieces(tok: Tokenizer, texts: list[str]) -> list[str]:
    """Every ``##c`` piece the WordPiece trainer would create, sorted: handed to it up front.

    The trainer (tokenizers' BPE trainer) numbers the ``##c`` pieces in the order it meets them
    while iterating a hash map of the words, whose seed is random per process; it breaks ties
    between equally frequent merges by those numbers, so the vocabulary differed by a few
    pieces from run to run. Given as special tokens, in sorted order, they get fixed numbers:
    the same pieces, the same vocabulary size, and the same vocabulary every run.
    """
    pieces: set[str] = set()
    for text in texts:
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text)):
            pieces.update(word[1:])
    return [f"##{c}" for c in sorted(pieces)]


def _distilbert_wordpiece(texts: list[str], vocab_size: int) -> Any:
    vocab = train_wordpiece(texts, vocab_size).get_vocab()
    return transformers.DistilBertTokenizerFast(
        vocab=vocab, do_lower_case=False, strip_accents=False
    )


def train_unigram(texts: list[str], vocab_size: int) -> transformers.XLMRobertaTokenizerFast:
    """A SentencePiece Unigram tokenizer in XLM-R's form (metaspace pieces with their scores)."""
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁")]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=_ROBERTA_SPECIALS,
        unk_token="<unk>",
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    pieces = [(piece, float(score)) for piece, score in json.loads(tok.to_str())["model"]["vocab"]]
    specials = len(_ROBERTA_SPECIALS)
    return transformers.XLMRobertaTokenizerFast(
        vocab=pieces[:specials] + canonical_unigram_pieces(pieces[specials:])
    )


# Unigram scores closer than this are one score (summation-order noise is ~1e-11).
_SCORE_TOLERANCE = 1e-8
# The trainer's score step between the required characters it appends (see below).
_REQUIRED_CHAR_STEP = 1e-4


def canonical_unigram_pieces(pieces: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The trained Unigram pieces in an order and with scores that do not depend on the process.

    tokenizers' Unigram trainer keeps its sentences in a hash map seeded per process, so (1) its
    floating-point sums, hence scores, differ in the last digits run to run, and the sort by
    score orders (near-)tied pieces differently; (2) the characters it must keep but had pruned
    get the scores ``min + k * 1e-4`` with ``k`` in hash order. Here (2) goes by code point
    (the higher scores to the lower code points), and pieces whose scores are within 1e-8 share
    one score (the highest of them) and sort by their text. The same pieces are kept.

    >>> canonical_unigram_pieces([("b", -2.0), ("ab", -1.0 - 1e-12), ("a", -2.0001),
    ...                           ("aa", -1.0)])
    [('aa', -1.0), ('ab', -1.0), ('a', -2.0), ('b', -2.0001)]
    """
    if not pieces:
        return []
    low = min(score for _, score in pieces)
    chars = []
    for k in range(len(pieces)):
        level = [
            p
            for p, s in pieces
            if len(p) == 1 and abs(s - low - k * _REQUIRED_CHAR_STEP) < _SCORE_TOLERANCE
        ]
        if not level:
            break
        chars += level
    rescored = dict(pieces)
    rescored.update(
        (piece, low + k * _REQUIRED_CHAR_STEP)
        for k, piece in enumerate(sorted(chars, reverse=True))
    )
    by_score = sorted(rescored.items(), key=lambda item: -item[1])
    out: list[tuple[str, float]] = []
    start = 0
    for i in range(1, len(by_score) + 1):
        if i == len(by_score) or by_score[i - 1][1] - by_score[i][1] > _SCORE_TOLERANCE:
            score = by_score[start][1]
            out += [(piece, score) for piece, _ in sorted(by_score[start:i])]
            start = i
    return out


def train_byte_bpe(texts: list[str], vocab_size: int) -> transformers.RobertaTokenizerFast:
    """A byte-level BPE tokenizer in RoBERTa's form (every byte a base piece, then merges)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_ROBERTA_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        min_frequency=2,
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return transformers.RobertaTokenizerFast(vocab=model["vocab"], merges=merges)


_TOKENIZERS: dict[str, Callable[[list[str], int], Any]] = {
    "bert": train_wordpiece,
    "electra": train_wordpiece,
    "distilbert": _distilbert_wordpiece,
    "roberta": train_byte_bpe,
    "xlm-roberta": train_unigram,
}


assert tuple(sorted(_TOKENIZERS)) == TINY_FAMILIES, "presets.TINY_FAMILIES is out of date"


def check_family(family: str) -> None:
    """Raise ValueError unless there is a tiny teacher recipe for ``family``."""
    if family not in TINY_FAMILIES or family not in FAMILIES:
        raise ValueError(
            f"no tiny teacher recipe for family {family!r}; use one of "
            f"{', '.join(TINY_FAMILIES)} (--teacher-family)"
        )


def train_tokenizer(family: str, texts: list[str], vocab_size: int) -> Any:
    """The tokenizer kind of ``family``, trained on ``texts``."""
    check_family(family)
    return _TOKENIZERS[family](texts, vocab_size)


def tiny_config(
    family: str, cfg: TinyTeacherConfig, tokenizer: Any, label2id: dict[str, int]
) -> transformers.PretrainedConfig:
    """The teacher's config in ``family`` at the shape of ``cfg``, labelled with ``label2id``."""
    check_family(family)
    labels = {
        "num_labels": len(label2id),
        "label2id": label2id,
        "id2label": {i: label for label, i in label2id.items()},
        "pad_token_id": tokenizer.pad_token_id,
    }
    if family == "distilbert":
        return transformers.DistilBertConfig(
            vocab_size=len(tokenizer),
            dim=cfg.hidden_size,
            n_layers=cfg.num_hidden_layers,
            n_heads=cfg.num_attention_heads,
            hidden_dim=cfg.intermediate_size,
            max_position_embeddings=max(512, cfg.max_length),
            dropout=cfg.dropout,
            attention_dropout=cfg.dropout,
            **labels,
        )
    shape = {
        "vocab_size": len(tokenizer),
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": max(512, cfg.max_length),
        "hidden_dropout_prob": cfg.dropout,
        "attention_probs_dropout_prob": cfg.dropout,
        **labels,
    }
    if family in ("roberta", "xlm-roberta"):
        # positions start after the pad id (padding_idx + 1), as in the released models
        shape["max_position_embeddings"] = max(514, cfg.max_length + tokenizer.pad_token_id + 1)
        shape.update(
            type_vocab_size=1,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    if family == "electra":  # ELECTRA's smaller embedding, projected to the hidden size
        shape["embedding_size"] = cfg.hidden_size // 2
    return FAMILIES[family].config_class(**shape)


def masked_lm_class(family: str) -> type[transformers.PreTrainedModel]:
    """The masked-LM model class of ``family`` (the tiny teacher starts as one)."""
    check_family(family)
    stem = FAMILIES[family].classifier_class.__name__.removesuffix("ForSequenceClassification")
    return getattr(transformers, f"{stem}ForMaskedLM")
