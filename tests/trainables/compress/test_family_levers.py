"""Every encoder family through every lever of a trained model: block pruning with a layer that
loses every head, compaction to a smaller dense model with the masked model's logits, a compact
folder that ``AutoModelForSequenceClassification`` and ``pipeline`` load (no remote code), int8,
and ONNX. Models are built from small configs with random weights (no hub)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

from trainables.compress.compaction import (
    COMPACT_CLASSES,
    compact_model,
    layer_shapes,
    load_classifier,
    model_flops,
    parameter_counts,
    save_compact,
    speedup_ideal,
)
from trainables.compress.families import FAMILIES, family_of
from trainables.compress.pruning import (
    PruningConfig,
    apply_threshold,
    mask_score_parameters,
    masked_layers,
    prune_model,
)
from trainables.compress.quantize import DYNAMIC_INT8, quantize_int8

VOCAB, LABELS = 120, 3
SHAPE = {"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4}
SHAPE["intermediate_size"] = 128
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
CONFIGS = {
    "bert": lambda: transformers.BertConfig(**SHAPE, **NO_DROPOUT),
    "roberta": lambda: transformers.RobertaConfig(
        **SHAPE, **NO_DROPOUT, pad_token_id=1, max_position_embeddings=40
    ),
    "xlm-roberta": lambda: transformers.XLMRobertaConfig(
        **SHAPE, **NO_DROPOUT, pad_token_id=1, max_position_embeddings=40
    ),
    # embedding size != hidden size: the embedding projection runs at every position
    "electra": lambda: transformers.ElectraConfig(embedding_size=32, **SHAPE, **NO_DROPOUT),
    "distilbert": lambda: transformers.DistilBertConfig(
        dim=64, n_layers=3, n_heads=4, hidden_dim=128, dropout=0.0, attention_dropout=0.0
    ),
}
KEEP, DROP = 5.0, -5.0


def test_every_registered_family_is_tested_here() -> None:
    assert set(CONFIGS) == set(FAMILIES)
    assert all(family.compact_model_type in COMPACT_CLASSES for family in FAMILIES.values())


def build(model_type: str, seed: int = 0) -> transformers.PreTrainedModel:
    torch.manual_seed(seed)
    config = CONFIGS[model_type]()
    config.vocab_size, config.num_labels = VOCAB, LABELS
    model = FAMILIES[model_type].classifier_class(config).eval()
    with torch.no_grad():  # non-zero biases, so that a wrongly kept bias shows
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(std=0.1)
    return model


def pruned(model_type: str) -> transformers.PreTrainedModel:
    """Random 16x16 block masks; layer 0 loses every value block (no head left), layer 2 every
    FFN neuron."""
    model = build(model_type)
    family = family_of(model)
    prune_model(model, PruningConfig(method="sigmoid_threshold", block_shape=(16, 16)))
    apply_threshold(model, 0.5)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(5)
        for scores in mask_score_parameters(model):
            scores.copy_(torch.where(torch.rand(scores.shape, generator=generator) < 0.6, 5, -5))
        layers = family.encoder_layers(model)
        layers[0].get_submodule(family.value).mask_scores.fill_(DROP)
        layers[2].get_submodule(family.ffn_input).mask_scores.fill_(DROP)
    return model


def inputs(batch: int = 4, length: int = 12) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    input_ids = torch.randint(5, VOCAB, (batch, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[-1, 7:] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


@torch.no_grad()
def logits(model: torch.nn.Module, **kwargs: torch.Tensor) -> torch.Tensor:
    return model(**(kwargs or inputs())).logits


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def compacted(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module, torch.nn.Module]:
    model = pruned(request.param)
    return request.param, model, compact_model(model).eval()


def test_the_compacted_model_is_smaller_and_computes_the_masked_logits(compacted) -> None:
    model_type, masked, compact = compacted
    shapes = layer_shapes(compact)
    assert shapes[0]["heads"] == 0 and shapes[2]["ffn"] == 0
    assert all(shape["heads"] <= 4 and shape["ffn"] < 128 for shape in shapes)
    assert not masked_layers(compact)
    family = family_of(compact)
    assert type(family.attention(family.encoder_layers(compact)[0])) is family.headless_attention
    torch.testing.assert_close(logits(compact), logits(masked), atol=1e-5, rtol=1e-5)
    full = build(model_type)
    assert parameter_counts(compact)["encoder"] < parameter_counts(full)["encoder"]
    assert speedup_ideal(full, compact, 12) > 1.0


def test_a_compact_folder_loads_with_auto_classes_and_pipeline(compacted, tmp_path: Path) -> None:
    model_type, _, compact = compacted
    folder = save_compact(compact, tmp_path / model_type)
    word_piece_tokenizer(model_type).save_pretrained(folder)
    auto = transformers.AutoModelForSequenceClassification.from_pretrained(
        folder, trust_remote_code=False
    ).eval()
    assert auto.config.model_type == family_of(compact).compact_model_type
    torch.testing.assert_close(logits(auto), logits(compact), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits(load_classifier(folder)), logits(compact))
    classify = transformers.pipeline("text-classification", model=str(folder), device="cpu")
    labels = {prediction["label"] for prediction in classify(["a b c", "d e"])}
    assert labels <= set(compact.config.id2label.values())


def test_int8_keeps_most_labels_and_is_saved_as_int8(compacted, tmp_path: Path) -> None:
    model_type, _, compact = compacted
    sample = inputs(batch=32)
    int8 = quantize_int8(compact)
    agree = (logits(int8, **sample).argmax(-1) == logits(compact, **sample).argmax(-1)).float()
    assert agree.mean() >= 0.8
    folder = save_compact(compact, tmp_path / model_type, quantization=DYNAMIC_INT8)
    loaded = load_classifier(folder)
    torch.testing.assert_close(logits(loaded, **sample), logits(int8, **sample))


def test_onnx_runtime_computes_the_compact_models_logits(compacted, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from trainables.commands.export import FP32_TOLERANCE, export_model

    model_type, _, compact = compacted
    target = tmp_path / f"{model_type}.onnx"
    sample = inputs()
    export_model(compact, sample, target)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(["logits"], {k: v.numpy() for k, v in sample.items()})
    assert abs(onnx_logits - logits(compact).numpy()).max() <= FP32_TOLERANCE


def test_electras_embedding_projection_is_counted_at_every_position() -> None:
    model = build("electra")
    projection = model.electra.embeddings_project
    per_position = 2.0 * projection.in_features * projection.out_features
    assert model_flops(model, 10) - model_flops(model, 9) > per_position
    counts = parameter_counts(model)
    embeddings = sum(p.numel() for p in model.electra.embeddings.parameters())
    assert counts["embeddings"] == embeddings + sum(p.numel() for p in projection.parameters())


def word_piece_tokenizer(model_type: str) -> transformers.PreTrainedTokenizerFast:
    """A WordPiece tokenizer over the ids 0..VOCAB-1 (enough for loading and pipeline)."""
    tokens = ["[PAD]", "<pad>", "[UNK]", "[CLS]", "[SEP]", *"abcde"]
    tokens += [f"w{i}" for i in range(len(tokens), VOCAB)]
    vocab = {token: i for i, token in enumerate(tokens)}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="<pad>"
    )
    if model_type == "distilbert":  # DistilBERT takes no token type ids
        tokenizer.model_input_names = ["input_ids", "attention_mask"]
    return tokenizer
