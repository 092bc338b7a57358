"""Compaction: a masked model becomes a genuinely smaller dense transformers model.

The masks are baked into the weights, then whatever contributes nothing is sliced away:

- An attention head goes when its value rows (weights and bias) or its columns of the attention
  output projection are all zero. A head whose query or key rows are all zero is kept: its scores
  are all zero, so it attends uniformly and outputs the mean of its values. Removing it would
  change the logits (nn_pruning removes it anyway).
- An FFN neuron goes when its column of the output matrix is zero, or when its row of the
  intermediate matrix is zero: its activation is then a constant, folded into the output bias.
  Likewise a head with no value weights outputs its value bias, folded into the output bias.

A layer may lose every head or every neuron: zero-width Linear layers run fine on transformers 5,
whose attention takes the head count from tensor shapes. A layer with no head left skips the
attention arithmetic (its family's ``headless_attention``): its output is the output projection's
bias, and reshaping an empty tensor with ``-1`` is undefined in ONNX. ``BertConfig`` cannot describe
per-layer widths and ``from_pretrained`` of a compacted directory fails (or, with
``ignore_mismatched_sizes=True``, silently re-initialises the layers), so ``save_compact`` records
the per-layer shapes in ``config.compact_layers`` and ``load_compact`` rebuilds, slices and loads.

Every module path comes from the model's encoder family (:mod:`trainables.compress.families`);
so do the compact classes: one config and one classifier class per family with a
``compact_model_type`` (``CompactBertConfig`` / ``CompactBertForSequenceClassification`` for BERT).

Example::

    compact = compact_model(masked)          # logits equal the masked model's
    save_compact(compact, "out/student")
    model = load_compact("out/student")     # or load_classifier(folder): compact or plain
    speedup_ideal(teacher, model, seq_len=128), parameter_counts(model)["total"]
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_model, save_model
from torch import Tensor, nn
from transformers import PreTrainedModel

from trainables import metrics
from trainables.compress.families import BERT, FAMILIES, Family, family_of
from trainables.compress.pruning import MaskedLinear

WEIGHTS_NAME = "model.safetensors"
# The config key holding one {"heads": ..., "ffn": ...} entry per encoder layer.
LAYERS_KEY = "compact_layers"
# BERT's compact folders' model type: transformers' Auto classes and ``pipeline`` load it once
# this module is imported (the classes below are registered then), with no remote code.
COMPACT_MODEL_TYPE = BERT.compact_model_type


class ModelFolderError(ValueError):
    """A folder that holds no classifier :func:`load_classifier` can read, and why."""


def _compact_classes(family: Family) -> tuple[type, type]:
    """The config and classifier classes of ``family``'s compact folders: its own classes plus
    the width of every encoder layer (``compact_layers``) and the quantisation to apply on load."""
    stem = family.classifier_class.__name__.removesuffix("ForSequenceClassification")

    class CompactConfig(family.config_class):
        model_type = family.compact_model_type

        def __init__(
            self,
            compact_layers: list[dict[str, int]] | None = None,
            quantization: str | None = None,
            **kwargs,
        ) -> None:
            super().__init__(**kwargs)
            self.compact_layers = compact_layers
            # "dynamic-int8": the weights are fp32 on disk and quantised again when loaded
            self.quantization = quantization

    class CompactClassifier(family.classifier_class):
        config_class = CompactConfig

        def __init__(self, config: CompactConfig) -> None:
            super().__init__(config)
            shapes = getattr(config, LAYERS_KEY, None)
            if shapes:
                _resize_layers(self, family, shapes)

        @classmethod
        def from_pretrained(cls, *args, **kwargs):  # type: ignore[override]
            """transformers' loader, then the int8 quantisation the folder asks for, if any."""
            return _quantized_as_saved(super().from_pretrained(*args, **kwargs))

    CompactConfig.__doc__ = (
        f"``{family.config_class.__name__}`` plus the width of every encoder layer "
        "(``compact_layers``)."
    )
    CompactClassifier.__doc__ = (
        f"A {stem} classifier whose layers have the heads and FFN widths of "
        "``config.compact_layers``: what ``from_pretrained`` builds before it loads a compact "
        "folder's weights."
    )
    for cls, name in ((CompactConfig, "Config"), (CompactClassifier, "ForSequenceClassification")):
        cls.__name__ = cls.__qualname__ = f"Compact{stem}{name}"
        cls.__module__ = __name__
    return CompactConfig, CompactClassifier


# Per compact model type: its config and classifier classes.
COMPACT_CLASSES: dict[str, tuple[type, type]] = {
    family.compact_model_type: _compact_classes(family)
    for family in FAMILIES.values()
    if family.compact_model_type
}
CompactBertConfig, CompactBertForSequenceClassification = COMPACT_CLASSES[COMPACT_MODEL_TYPE]
# Every compact class importable by its name from this module (pickle, repr, docs).
globals().update({cls.__name__: cls for pair in COMPACT_CLASSES.values() for cls in pair})


def _quantized_as_saved(model: PreTrainedModel) -> PreTrainedModel:
    from trainables.compress.quantize import DYNAMIC_INT8, quantize_int8

    if getattr(model.config, "quantization", None) == DYNAMIC_INT8:
        return quantize_int8(model.eval())
    return model


def register_compact_classes() -> None:
    """Make ``AutoConfig`` / ``AutoModelForSequenceClassification`` (and so ``pipeline``) know
    the compact model type. Done when this module is imported; safe to repeat."""
    for model_type, (config_class, model_class) in COMPACT_CLASSES.items():
        transformers.AutoConfig.register(model_type, config_class, exist_ok=True)
        transformers.AutoModelForSequenceClassification.register(
            config_class, model_class, exist_ok=True
        )


@torch.no_grad()
def compact_model(model: PreTrainedModel) -> PreTrainedModel:
    """A dense copy of ``model`` with the masks baked in and empty heads and neurons removed.

    Uses the masks as they stand: apply the final threshold first. The input model is left
    untouched; an un-pruned model gives an equivalent copy.
    """
    family = family_of(model)
    compact = copy.deepcopy(model)
    for layer in family.encoder_layers(compact):
        _compact_attention(layer, family)
        _compact_ffn(layer, family)
    setattr(compact.config, LAYERS_KEY, layer_shapes(compact))
    return compact


def save_compact(
    model: PreTrainedModel, directory: str | Path, *, quantization: str | None = None
) -> Path:
    """Write ``config.json`` (the family's compact model type, e.g. ``lowres-compact-bert``, with
    the per-layer shapes) and ``model.safetensors``: a folder
    ``AutoModelForSequenceClassification.from_pretrained`` reads once this module is imported.
    ``quantization="dynamic-int8"`` has every loader quantise the (fp32) weights again, as the
    trial measured them."""
    from trainables.compress.quantize import DYNAMIC_INT8

    if quantization not in (None, DYNAMIC_INT8):
        raise ValueError(f"quantization must be None or {DYNAMIC_INT8!r}, got {quantization!r}")
    if any(isinstance(module, MaskedLinear) for module in model.modules()):
        raise ValueError("the model still has masked layers: save compact_model(model) instead")
    family = family_of(model, compact=True)
    if not isinstance(model, family.classifier_class):
        raise ValueError(
            f"save_compact writes {family.classifier_class.__name__} models, got "
            f"{type(model).__name__}"
        )
    config_class, model_class = COMPACT_CLASSES[family.compact_model_type]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    settings = model.config.to_dict()
    for key in ("model_type", "architectures", "transformers_version", LAYERS_KEY, "quantization"):
        settings.pop(key, None)
    config = config_class(compact_layers=layer_shapes(model), quantization=quantization, **settings)
    config.architectures = [model_class.__name__]
    config.save_pretrained(directory)
    save_model(model, str(directory / WEIGHTS_NAME))
    return directory


def load_compact(
    directory: str | Path, device: str | torch.device = "cpu", *, fp32: bool = False
) -> PreTrainedModel:
    """Rebuild the model that ``save_compact`` wrote, in eval mode (also a folder written before
    the compact model type existed: a transformers class in ``architectures`` plus
    ``compact_layers``). ``fp32=True`` keeps the saved fp32 weights of a folder saved for int8
    instead of quantising them as every other loader does (what an ONNX export needs)."""
    directory = Path(directory)
    config = transformers.AutoConfig.from_pretrained(directory, trust_remote_code=False)
    shapes = getattr(config, LAYERS_KEY, None)
    if config.model_type in COMPACT_CLASSES:
        model_class: type = COMPACT_CLASSES[config.model_type][1]
    else:
        architecture = (config.architectures or [None])[0]
        model_class = getattr(transformers, architecture or "", None)
        if shapes is None or not (
            isinstance(model_class, type) and issubclass(model_class, PreTrainedModel)
        ):
            raise ValueError(
                f"{directory} was not written by save_compact (config.json needs model type "
                f"{COMPACT_MODEL_TYPE!r}, or '{LAYERS_KEY}' and a transformers class in "
                f"'architectures'; found {architecture!r})"
            )
    model = model_class(config)
    if config.model_type not in COMPACT_CLASSES:
        _resize_layers(model, family_of(model), shapes)
    load_model(model, str(directory / WEIGHTS_NAME), strict=True)
    if fp32:
        return model.eval().to(device)
    if getattr(config, "quantization", None) and torch.device(device).type != "cpu":
        raise ValueError(
            f"{directory} is a {config.quantization} model, which runs on the CPU: load it with "
            "device='cpu'"
        )
    return _quantized_as_saved(model.eval()).to(device)


def load_classifier(
    directory: str | Path, device: str | torch.device = "cpu", *, fp32: bool = False
) -> PreTrainedModel:
    """The sequence classifier in a model folder, in eval mode: a compact folder (through
    :func:`load_compact`, ``fp32`` as there) or a plain transformers classifier folder (a
    teacher). Weights load through safetensors only; no remote code runs."""
    folder = Path(directory)
    if not (folder / "config.json").is_file():
        raise ModelFolderError(
            f"{folder} is not a model folder (no config.json): pass a trial's model folder, e.g. "
            "the model_dir column of summary.csv, or a teacher folder"
        )
    config = transformers.AutoConfig.from_pretrained(folder, trust_remote_code=False)
    if config.model_type in COMPACT_CLASSES or getattr(config, LAYERS_KEY, None) is not None:
        return load_compact(folder, device, fp32=fp32)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        folder, config=config, trust_remote_code=False, use_safetensors=True
    )
    return model.eval().to(device)


def layer_shapes(model: nn.Module) -> list[dict[str, int]]:
    """Attention heads and FFN width kept in each encoder layer."""
    family = family_of(model)
    return [
        {
            "heads": layer.get_submodule(family.query).out_features // family.head_size(layer),
            "ffn": layer.get_submodule(family.ffn_input).out_features,
        }
        for layer in family.encoder_layers(model)
    ]


def kept_structure(model: nn.Module) -> dict[str, int]:
    """Attention heads and FFN neurons the encoder keeps in all (``heads``, ``ffn_neurons``),
    and its layers (``layers``)."""
    shapes = layer_shapes(model)
    return {
        metrics.HEADS: sum(shape["heads"] for shape in shapes),
        metrics.FFN_NEURONS: sum(shape["ffn"] for shape in shapes),
        metrics.LAYERS: len(shapes),
    }


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Parameters in the embeddings, the encoder and the head (pooler + classifier), and in total.

    Mask scores are training state, not model parameters, and are not counted.
    """
    family = family_of(model)

    def count(module: nn.Module) -> int:
        return sum(
            param.numel()
            for name, param in module.named_parameters()
            if not name.endswith("mask_scores")
        )

    projection = family.embedding_projection_of(model)  # ELECTRA's, with the embeddings
    counts = {
        "embeddings": count(family.embeddings_of(model))
        + (count(projection) if projection is not None else 0),
        "encoder": count(family.encoder_of(model)),
    }
    counts["total"] = count(model)
    counts["head"] = counts["total"] - counts["embeddings"] - counts["encoder"]
    return counts


def encoder_density(compact: nn.Module, reference_config: transformers.PretrainedConfig) -> float:
    """Prunable encoder weights (attention and FFN matrices) kept, relative to the reference's."""
    family = family_of(compact)
    kept = sum(
        layer.get_submodule(path).weight.numel()
        for layer in family.encoder_layers(compact)
        for path in family.prunable_linears
    )
    names = family.config_names
    hidden, ffn = getattr(reference_config, names.hidden), getattr(reference_config, names.ffn)
    full = getattr(reference_config, names.layers) * (4 * hidden * hidden + 2 * hidden * ffn)
    return kept / full


def model_flops(model: nn.Module, seq_len: int) -> float:
    """Analytic FLOPs of one sequence's forward pass (2 per multiply-add, matmuls only).

    Counts the encoder's projections and FFN at every position (and the family's embedding
    projection, ELECTRA's), the attention scores and the weighted sum of values, and every other
    Linear outside the encoder once (the pooler and the classifier of a sequence classifier).
    Embedding lookups, softmax, layer norms, activations and bias additions are left out: they
    are a few percent at most.
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    family = family_of(model)
    flops = 0.0
    encoder_linears = set()
    projection = family.embedding_projection_of(model)
    if projection is not None:
        encoder_linears.add(id(projection))
        flops += 2.0 * seq_len * projection.in_features * projection.out_features
    for layer in family.encoder_layers(model):
        for path in family.prunable_linears:
            linear = layer.get_submodule(path)
            encoder_linears.add(id(linear))
            flops += 2.0 * seq_len * linear.in_features * linear.out_features
        query, value = layer.get_submodule(family.query), layer.get_submodule(family.value)
        flops += 2.0 * seq_len * seq_len * (query.out_features + value.out_features)
    for module in model.modules():
        if isinstance(module, nn.Linear) and id(module) not in encoder_linears:
            flops += 2.0 * module.in_features * module.out_features
    return flops


def speedup_ideal(baseline: nn.Module, compact: nn.Module, seq_len: int) -> float:
    """Baseline FLOPs / compact FLOPs at ``seq_len``."""
    return model_flops(baseline, seq_len) / model_flops(compact, seq_len)


def _compact_attention(layer: nn.Module, family: Family) -> None:
    head_size = family.head_size(layer)
    query, key, value, output = (
        _effective(layer.get_submodule(path)) for path in family.attention_linears
    )
    (value_weight, value_bias), (output_weight, output_bias) = value, output
    heads = value_weight.shape[0] // head_size
    head_rows = torch.arange(heads * head_size, device=value_weight.device).view(heads, head_size)
    no_value = (value_weight.view(heads, -1) == 0).all(dim=1)
    no_output = (output_weight.view(-1, heads, head_size) == 0).all(dim=2).all(dim=0)
    # Attention weights sum to one, so a head without value weights outputs its value bias.
    constant = head_rows[no_value & ~no_output].flatten()
    output_bias = output_bias + output_weight[:, constant] @ value_bias[constant]
    rows = head_rows[~(no_value | no_output)].flatten()
    _install(
        layer,
        family,
        {
            family.query: (query[0][rows], query[1][rows]),
            family.key: (key[0][rows], key[1][rows]),
            family.value: (value_weight[rows], value_bias[rows]),
            family.attention_output: (output_weight[:, rows], output_bias),
        },
    )


def _compact_ffn(layer: nn.Module, family: Family) -> None:
    (in_weight, in_bias), (out_weight, out_bias) = (
        _effective(layer.get_submodule(path)) for path in family.ffn_linears
    )
    no_input = (in_weight == 0).all(dim=1)
    no_output = (out_weight == 0).all(dim=0)
    # A neuron without input weights has the constant activation act(bias).
    constant = no_input & ~no_output
    activation = family.ffn_activation(layer)
    out_bias = out_bias + out_weight[:, constant] @ activation(in_bias[constant])
    keep = ~(no_input | no_output)
    _install(
        layer,
        family,
        {
            family.ffn_input: (in_weight[keep], in_bias[keep]),
            family.ffn_output: (out_weight[:, keep], out_bias),
        },
    )


def _resize_layers(model: nn.Module, family: Family, shapes: list[dict[str, int]]) -> None:
    """Give every layer empty Linear layers of its compacted shape, ready for loading."""
    layers = family.encoder_layers(model)
    if len(shapes) != len(layers):
        raise ValueError(f"{LAYERS_KEY} has {len(shapes)} entries for {len(layers)} layers")
    for layer, shape in zip(layers, shapes, strict=True):
        hidden = layer.get_submodule(family.query).in_features
        width, ffn = shape["heads"] * family.head_size(layer), shape["ffn"]
        sizes = {
            family.query: (width, hidden),
            family.key: (width, hidden),
            family.value: (width, hidden),
            family.attention_output: (hidden, width),
            family.ffn_input: (ffn, hidden),
            family.ffn_output: (hidden, ffn),
        }
        like = layer.get_submodule(family.query).weight
        _install(
            layer,
            family,
            {path: (like.new_zeros(size), like.new_zeros(size[0])) for path, size in sizes.items()},
        )


def _install(layer: nn.Module, family: Family, weights: dict[str, tuple[Tensor, Tensor]]) -> None:
    """Put dense Linear layers holding ``weights`` in place; keep the head bookkeeping right."""
    for path, (weight, bias) in weights.items():
        # A shell whose parameters are replaced: no initialisation of zero-width weights.
        linear = nn.Linear(1, 1, device="meta")
        linear.out_features, linear.in_features = weight.shape
        linear.weight = nn.Parameter(weight.clone())
        linear.bias = nn.Parameter(bias.clone())
        family.replace(layer, path, linear)
    family.set_head_count(layer)


def _effective(module: nn.Module) -> tuple[Tensor, Tensor]:
    """The weight and bias a (masked or plain) Linear layer applies, detached."""
    if isinstance(module, MaskedLinear):
        weight, bias = module.masked_weight_and_bias()
    else:
        weight, bias = module.weight, module.bias
    if bias is None:
        bias = weight.new_zeros(weight.shape[0])
    return weight.detach(), bias.detach()


register_compact_classes()
