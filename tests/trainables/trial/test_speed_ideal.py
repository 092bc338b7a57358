"""The FLOP-ideal speedup at the widths that were timed, not at max_length."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from trainables.compress.compaction import speedup_ideal
from trainables.data import TokenizedSplit
from trainables.trial.final import speedup_ideal_at, timed_widths


def _bert(intermediate: int) -> BertForSequenceClassification:
    config = BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=intermediate,
        max_position_embeddings=256,
        num_labels=3,
    )
    return BertForSequenceClassification(config)


def _split(lengths: list[int], max_length: int = 128) -> TokenizedSplit:
    mask = torch.zeros(len(lengths), max_length, dtype=torch.int8)
    for row, length in enumerate(lengths):
        mask[row, :length] = 1
    ids = mask.to(torch.int32)
    return TokenizedSplit(ids, mask, torch.zeros(len(lengths), dtype=torch.long))


def test_timed_widths_are_each_batchs_longest_row_over_the_timed_rows():
    split = _split([5, 9, 3, 40, 7, 7, 128])
    assert timed_widths(split, 7, 3) == [(3, 9), (3, 40), (1, 128)]
    # a sub-batch: the first rows only
    assert timed_widths(split, 2, 3) == [(2, 9)]


def test_short_batches_give_another_ideal_than_max_length():
    teacher, student = _bert(128), _bert(16)  # the FFN cut to an eighth
    short = [(64, 12), (64, 20)]
    at_widths = speedup_ideal_at(teacher, student, short, short)
    # attention scores grow with the width and were not pruned: at 128 the ratio is smaller
    assert at_widths > speedup_ideal(teacher, student, 128) > 1
    assert speedup_ideal_at(teacher, student, [(64, 12)], [(64, 12)]) == pytest.approx(
        speedup_ideal(teacher, student, 12)
    )
    # a model whose tokenizer splits the same texts into more pieces does more work
    wider = speedup_ideal_at(teacher, student, short, [(64, 24), (64, 40)])
    assert wider < at_widths
    assert speedup_ideal_at(teacher, teacher, short, short) == 1.0
