"""Vocabulary trimming (trainables.compress.vocab_trim) on a WordPiece vocabulary learnt from
MahaNews headlines and a small BERT classifier built from a config."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    PreTrainedTokenizerFast,
)

from trainables.compress.vocab_trim import (
    VocabTrimError,
    check_trimmable,
    kept_ids,
    token_counts,
    trim_vocabulary,
    vocab_coverage,
)
from trainables.teachers.tiny_family import train_wordpiece


@pytest.fixture(scope="module")
def headlines(mahanews_dir) -> list[str]:
    frame = pd.read_csv(mahanews_dir / "SHC_Test.csv", dtype=str)
    return [t for t in frame["Text"].dropna().tolist() if t.strip()][:600]


@pytest.fixture(scope="module")
def tokenizer(headlines):
    return train_wordpiece(headlines, vocab_size=1500)


def classifier(vocab: int, seed: int = 0) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        pad_token_id=0,
    )
    return BertForSequenceClassification(config).eval()


def _logits(model, tokenizer, texts: list[str]) -> torch.Tensor:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits


def test_texts_whose_pieces_are_kept_split_the_same_and_keep_their_logits(
    tokenizer, headlines
) -> None:
    model = classifier(len(tokenizer))
    train, unseen = headlines[:200], headlines[200:]
    trimmed, small, report = trim_vocabulary(model, tokenizer, train)
    assert report.vocab_before == len(tokenizer)
    assert report.vocab_after == len(small) == trimmed.get_input_embeddings().num_embeddings
    assert report.vocab_after < report.vocab_before and report.coverage == 1.0
    dropped = (report.vocab_before - report.vocab_after) * model.config.hidden_size
    assert report.parameters_before - report.parameters_after == dropped
    assert trimmed.config.vocab_size == len(small)
    # the same pieces, renumbered, special tokens included (the post-processor's ids follow)
    for text in train[:50]:
        old, new = tokenizer(text)["input_ids"], small(text)["input_ids"]
        assert tokenizer.convert_ids_to_tokens(old) == small.convert_ids_to_tokens(new)
    assert small.pad_token_id == trimmed.config.pad_token_id
    torch.testing.assert_close(
        _logits(trimmed, small, train[:32]), _logits(model, tokenizer, train[:32])
    )
    # a text with a word the trimming texts never used: that word becomes [UNK]
    vocab = set(small.get_vocab())
    lost = next(
        t for t in unseen if any(p not in vocab for p in tokenizer.tokenize(t) if p != "[UNK]")
    )
    assert small.unk_token in small.tokenize(lost)


def test_max_size_keeps_the_most_frequent_pieces_and_reports_coverage(tokenizer, headlines) -> None:
    counts = token_counts(tokenizer, headlines)
    special = tokenizer.all_special_ids
    used = int((counts > 0).sum())
    keep = kept_ids(counts, special_ids=special, max_size=200)
    assert len(keep) == 200 and set(special) <= set(keep) and keep == sorted(keep)
    rest = [i for i in range(len(counts)) if i not in set(keep) and i not in set(special)]
    kept_plain = [i for i in keep if i not in set(special)]
    assert min(counts[kept_plain]) >= max(counts[rest])  # nothing rarer kept over a commoner one
    _, small, report = trim_vocabulary(
        classifier(len(tokenizer)), tokenizer, headlines, max_size=200
    )
    assert report.vocab_after == len(small) == 200 < used
    assert 0.5 < report.coverage < 1.0
    with pytest.raises(VocabTrimError, match="below the 5 special tokens"):
        kept_ids(counts, special_ids=special, max_size=3)


def test_the_trimmed_pair_saves_and_loads_as_a_pair(tokenizer, headlines, tmp_path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = classifier(len(tokenizer))
    trimmed, small, _ = trim_vocabulary(model, tokenizer, headlines[:100])
    trimmed.save_pretrained(tmp_path)
    small.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    loaded_tokenizer = AutoTokenizer.from_pretrained(tmp_path)
    assert len(loaded_tokenizer) == len(small)
    torch.testing.assert_close(
        _logits(loaded, loaded_tokenizer, headlines[:16]), _logits(model, tokenizer, headlines[:16])
    )


def test_what_cannot_be_trimmed_is_refused_with_the_reason(tokenizer, headlines) -> None:
    with pytest.raises(VocabTrimError, match="model's own tokenizer"):
        trim_vocabulary(classifier(len(tokenizer) + 1), tokenizer, headlines)
    with pytest.raises(VocabTrimError, match="training texts"):
        trim_vocabulary(classifier(len(tokenizer)), tokenizer, [])
    mlm = BertForMaskedLM(classifier(len(tokenizer)).config)
    with pytest.raises(VocabTrimError, match="language-model head"):
        trim_vocabulary(mlm, tokenizer, headlines)
    words = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    words.train_from_iterator(
        headlines, trainers.WordLevelTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]"])
    )
    wrapped = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]", pad_token="[PAD]")
    with pytest.raises(VocabTrimError, match="cannot trim a WordLevel vocabulary"):
        trim_vocabulary(classifier(len(wrapped)), wrapped, headlines)
    # what a trial checks before it trains: one line, the kinds that work, the way out
    with pytest.raises(VocabTrimError, match=r"WordLevel\) cannot be trimmed.*without vocab_trim"):
        check_trimmable(wrapped)
    check_trimmable(tokenizer)  # WordPiece: fine


def test_the_benchmark_reports_the_trimmed_sizes_of_a_model() -> None:
    from trainables.commands.bench import vocabulary_rows

    model = classifier(1000)
    total = sum(p.numel() for p in model.parameters())
    rows = vocabulary_rows(model, [300, 5000, 100])
    assert [r["rows"] for r in rows] == [1000, 300, 100]  # larger than the vocabulary: skipped
    assert rows[0]["num_parameters"] == total
    assert rows[1]["num_parameters"] == total - 700 * 32
    assert rows[2]["weights_mb"] == pytest.approx((total - 900 * 32) * 4 / 1e6)


def test_coverage_counts_the_unseen_words_that_keep_their_split(tokenizer, headlines) -> None:
    train, unseen = headlines[:100], headlines[300:400]
    _, trimmed, _ = trim_vocabulary(classifier(len(tokenizer)), tokenizer, train)
    # on the texts the vocabulary was chosen from every word keeps its split, by construction
    assert vocab_coverage(tokenizer, trimmed, train) == 1.0
    # unseen texts: the share of their words (each occurrence) split as the teacher splits them
    same = total = 0
    for text in unseen:
        for word, _ in tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text):
            total += 1
            same += tokenizer.tokenize(word) == trimmed.tokenize(word)
    coverage = vocab_coverage(tokenizer, trimmed, unseen)
    assert 0.5 < coverage < 1.0
    assert coverage == pytest.approx(same / total)
    assert math.isnan(vocab_coverage(tokenizer, trimmed, ["", " "]))  # no words: no share
