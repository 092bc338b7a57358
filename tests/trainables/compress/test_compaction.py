"""Compaction, save/load and accounting (trainables.compress.compaction), 2 and 12 layers."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    BertForSequenceClassification,
)

from trainables import metrics as M
from trainables.compress.compaction import (
    COMPACT_MODEL_TYPE,
    LAYERS_KEY,
    ModelFolderError,
    compact_model,
    encoder_density,
    kept_structure,
    layer_shapes,
    load_classifier,
    load_compact,
    model_flops,
    parameter_counts,
    save_compact,
    speedup_ideal,
)
from trainables.compress.pruning import (
    PruningConfig,
    apply_threshold,
    mask_score_parameters,
    masked_layers,
    prune_model,
)

VOCAB = 100
# 4 heads of 16 dimensions; 16x16 blocks: one row of Q/K/V blocks (one column of O) per head.
TWO_LAYERS = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
TWO_LAYERS["intermediate_size"] = 128
TWELVE_LAYERS = {"hidden_size": 32, "num_hidden_layers": 12, "num_attention_heads": 2}
TWELVE_LAYERS["intermediate_size"] = 64
KEEP, DROP = 5.0, -5.0  # scores on either side of the 0.5 sigmoid threshold


def bert(shape: dict, attn_implementation: str = "sdpa", seed: int = 0):
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB,
        num_labels=3,
        attn_implementation=attn_implementation,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **shape,
    )
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():  # non-zero biases everywhere, so that a wrongly kept bias shows
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(std=0.1)
    return model


def masked(model: BertForSequenceClassification) -> BertForSequenceClassification:
    """The model pruned with sigmoid_threshold at 0.5 and every score set to keep."""
    config = PruningConfig(method="sigmoid_threshold", block_shape=(16, 16))
    prune_model(model, config)
    apply_threshold(model, 0.5)
    with torch.no_grad():
        for scores in mask_score_parameters(model):
            scores.fill_(KEEP)
    return model


def inputs(batch: int = 3, length: int = 11) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    input_ids = torch.randint(0, VOCAB, (batch, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[-1, 6:] = 0  # padding: a uniform head must average over real tokens only
    return {"input_ids": input_ids, "attention_mask": attention_mask}


@torch.no_grad()
def logits(model: BertForSequenceClassification) -> torch.Tensor:
    return model(**inputs()).logits


def scores(model: BertForSequenceClassification, layer: int, path: str) -> torch.Tensor:
    return model.bert.encoder.layer[layer].get_submodule(path).mask_scores.data


def two_layer_edge_cases(attn_implementation: str = "sdpa") -> BertForSequenceClassification:
    """Layer 0: head 0 loses its query and key blocks (kept: it attends uniformly), head 1 its
    value blocks and head 2 its output columns (both removed), head 3 one query block; half the
    FFN neurons go. Layer 1 loses all its value blocks and all its FFN neurons."""
    model = masked(bert(TWO_LAYERS, attn_implementation))
    scores(model, 0, "attention.self.query")[0, :] = DROP
    scores(model, 0, "attention.self.key")[0, :] = DROP
    scores(model, 0, "attention.self.value")[1, :] = DROP
    scores(model, 0, "attention.output.dense")[:, 2] = DROP
    scores(model, 0, "attention.self.query")[3, 1] = DROP
    scores(model, 0, "intermediate.dense")[::2] = DROP
    scores(model, 1, "attention.self.value")[:] = DROP
    scores(model, 1, "intermediate.dense")[:] = DROP
    return model


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_two_layers_edge_cases_compact_exactly(attn_implementation: str) -> None:
    model = two_layer_edge_cases(attn_implementation)
    compact = compact_model(model)
    assert layer_shapes(compact) == [{"heads": 2, "ffn": 64}, {"heads": 0, "ffn": 0}]
    assert getattr(compact.config, LAYERS_KEY) == layer_shapes(compact)
    assert kept_structure(compact) == {M.HEADS: 2, M.FFN_NEURONS: 64, M.LAYERS: 2}
    assert not masked_layers(compact)
    attention = compact.bert.encoder.layer[0].attention.self
    assert (attention.num_attention_heads, attention.all_head_size) == (2, 32)
    assert (attention.query.weight[:16] == 0).all(), "the uniform head keeps zero query rows"
    assert (logits(compact) - logits(model)).abs().max() <= 1e-4
    assert masked_layers(model), "compaction must leave the masked model as it was"


def test_dropping_a_head_without_query_and_key_changes_the_output() -> None:
    """What nn_pruning's compaction does: its scores are zero, not absent; it attends uniformly."""
    model = two_layer_edge_cases()
    with torch.no_grad():
        reference = model(**inputs(), output_hidden_states=True).hidden_states[1]
        scores(model, 0, "attention.self.value")[0, :] = DROP  # removes head 0 for real
        dropped = model(**inputs(), output_hidden_states=True).hidden_states[1]
    assert (dropped - reference).abs().max() > 1e-2


def twelve_layers_random_masks(attn_implementation: str = "sdpa") -> BertForSequenceClassification:
    """Random scores, with a layer without value blocks (3), one without FFN neurons (7) and
    one whose head 0 keeps values but loses its query and key (5)."""
    model = masked(bert(TWELVE_LAYERS, attn_implementation))
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for tensor in mask_score_parameters(model):
            tensor.copy_(3 * torch.randn(tensor.shape, generator=generator))
    scores(model, 3, "attention.self.value")[:] = DROP
    scores(model, 7, "intermediate.dense")[:] = DROP
    scores(model, 5, "attention.self.value")[:] = KEEP
    scores(model, 5, "attention.output.dense")[:] = KEEP
    scores(model, 5, "attention.self.query")[0, :] = DROP
    scores(model, 5, "attention.self.key")[0, :] = DROP
    return model


def test_twelve_layers_random_masks_compact_exactly() -> None:
    model = twelve_layers_random_masks()
    compact = compact_model(model)
    shapes = layer_shapes(compact)
    assert shapes[3]["heads"] == 0 and shapes[7]["ffn"] == 0 and shapes[5]["heads"] == 2
    assert any(shape["heads"] == 1 for shape in shapes), "random masks should remove some heads"
    assert all(shape["ffn"] < 64 for shape in shapes)
    assert (logits(compact) - logits(model)).abs().max() <= 1e-4


def test_a_plain_model_compacts_to_an_equivalent_copy() -> None:
    model = bert(TWO_LAYERS)
    compact = compact_model(model)
    assert layer_shapes(compact) == [{"heads": 4, "ffn": 128}] * 2
    torch.testing.assert_close(logits(compact), logits(model), rtol=0, atol=1e-6)
    with torch.no_grad():
        compact.classifier.bias.add_(1.0)
    assert not torch.allclose(logits(compact), logits(model)), "the copy must be independent"


def test_constant_heads_and_neurons_fold_into_the_output_bias() -> None:
    """A head without value weights outputs its value bias; a neuron without input weights outputs
    act(bias): both are constants, removed and folded into the next bias."""
    model = bert(TWO_LAYERS)
    layer = model.bert.encoder.layer[0]
    with torch.no_grad():
        layer.attention.self.value.weight[16:32] = 0.0
        layer.intermediate.dense.weight[:10] = 0.0
    compact = compact_model(model)
    assert layer_shapes(compact)[0] == {"heads": 3, "ffn": 118}
    assert (logits(compact) - logits(model)).abs().max() <= 1e-4


def test_save_and_load_rebuild_the_compact_model(tmp_path) -> None:
    model = two_layer_edge_cases()
    compact = compact_model(model)
    directory = save_compact(compact, tmp_path / "student")
    assert (directory / "model.safetensors").exists()
    saved = json.loads((directory / "config.json").read_text())
    assert saved[LAYERS_KEY] == [{"heads": 2, "ffn": 64}, {"heads": 0, "ffn": 0}]
    assert saved["architectures"] == ["CompactBertForSequenceClassification"]
    assert saved["model_type"] == COMPACT_MODEL_TYPE

    loaded = load_compact(directory)
    assert not loaded.training
    assert layer_shapes(loaded) == layer_shapes(compact)
    assert loaded.bert.encoder.layer[0].attention.self.num_attention_heads == 2
    torch.testing.assert_close(logits(loaded), logits(compact), rtol=0, atol=0)
    # transformers' own loader reads it too (the compact model type is registered)
    auto = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    assert layer_shapes(auto) == layer_shapes(compact)
    torch.testing.assert_close(logits(auto), logits(compact), rtol=0, atol=0)


def test_a_folder_saved_before_the_compact_model_type_still_loads(tmp_path) -> None:
    compact = compact_model(two_layer_edge_cases())
    directory = save_compact(compact, tmp_path / "old")
    saved = json.loads((directory / "config.json").read_text())
    saved["model_type"], saved["architectures"] = "bert", ["BertForSequenceClassification"]
    (directory / "config.json").write_text(json.dumps(saved))
    loaded = load_compact(directory)
    assert type(loaded) is BertForSequenceClassification
    torch.testing.assert_close(logits(loaded), logits(compact), rtol=0, atol=0)


def test_load_classifier_reads_a_compact_folder_and_a_plain_one(tmp_path) -> None:
    compact = compact_model(two_layer_edge_cases())
    directory = save_compact(compact, tmp_path / "compact")
    loaded = load_classifier(directory)
    assert not loaded.training and layer_shapes(loaded) == layer_shapes(compact)
    torch.testing.assert_close(logits(loaded), logits(compact), rtol=0, atol=0)
    plain = bert(TWO_LAYERS)
    plain.save_pretrained(tmp_path / "plain")
    loaded = load_classifier(tmp_path / "plain")
    assert type(loaded) is BertForSequenceClassification and not loaded.training
    torch.testing.assert_close(logits(loaded), logits(plain), rtol=0, atol=0)
    with pytest.raises(ModelFolderError, match="no config.json"):
        load_classifier(tmp_path / "nothing")


def test_save_and_load_refuse_what_they_cannot_handle(tmp_path) -> None:
    with pytest.raises(ValueError, match="masked layers"):
        save_compact(two_layer_edge_cases(), tmp_path / "masked")
    plain = bert(TWO_LAYERS)
    plain.config.save_pretrained(tmp_path / "plain")
    with pytest.raises(ValueError, match="not written by save_compact"):
        load_compact(tmp_path / "plain")


def test_parameter_counts_split_embeddings_encoder_and_head() -> None:
    model = bert(TWO_LAYERS)
    hidden, ffn, layers = 64, 128, 2
    embeddings = (VOCAB + 512 + 2) * hidden + 2 * hidden
    per_layer = 4 * (hidden * hidden + hidden) + 2 * hidden  # attention + its LayerNorm
    per_layer += hidden * ffn + ffn + ffn * hidden + hidden + 2 * hidden  # FFN + its LayerNorm
    head = hidden * hidden + hidden + hidden * 3 + 3  # pooler + classifier
    expected = {"embeddings": embeddings, "encoder": layers * per_layer, "head": head}
    expected["total"] = embeddings + layers * per_layer + head
    assert parameter_counts(model) == expected
    assert expected["total"] == sum(p.numel() for p in model.parameters())
    # Mask scores are training state, not parameters of the model.
    assert parameter_counts(masked(bert(TWO_LAYERS))) == expected


def counted_flops(model: BertForSequenceClassification, seq_len: int) -> int:
    """The matmul FLOPs PyTorch itself counts in one unpadded sequence's forward pass (eager
    attention: its scores and weighted sums are matmuls the counter sees)."""
    input_ids = torch.randint(0, VOCAB, (1, seq_len), generator=torch.Generator().manual_seed(3))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids))
    return counter.get_total_flops()


@pytest.mark.parametrize("seq_len", [1, 37, 128])
def test_model_flops_are_what_torch_counts(seq_len: int) -> None:
    baseline = bert(TWO_LAYERS, "eager")
    edge_cases = compact_model(two_layer_edge_cases("eager"))
    random_masks = compact_model(twelve_layers_random_masks("eager"))
    for model in (baseline, edge_cases, random_masks, bert(TWELVE_LAYERS, "eager")):
        assert model_flops(model, seq_len) == counted_flops(model, seq_len)


def test_density_and_ideal_speedup() -> None:
    baseline = bert(TWO_LAYERS)
    compact = compact_model(two_layer_edge_cases())
    assert encoder_density(baseline, baseline.config) == 1.0
    # Layer 0 keeps 2 of 4 heads and 64 of 128 neurons; layer 1 keeps nothing.
    assert encoder_density(compact, baseline.config) == pytest.approx(0.25)
    assert speedup_ideal(baseline, baseline, 128) == 1.0
    # the FLOPs torch counts: what is left costs far less than the baseline
    assert speedup_ideal(baseline, compact, 128) == pytest.approx(
        counted_flops(bert(TWO_LAYERS, "eager"), 128)
        / counted_flops(compact_model(two_layer_edge_cases("eager")), 128)
    )
    assert speedup_ideal(baseline, compact, 128) > 3.0
    with pytest.raises(ValueError, match="seq_len"):
        model_flops(baseline, 0)
