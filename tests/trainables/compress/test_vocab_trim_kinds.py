"""Vocabulary trimming for each tokenizer kind the families bring: SentencePiece Unigram
(XLM-RoBERTa) and byte-level BPE (RoBERTa), trained here on MahaNews headlines, with the
family's classifier built from a config. (WordPiece: test_vocab_trim.py.) A text whose pieces
are all kept is split into the same pieces and gets the same logits."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import transformers

from trainables.compress.vocab_trim import bpe_closure, token_counts, trim_vocabulary
from trainables.teachers.tiny_family import train_byte_bpe, train_unigram

KINDS = {
    "unigram": (train_unigram, transformers.XLMRobertaConfig),
    "byte-bpe": (train_byte_bpe, transformers.RobertaConfig),
}


@pytest.fixture(scope="module")
def headlines(mahanews_dir) -> list[str]:
    frame = pd.read_csv(mahanews_dir / "SHC_Test.csv", dtype=str)
    return [t for t in frame["Text"].dropna().tolist() if t.strip()][:600]


@pytest.fixture(scope="module", params=sorted(KINDS))
def pair(request, headlines):
    train, config_class = KINDS[request.param]
    tokenizer = train(headlines, 1500)
    torch.manual_seed(0)
    config = config_class(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        pad_token_id=tokenizer.pad_token_id,
        max_position_embeddings=80,
        type_vocab_size=1,
    )
    model = transformers.AutoModelForSequenceClassification.from_config(config)
    return request.param, tokenizer, model.eval()


def _logits(model, tokenizer, texts: list[str]) -> torch.Tensor:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits


def test_covered_texts_keep_their_pieces_and_logits(pair, headlines) -> None:
    _, tokenizer, model = pair
    train, unseen = headlines[:150], headlines[150:]
    trimmed, small, report = trim_vocabulary(model, tokenizer, train)
    assert report.vocab_after == len(small) < report.vocab_before
    assert type(small) is type(tokenizer)
    assert small.pad_token_id == trimmed.config.pad_token_id == tokenizer.pad_token_id
    for text in train:
        old, new = tokenizer(text)["input_ids"], small(text)["input_ids"]
        assert tokenizer.convert_ids_to_tokens(old) == small.convert_ids_to_tokens(new), text
    torch.testing.assert_close(
        _logits(trimmed, small, train[:32]), _logits(model, tokenizer, train[:32])
    )
    # unseen texts are covered where all their pieces were kept: same pieces there too
    kept = set(small.get_vocab())
    covered = [t for t in unseen if set(tokenizer.tokenize(t)) <= kept]
    assert covered, "some unseen headline should use kept pieces only"
    for text in covered[:50]:
        assert small.tokenize(text) == tokenizer.tokenize(text)


def test_a_byte_level_vocabulary_keeps_the_merges_its_pieces_are_built_by(headlines) -> None:
    tokenizer = train_byte_bpe(headlines, 1500)
    counts = token_counts(tokenizer, headlines[:20])
    used = [int(i) for i in counts.nonzero()[0]]
    keep = bpe_closure(tokenizer, used)
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    kept = {token for token, i in model["vocab"].items() if i in set(keep)}
    assert set(used) <= set(keep)
    # every kept piece longer than one character is some merge of two kept pieces
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    built = {left + right for left, right in merges if left in kept and right in kept}
    assert all(len(token) == 1 or token in built for token in kept if not token.startswith("<"))
    # and every byte stays: any text still splits, with no unknown piece
    assert sum(len(token) == 1 for token in kept) >= 256
    _, small, _ = trim_vocabulary(
        transformers.RobertaForSequenceClassification(
            transformers.RobertaConfig(
                vocab_size=len(tokenizer),
                hidden_size=16,
                num_hidden_layers=1,
                num_attention_heads=1,
                intermediate_size=16,
                pad_token_id=1,
            )
        ),
        tokenizer,
        headlines[:20],
    )
    assert small.unk_token_id not in small("a text with 😀 no headline had")["input_ids"]
