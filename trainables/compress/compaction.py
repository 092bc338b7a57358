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
attention arithmetic (``HeadlessSelfAttention``): its output is the output projection's bias, and
reshaping an empty tensor with ``-1`` is undefined in ONNX. ``BertConfig`` cannot describe per-layer
widths and ``from_pretrained`` of a compacted directory fails (or, with
``ignore_mismatched_sizes=True``, silently re-initialises the layers), so ``save_compact`` records
the per-layer shapes in ``config.compact_layers`` and ``load_compact`` rebuilds, slices and loads.

Example::

    compact = compact_model(masked)          # logits equal the masked model's
    save_compact(compact, "out/student")
    model = load_compact("out/student")
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
from transformers.models.bert.modeling_bert import BertSelfAttention

from trainables import metrics
from trainables.compress.pruning import ATTENTION_LINEARS, FFN_LINEARS, MaskedLinear, encoder_layers

WEIGHTS_NAME = "model.safetensors"
# The config key holding one {"heads": ..., "ffn": ...} entry per encoder layer.
LAYERS_KEY = "compact_layers"
# A compact folder's own model type: transformers' Auto classes and ``pipeline`` load it once
# this module is imported (the classes below are registered then), with no remote code.
COMPACT_MODEL_TYPE = "lowres-compact-bert"


class CompactBertConfig(transformers.BertConfig):
    """``BertConfig`` plus the width of every encoder layer (``compact_layers``)."""

    model_type = COMPACT_MODEL_TYPE

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


class CompactBertForSequenceClassification(transformers.BertForSequenceClassification):
    """A BERT classifier whose layers have the heads and FFN widths of ``config.compact_layers``:
    what ``from_pretrained`` builds before it loads a compact folder's weights."""

    config_class = CompactBertConfig

    def __init__(self, config: CompactBertConfig) -> None:
        super().__init__(config)
        shapes = getattr(config, LAYERS_KEY, None) or []
        layers = encoder_layers(self)
        if shapes and len(shapes) != len(layers):
            raise ValueError(f"{LAYERS_KEY} has {len(shapes)} entries for {len(layers)} layers")
        for layer, shape in zip(layers, shapes, strict=False):
            _resize_layer(layer, shape["heads"], shape["ffn"])

    @classmethod
    def from_pretrained(cls, *args, **kwargs):  # type: ignore[override]
        """transformers' loader, then the int8 quantisation the folder asks for, if any."""
        return _quantized_as_saved(super().from_pretrained(*args, **kwargs))


def _quantized_as_saved(model: PreTrainedModel) -> PreTrainedModel:
    from trainables.compress.quantize import DYNAMIC_INT8, quantize_int8

    if getattr(model.config, "quantization", None) == DYNAMIC_INT8:
        return quantize_int8(model.eval())
    return model


def register_compact_classes() -> None:
    """Make ``AutoConfig`` / ``AutoModelForSequenceClassification`` (and so ``pipeline``) know
    the compact model type. Done when this module is imported; safe to repeat."""
    transformers.AutoConfig.register(COMPACT_MODEL_TYPE, CompactBertConfig, exist_ok=True)
    transformers.AutoModelForSequenceClassification.register(
        CompactBertConfig, CompactBertForSequenceClassification, exist_ok=True
    )


@torch.no_grad()
def compact_model(model: PreTrainedModel) -> PreTrainedModel:
    """A dense copy of ``model`` with the masks baked in and empty heads and neurons removed.

    Uses the masks as they stand: apply the final threshold first. The input model is left
    untouched; an un-pruned model gives an equivalent copy.
    """
    compact = copy.deepcopy(model)
    for layer in encoder_layers(compact):
        _compact_attention(layer)
        _compact_ffn(layer)
    setattr(compact.config, LAYERS_KEY, layer_shapes(compact))
    return compact


def save_compact(
    model: PreTrainedModel, directory: str | Path, *, quantization: str | None = None
) -> Path:
    """Write ``config.json`` (model type ``lowres-compact-bert``, with the per-layer shapes) and
    ``model.safetensors``: a folder ``AutoModelForSequenceClassification.from_pretrained`` reads
    once this module is imported. ``quantization="dynamic-int8"`` has every loader quantise the
    (fp32) weights again, as the trial measured them."""
    from trainables.compress.quantize import DYNAMIC_INT8

    if quantization not in (None, DYNAMIC_INT8):
        raise ValueError(f"quantization must be None or {DYNAMIC_INT8!r}, got {quantization!r}")
    if any(isinstance(module, MaskedLinear) for module in model.modules()):
        raise ValueError("the model still has masked layers: save compact_model(model) instead")
    if not isinstance(model, transformers.BertForSequenceClassification):
        raise ValueError(
            f"save_compact writes BERT sequence classifiers, got {type(model).__name__}"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    settings = model.config.to_dict()
    for key in ("model_type", "architectures", "transformers_version", LAYERS_KEY):
        settings.pop(key, None)
    settings.pop("quantization", None)
    config = CompactBertConfig(
        compact_layers=layer_shapes(model), quantization=quantization, **settings
    )
    config.architectures = [CompactBertForSequenceClassification.__name__]
    config.save_pretrained(directory)
    save_model(model, str(directory / WEIGHTS_NAME))
    return directory


def load_compact(directory: str | Path, device: str | torch.device = "cpu") -> PreTrainedModel:
    """Rebuild the model that ``save_compact`` wrote, in eval mode (also a folder written before
    the compact model type existed: a transformers class in ``architectures`` plus
    ``compact_layers``)."""
    directory = Path(directory)
    config = transformers.AutoConfig.from_pretrained(directory)
    shapes = getattr(config, LAYERS_KEY, None)
    if isinstance(config, CompactBertConfig):
        model_class: type = CompactBertForSequenceClassification
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
    if not isinstance(model, CompactBertForSequenceClassification):
        layers = encoder_layers(model)
        if len(shapes) != len(layers):
            raise ValueError(f"{LAYERS_KEY} has {len(shapes)} entries for {len(layers)} layers")
        for layer, shape in zip(layers, shapes, strict=True):
            _resize_layer(layer, shape["heads"], shape["ffn"])
    load_model(model, str(directory / WEIGHTS_NAME), strict=True)
    if getattr(config, "quantization", None) and torch.device(device).type != "cpu":
        raise ValueError(
            f"{directory} is a {config.quantization} model, which runs on the CPU: load it with "
            "device='cpu'"
        )
    return _quantized_as_saved(model.eval()).to(device)


def layer_shapes(model: nn.Module) -> list[dict[str, int]]:
    """Attention heads and FFN width kept in each encoder layer."""
    return [
        {
            "heads": layer.attention.self.query.out_features
            // layer.attention.self.attention_head_size,
            "ffn": layer.intermediate.dense.out_features,
        }
        for layer in encoder_layers(model)
    ]


def kept_structure(model: nn.Module) -> dict[str, int]:
    """Attention heads and FFN neurons the encoder keeps in all (``heads``, ``ffn_neurons``)."""
    shapes = layer_shapes(model)
    return {
        metrics.HEADS: sum(shape["heads"] for shape in shapes),
        metrics.FFN_NEURONS: sum(shape["ffn"] for shape in shapes),
    }


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Parameters in the embeddings, the encoder and the head (pooler + classifier), and in total.

    Mask scores are training state, not model parameters, and are not counted.
    """
    base = getattr(model, "base_model", model)

    def count(module: nn.Module) -> int:
        return sum(
            param.numel()
            for name, param in module.named_parameters()
            if not name.endswith("mask_scores")
        )

    counts = {"embeddings": count(base.embeddings), "encoder": count(base.encoder)}
    counts["total"] = count(model)
    counts["head"] = counts["total"] - counts["embeddings"] - counts["encoder"]
    return counts


def encoder_density(compact: nn.Module, reference_config: transformers.PretrainedConfig) -> float:
    """Prunable encoder weights (attention and FFN matrices) kept, relative to the reference's."""
    kept = sum(
        layer.get_submodule(path).weight.numel()
        for layer in encoder_layers(compact)
        for path in (*ATTENTION_LINEARS, *FFN_LINEARS)
    )
    hidden, ffn = reference_config.hidden_size, reference_config.intermediate_size
    full = reference_config.num_hidden_layers * (4 * hidden * hidden + 2 * hidden * ffn)
    return kept / full


def model_flops(model: nn.Module, seq_len: int) -> float:
    """Analytic FLOPs of one sequence's forward pass (2 per multiply-add, matmuls only).

    Counts the encoder's projections and FFN at every position, the attention scores and the
    weighted sum of values, and every Linear outside the encoder once (the pooler and the
    classifier of a sequence classifier). Embedding lookups, softmax, layer norms, activations
    and bias additions are left out: they are a few percent at most.
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    flops = 0.0
    encoder_linears = set()
    for layer in encoder_layers(model):
        for path in (*ATTENTION_LINEARS, *FFN_LINEARS):
            linear = layer.get_submodule(path)
            encoder_linears.add(id(linear))
            flops += 2.0 * seq_len * linear.in_features * linear.out_features
        query, value = layer.attention.self.query, layer.attention.self.value
        flops += 2.0 * seq_len * seq_len * (query.out_features + value.out_features)
    for module in model.modules():
        if isinstance(module, nn.Linear) and id(module) not in encoder_linears:
            flops += 2.0 * module.in_features * module.out_features
    return flops


def speedup_ideal(baseline: nn.Module, compact: nn.Module, seq_len: int) -> float:
    """Baseline FLOPs / compact FLOPs at ``seq_len``."""
    return model_flops(baseline, seq_len) / model_flops(compact, seq_len)


def _compact_attention(layer: nn.Module) -> None:
    attention = layer.attention.self
    head_size = attention.attention_head_size
    query, key, value, output = (_effective(layer.get_submodule(p)) for p in ATTENTION_LINEARS)
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
        {
            "attention.self.query": (query[0][rows], query[1][rows]),
            "attention.self.key": (key[0][rows], key[1][rows]),
            "attention.self.value": (value_weight[rows], value_bias[rows]),
            "attention.output.dense": (output_weight[:, rows], output_bias),
        },
    )


def _compact_ffn(layer: nn.Module) -> None:
    (in_weight, in_bias), (out_weight, out_bias) = (
        _effective(layer.get_submodule(path)) for path in FFN_LINEARS
    )
    no_input = (in_weight == 0).all(dim=1)
    no_output = (out_weight == 0).all(dim=0)
    # A neuron without input weights has the constant activation act(bias).
    constant = no_input & ~no_output
    activation = layer.intermediate.intermediate_act_fn
    out_bias = out_bias + out_weight[:, constant] @ activation(in_bias[constant])
    keep = ~(no_input | no_output)
    _install(
        layer,
        {
            "intermediate.dense": (in_weight[keep], in_bias[keep]),
            "output.dense": (out_weight[:, keep], out_bias),
        },
    )


def _resize_layer(layer: nn.Module, heads: int, ffn: int) -> None:
    """Give one layer empty Linear layers of a compacted shape, ready for ``load_state_dict``."""
    hidden = layer.attention.self.query.in_features
    width = heads * layer.attention.self.attention_head_size
    shapes = {
        "attention.self.query": (width, hidden),
        "attention.self.key": (width, hidden),
        "attention.self.value": (width, hidden),
        "attention.output.dense": (hidden, width),
        "intermediate.dense": (ffn, hidden),
        "output.dense": (hidden, ffn),
    }
    like = layer.attention.self.query.weight
    _install(
        layer,
        {path: (like.new_zeros(shape), like.new_zeros(shape[0])) for path, shape in shapes.items()},
    )


class HeadlessSelfAttention(BertSelfAttention):
    """The self-attention of a layer that lost every head: an empty context, nothing computed.

    Its (zero-width) query, key and value layers stay, so the state dict keeps its keys."""

    def forward(self, hidden_states: Tensor, *args, **kwargs) -> tuple[Tensor, None]:
        return hidden_states.new_zeros(*hidden_states.shape[:-1], 0), None


def _install(layer: nn.Module, weights: dict[str, tuple[Tensor, Tensor]]) -> None:
    """Put dense Linear layers holding ``weights`` in place; keep the head bookkeeping right."""
    for path, (weight, bias) in weights.items():
        # A shell whose parameters are replaced: no initialisation of zero-width weights.
        linear = nn.Linear(1, 1, device="meta")
        linear.out_features, linear.in_features = weight.shape
        linear.weight = nn.Parameter(weight.clone())
        linear.bias = nn.Parameter(bias.clone())
        parent_path, _, name = path.rpartition(".")
        setattr(layer.get_submodule(parent_path), name, linear)
    attention = layer.attention.self
    attention.all_head_size = attention.query.out_features
    attention.num_attention_heads = attention.all_head_size // attention.attention_head_size
    if attention.num_attention_heads == 0 and type(attention) is BertSelfAttention:
        attention.__class__ = HeadlessSelfAttention


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
