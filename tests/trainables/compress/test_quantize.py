"""int8 after pruning (trainables.compress.quantize): quantised, saved, loaded back."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import AutoModelForSequenceClassification

from tests.trainables.compress.test_compaction import TWO_LAYERS, bert, inputs, two_layer_edge_cases
from trainables.compress.compaction import (
    compact_model,
    layer_shapes,
    load_classifier,
    load_compact,
    save_compact,
)
from trainables.compress.quantize import (
    DYNAMIC_INT8,
    folder_megabytes,
    quantize_int8,
    serialized_megabytes,
)
from trainables.config import TrialConfig


def _logits(model: nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(**inputs()).logits


def _quantized_linears(model: nn.Module) -> list[str]:
    return [
        name
        for name, module in model.named_modules()
        if type(module).__module__.startswith("torch.ao.nn.quantized")
    ]


def test_int8_quantises_every_non_empty_linear_and_keeps_the_logits_close() -> None:
    compact = compact_model(two_layer_edge_cases()).eval()
    int8 = quantize_int8(compact)
    quantized = _quantized_linears(int8)
    # layer 1 lost every head and neuron: its zero-width Linear layers stay as they were
    assert "bert.encoder.layer.0.attention.self.query" in quantized
    assert "bert.encoder.layer.1.attention.self.query" not in quantized
    assert "classifier" in quantized
    assert not _quantized_linears(compact)  # a copy: the compact model is untouched
    reference = _logits(compact)
    difference = (_logits(int8) - reference).abs().max()
    assert 0 < difference < 0.05 * reference.abs().max() + 1e-3


def test_int8_weights_weigh_about_a_quarter() -> None:
    model = bert({**TWO_LAYERS, "hidden_size": 128, "intermediate_size": 512}).eval()
    fp32, int8 = serialized_megabytes(model), serialized_megabytes(quantize_int8(model))
    # the Linear weights shrink 4x; the embeddings (vocabulary 100) stay fp32
    assert int8 < 0.45 * fp32


def test_a_quantised_compact_folder_loads_quantised_everywhere(tmp_path) -> None:
    compact = compact_model(two_layer_edge_cases()).eval()
    directory = save_compact(compact, tmp_path / "int8", quantization=DYNAMIC_INT8)
    expected = _logits(quantize_int8(compact))
    loaded = load_compact(directory)
    assert _quantized_linears(loaded) and layer_shapes(loaded) == layer_shapes(compact)
    torch.testing.assert_close(_logits(loaded), expected, rtol=0, atol=0)
    auto = AutoModelForSequenceClassification.from_pretrained(directory).eval()
    assert _quantized_linears(auto)
    torch.testing.assert_close(_logits(auto), expected, rtol=0, atol=0)
    assert _quantized_linears(load_classifier(directory))
    fp32 = load_classifier(directory, fp32=True)  # the saved weights, as an export needs them
    assert not _quantized_linears(fp32)
    torch.testing.assert_close(_logits(fp32), _logits(compact), rtol=0, atol=0)
    with pytest.raises(ValueError, match="quantization must be None or 'dynamic-int8'"):
        save_compact(compact, tmp_path / "x", quantization="int4")


def test_quantize_settings_are_checked() -> None:
    base = {"teacher": "t", "data": {"data_dir": "/d"}}
    assert TrialConfig.from_dict({**base, "quantize": "int8"}).quantize == "int8"
    with pytest.raises(ValueError, match="quantize must be one of.*'int4'"):
        TrialConfig.from_dict({**base, "quantize": "int4"})
    with pytest.raises(ValueError, match="int8 on the CPU, not in bf16"):
        TrialConfig.from_dict({**base, "quantize": "int8", "precision": "bf16"})


def test_an_int8_folder_ships_fp32_weights_so_it_weighs_more_than_the_int8_model(tmp_path) -> None:
    model = bert({**TWO_LAYERS, "hidden_size": 128, "intermediate_size": 512}).eval()
    directory = save_compact(model, tmp_path / "int8", quantization=DYNAMIC_INT8)
    (directory / "teacher.json").write_text("{}" * 100_000)  # not a model file: not shipped
    shipped = folder_megabytes(directory)
    weights = (directory / "model.safetensors").stat().st_size / 1e6
    assert weights < shipped < weights + 0.01  # the weights and config.json, nothing else
    # on disk the fp32 weights, in memory the int8 ones
    assert serialized_megabytes(quantize_int8(model)) < 0.45 * shipped
    assert shipped == pytest.approx(serialized_megabytes(model), rel=0.05)
    with pytest.raises(ValueError, match="holds no model files"):
        folder_megabytes(tmp_path)
