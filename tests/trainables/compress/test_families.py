"""The encoder-family seam (trainables.compress.families): lookups, errors, and a family that is
one entry and nothing else (DistilBERT, whose modules are named differently from BERT's)."""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch
import transformers
from torch import nn

from trainables.compress.compaction import (
    compact_model,
    encoder_density,
    layer_shapes,
    model_flops,
    parameter_counts,
)
from trainables.compress.families import (
    BERT,
    DISTILBERT,
    FAMILIES,
    family_of,
)
from trainables.compress.pruning import (
    PruningConfig,
    apply_threshold,
    mask_score_parameters,
    prune_model,
    regularization_loss,
)


def test_family_of_reads_the_model_type_of_a_model_a_config_or_a_compact_model() -> None:
    config = transformers.BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=1, num_attention_heads=2
    )
    assert family_of(config) is BERT
    assert family_of(transformers.BertForSequenceClassification(config)) is BERT
    compact = compact_model(transformers.BertForSequenceClassification(config))
    assert family_of(compact) is BERT
    assert BERT.attention_linears[-1] == BERT.attention_output
    assert BERT.prunable_linears == (*BERT.attention_linears, *BERT.ffn_linears)


def test_an_unknown_family_is_named_with_the_supported_ones() -> None:
    with pytest.raises(ValueError, match=r"'gpt2' model is not a BERT-family model.*bert"):
        family_of(transformers.GPT2Config())
    with pytest.raises(ValueError, match=r"Sequential \(no config.model_type\)"):
        family_of(nn.Sequential())
    # refused on purpose: the error says why, and names the families that work
    with pytest.raises(ValueError, match=r"'albert' model .*shares one set of layer weights.*"):
        family_of(transformers.AlbertConfig())
    with pytest.raises(ValueError, match=r"xlm-roberta, electra, distilbert \(a new family"):
        family_of(transformers.DebertaV2Config(), compact=True)


def test_a_family_without_a_compact_folder_type_prunes_but_cannot_be_saved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    without = dataclasses.replace(BERT, model_type="no-folder", compact_model_type=None)
    monkeypatch.setitem(FAMILIES, "no-folder", without)
    config = types.SimpleNamespace(model_type="no-folder")
    assert family_of(config) is without
    with pytest.raises(ValueError, match="'no-folder' model is not a BERT-family model"):
        family_of(config, compact=True)


def test_a_family_is_one_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """DistilBERT, whose modules are named differently from BERT's, as a copy of its entry under
    a new name: nothing but the entry is needed to prune, compact and count it."""
    monkeypatch.setitem(FAMILIES, "distilbert", dataclasses.replace(DISTILBERT))
    torch.manual_seed(0)
    config = transformers.DistilBertConfig(
        vocab_size=100, dim=64, n_layers=2, n_heads=4, hidden_dim=128, num_labels=3
    )
    model = transformers.DistilBertForSequenceClassification(config).eval()
    with torch.no_grad():  # non-zero biases, so that a wrongly kept bias shows
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(std=0.1)
    pruning = PruningConfig(method="sigmoid_threshold", block_shape=(16, 16))
    prune_model(model, pruning)
    with torch.no_grad():
        for scores in mask_score_parameters(model):
            scores.normal_(std=3.0)
    apply_threshold(model, 0.5)
    assert regularization_loss(model, pruning, 0.5).item() == 0.0  # lambda 0
    input_ids = torch.randint(0, 100, (3, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        masked = model(input_ids=input_ids).logits
        compact = compact_model(model).eval()
        torch.testing.assert_close(compact(input_ids=input_ids).logits, masked)
    shapes = layer_shapes(compact)
    assert all(shape["heads"] <= 4 and shape["ffn"] < 128 for shape in shapes)
    first = compact.distilbert.transformer.layer[0].attention
    assert first.n_heads == shapes[0]["heads"] and first.dim == first.q_lin.out_features
    assert 0.0 < encoder_density(compact, config) < 1.0
    assert model_flops(compact, 9) < model_flops(
        transformers.DistilBertForSequenceClassification(config), 9
    )
    counts = parameter_counts(compact)
    assert counts["total"] == counts["embeddings"] + counts["encoder"] + counts["head"]
