"""Depth as a lever: which layers each selection drops, a dropped model computes what the teacher
computes with those layers skipped, and a dropped + pruned model goes through compaction, the
compact folder, ``from_pretrained`` and ONNX in every family; the bad-input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from torch import nn

from tests.trainables.compress.test_family_levers import (
    LABELS,
    VOCAB,
    build,
    inputs,
    logits,
    pruned,
    word_piece_tokenizer,
)
from trainables import metrics as M
from trainables.compress.compaction import (
    compact_model,
    encoder_density,
    kept_structure,
    layer_shapes,
    load_classifier,
    save_compact,
    speedup_ideal,
)
from trainables.compress.depth import (
    LAYER_SELECTIONS,
    drop_layers,
    encoder_depth,
    layers_to_drop,
    learned_layers_to_drop,
    resolve_drop_count,
    skip_divergence,
)
from trainables.compress.families import FAMILIES, family_of
from trainables.config import TrialConfig

FAMILY_TYPES = sorted(FAMILIES)


@pytest.mark.parametrize(
    ("depth", "count", "selection", "expected"),
    [
        (12, 3, "top", [9, 10, 11]),
        (12, 3, "bottom", [0, 1, 2]),
        (12, 3, "middle", [4, 5, 6]),
        (12, 6, "middle", [3, 4, 5, 6, 7, 8]),
        (4, 2, "middle", [1, 2]),
        (12, 3, "alternate", [1, 5, 9]),
        (12, 6, "alternate", [1, 3, 5, 7, 9, 11]),  # DistilBERT's student
        (12, 9, "alternate", [1, 2, 3, 5, 6, 7, 9, 10, 11]),
        (4, 1, "alternate", [1]),
        (4, 3, "alternate", [1, 2, 3]),
        (12, 0, "top", []),
    ],
)
def test_each_selection_drops_its_layers(depth, count, selection, expected) -> None:
    assert layers_to_drop(depth, count, selection) == expected


def test_learned_drops_the_least_important_layers_ties_to_the_lower_index() -> None:
    assert layers_to_drop(4, 2, "learned", importance=[0.3, 0.1, 0.3, 0.2]) == [1, 3]
    assert layers_to_drop(4, 1, "learned", importance=[0.2, 0.5, 0.2, 0.9]) == [0]
    with pytest.raises(ValueError, match="one importance score per layer"):
        layers_to_drop(4, 1, "learned")


def test_a_share_resolves_against_the_teachers_depth() -> None:
    assert [resolve_drop_count(0, 0.5, depth) for depth in (2, 4, 12)] == [1, 2, 6]
    assert resolve_drop_count(0, 0.75, 12) == 9 and resolve_drop_count(0, 0.1, 4) == 0


class _Identity(nn.Module):
    """A layer that passes its hidden states through: the layer skipped, by hand."""

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return hidden_states


@pytest.mark.parametrize("model_type", FAMILY_TYPES)
@pytest.mark.parametrize("selection", ["top", "bottom", "alternate"])
def test_a_dropped_model_computes_the_teacher_with_those_layers_skipped(
    model_type: str, selection: str
) -> None:
    teacher = build(model_type)
    family = family_of(teacher)
    indices = layers_to_drop(3, 2 if selection == "alternate" else 1, selection)
    by_hand = build(model_type)
    layers = family.encoder_layers(by_hand)
    for index in indices:
        layers[index] = _Identity()
    dropped = drop_layers(build(model_type), indices)
    assert encoder_depth(dropped) == len(family.encoder_layers(dropped)) == 3 - len(indices)
    torch.testing.assert_close(logits(dropped), logits(by_hand), atol=1e-6, rtol=1e-6)
    assert not torch.allclose(logits(dropped), logits(teacher), atol=1e-3)
    # the kept layers are renumbered (transformers' cache index), the teacher's left alone
    idx = [
        module.layer_idx
        for module in dropped.modules()
        if getattr(module, "layer_idx", None) is not None
    ]
    assert sorted(set(idx)) == ([] if model_type == "distilbert" else [0, 1][: 3 - len(indices)])
    assert encoder_depth(teacher) == 3


@pytest.mark.parametrize("model_type", FAMILY_TYPES)
def test_a_dropped_and_pruned_model_ships_loads_and_exports(model_type: str, tmp_path) -> None:
    teacher = build(model_type)
    masked = pruned(model_type)  # layer 0 loses every head, layer 2 every FFN neuron
    drop_layers(masked, [1])
    compact = compact_model(masked).eval()
    torch.testing.assert_close(logits(compact), logits(masked), atol=1e-5, rtol=1e-5)
    assert kept_structure(compact)[M.LAYERS] == 2 and len(layer_shapes(compact)) == 2
    # dropped layers are pruned weight: density counts against the teacher's whole encoder
    assert encoder_density(compact, teacher.config) < 2 / 3
    assert speedup_ideal(teacher, compact, 12) > 1.5

    folder = save_compact(compact, tmp_path / model_type)
    word_piece_tokenizer(model_type).save_pretrained(folder)
    auto = transformers.AutoModelForSequenceClassification.from_pretrained(
        folder, trust_remote_code=False
    ).eval()
    assert encoder_depth(auto) == 2
    torch.testing.assert_close(logits(auto), logits(compact), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits(load_classifier(folder)), logits(compact))

    ort = pytest.importorskip("onnxruntime")
    from trainables.commands.export import FP32_TOLERANCE, export_model

    target = tmp_path / f"{model_type}.onnx"
    sample = inputs()
    export_model(compact, sample, target)
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(["logits"], {k: v.numpy() for k, v in sample.items()})
    assert abs(onnx_logits - logits(compact).numpy()).max() <= FP32_TOLERANCE


def test_learned_drops_the_layer_whose_skipping_changes_the_predictions_least() -> None:
    model = build("bert")
    batches = [inputs(batch=8)]
    scores = [skip_divergence(model, batches, [layer]) for layer in range(3)]
    assert all(score > 0 for score in scores)
    chosen = learned_layers_to_drop(model, batches, 1)
    assert chosen == [min(range(3), key=scores.__getitem__)]
    # greedy: the second pick is scored with the first already skipped
    pair = learned_layers_to_drop(model, batches, 2)
    rest = [layer for layer in range(3) if layer not in chosen]
    second = min(rest, key=lambda layer: skip_divergence(model, batches, [*chosen, layer]))
    assert pair == sorted([*chosen, second])
    assert learned_layers_to_drop(model, batches, 2) == pair  # deterministic
    assert encoder_depth(model) == 3 and len(family_of(model).encoder_layers(model)) == 3


def test_bad_depth_settings_are_refused_with_one_line() -> None:
    with pytest.raises(
        ValueError, match=r"cannot drop 3 layers of a 3-layer encoder: drop at most 2"
    ):
        drop_layers(build("distilbert"), [0, 1, 2])
    with pytest.raises(ValueError, match="cannot drop 13 layers of a 12-layer encoder"):
        layers_to_drop(12, 13, "top")
    with pytest.raises(ValueError, match="cannot drop 4 layers of a 4-layer"):
        resolve_drop_count(0, 0.9, 4)  # round(3.6) = 4
    with pytest.raises(ValueError, match="must be one of top, bottom, middle, alternate, learned"):
        layers_to_drop(12, 3, "random")
    with pytest.raises(ValueError, match=r"no training batches|there are none"):
        learned_layers_to_drop(build("bert"), [], 1)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        drop_layers(build("bert"), [3])
    assert LAYER_SELECTIONS == ("top", "bottom", "middle", "alternate", "learned")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"drop_layers": 2, "drop_layer_share": 0.5}, "set drop_layers .2. or drop_layer_share"),
        ({"drop_layer_share": 1.0}, r"drop_layer_share must lie in \[0, 1\)"),
        ({"drop_layer_share": -0.1}, r"drop_layer_share must lie in \[0, 1\)"),
        ({"drop_layer_share": "half"}, r"drop_layer_share must lie in \[0, 1\)"),
        ({"drop_layers": -1}, "drop_layers must be >= 0"),
        ({"drop_layers": 1.5}, "drop_layers must be a whole number"),
        ({"drop_layers": "3"}, "drop_layers must be a whole number"),
        ({"layer_selection": "random"}, "layer_selection must be one of top, bottom"),
        ({"kind": "baseline", "drop_layers": 1}, "a baseline trial keeps the teacher's layers"),
        ({"kind": "classical", "drop_layer_share": 0.5}, "classical trial keeps the teacher"),
    ],
)
def test_the_trial_config_refuses_bad_depth_keys(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrialConfig.from_dict(values)


def test_the_trial_config_takes_depth_keys() -> None:
    cfg = TrialConfig.from_dict({"drop_layer_share": 0.5, "layer_selection": "learned"})
    assert (cfg.drop_layers, cfg.drop_layer_share, cfg.layer_selection) == (0, 0.5, "learned")
    assert TrialConfig().drop_layers == 0 and TrialConfig().layer_selection == "top"
    # a count read back from a table as a float, or a numpy integer, is the same count
    assert TrialConfig.from_dict({"drop_layers": 3.0}).drop_layers == 3
    assert type(TrialConfig.from_dict({"drop_layers": np.int64(2)}).drop_layers) is int
    assert (VOCAB, LABELS) == (120, 3)


def test_the_teachers_own_structure_reports_its_depth(tmp_path: Path) -> None:
    teacher = build("distilbert")
    assert kept_structure(teacher)[M.LAYERS] == 3 == encoder_depth(teacher.config)
