"""Encoder families: where a classifier keeps the parts that pruning, compaction and the
accounting touch, as data. Nothing outside this module names a BERT module path.

A :class:`Family` answers, for one model type: where the encoder layers are; in each layer the
attention's query/key/value/output Linear layers, its head size and head count (and the fields to
rewrite after heads are sliced away), the FFN's two Linear layers and its activation; the word
embeddings, the embeddings and encoder of the base model, the classifier head; the config fields
that hold the shape; and what a compact folder of the family is built from.

The families: BERT (mBERT, MuRIL, MahaBERT, LaBSE...), RoBERTa and XLM-RoBERTa (XLM-R,
MahaRoBERTa, AfroXLMR...), ELECTRA discriminators and DistilBERT (distilmBERT), each with its own
compact folder type. Another family is one more entry in :data:`FAMILIES`: where its parts are
(DistilBERT's entry shows a family whose modules are named differently), its
``compact_model_type`` and its ``headless_attention`` (``_headless(TheSelfAttention)``).
ALBERT (one set of layer weights shared by every layer) and DeBERTa (relative-position
projections beside query and key) are refused by name, with the reason.

>>> family_of(transformers.BertConfig()).attention_linears
('attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense')
>>> family_of(transformers.GPT2Config())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: a 'gpt2' model is not a BERT-family model this code knows; supported model ...
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import transformers
from torch import Tensor, nn
from transformers.models.bert.modeling_bert import BertSelfAttention
from transformers.models.distilbert.modeling_distilbert import DistilBertSelfAttention
from transformers.models.electra.modeling_electra import ElectraSelfAttention
from transformers.models.roberta.modeling_roberta import RobertaSelfAttention
from transformers.models.xlm_roberta.modeling_xlm_roberta import XLMRobertaSelfAttention


class _NoHeads:
    """The forward of a self-attention that lost every head: an empty context, nothing computed.
    Its (zero-width) query, key and value layers stay, so the state dict keeps its keys. Where
    the output projection sits inside the attention module (``_output``: DistilBERT's
    ``out_lin``), it turns the empty context into its bias, as the full arithmetic would.

    Reshaping an empty tensor with ``-1`` fails in PyTorch and is undefined in ONNX, so a layer
    left with no head cannot run its family's own forward."""

    _output: str | None = None

    def forward(self, hidden_states: Tensor, *args, **kwargs) -> tuple[Tensor, None]:
        context = hidden_states.new_zeros(*hidden_states.shape[:-1], 0)
        if self._output is not None:
            context = self.get_submodule(self._output)(context)
        return context, None


def _headless(attention: type[nn.Module], output: str | None = None) -> type[nn.Module]:
    """A subclass of the self-attention class ``attention`` for a layer with no head left."""
    cls = type(f"Headless{attention.__name__}", (_NoHeads, attention), {"_output": output})
    cls.__module__ = __name__
    cls.__doc__ = f"``{attention.__name__}`` of a layer that lost every head (no arithmetic)."
    return cls


HeadlessSelfAttention = _headless(BertSelfAttention)
HeadlessRobertaSelfAttention = _headless(RobertaSelfAttention)
HeadlessXLMRobertaSelfAttention = _headless(XLMRobertaSelfAttention)
HeadlessElectraSelfAttention = _headless(ElectraSelfAttention)
HeadlessDistilBertSelfAttention = _headless(DistilBertSelfAttention, output="out_lin")


@dataclass(frozen=True)
class ConfigNames:
    """The config fields that hold a family's shape (hidden size, FFN width, layers, heads) and
    its vocabulary size (the field vocabulary trimming rewrites)."""

    hidden: str = "hidden_size"
    ffn: str = "intermediate_size"
    layers: str = "num_hidden_layers"
    heads: str = "num_attention_heads"
    vocab: str = "vocab_size"


@dataclass(frozen=True)
class Family:
    """Where one encoder family keeps its parts. Paths are dotted ``get_submodule`` paths:
    ``layers``, ``embeddings``, ``encoder`` and ``word_embeddings`` from the base model
    (``model.base_model``), ``classifier`` from the classifier, the rest from one encoder layer.

    After heads are sliced away, the attention module's ``head_width_field`` becomes the query's
    width and ``head_count_field`` that width over ``head_size_field``. A compacted model keeps
    every config field as it was (``compact_layers`` holds the per-layer widths); its folder gets
    ``compact_model_type``, a subclass of ``config_class`` / ``classifier_class``, or cannot be
    saved compact when that is None. ``headless_attention`` (a subclass of the layer's own
    attention class) replaces the attention of a layer left with no head, if given.
    """

    model_type: str
    config_class: type[transformers.PretrainedConfig]
    classifier_class: type[transformers.PreTrainedModel]
    compact_model_type: str | None = None
    headless_attention: type[nn.Module] | None = None
    layers: str = "encoder.layer"
    embeddings: str = "embeddings"
    encoder: str = "encoder"
    word_embeddings: str = "embeddings.word_embeddings"
    classifier: str = "classifier"
    self_attention: str = "attention.self"
    query: str = "attention.self.query"
    key: str = "attention.self.key"
    value: str = "attention.self.value"
    attention_output: str = "attention.output.dense"
    ffn_input: str = "intermediate.dense"
    ffn_output: str = "output.dense"
    activation: str = "intermediate.intermediate_act_fn"
    head_size_field: str = "attention_head_size"
    head_count_field: str = "num_attention_heads"
    head_width_field: str = "all_head_size"
    config_names: ConfigNames = ConfigNames()
    embedding_projection: str | None = None

    @property
    def attention_linears(self) -> tuple[str, str, str, str]:
        """Query, key, value and output projection, in that order."""
        return (self.query, self.key, self.value, self.attention_output)

    @property
    def ffn_linears(self) -> tuple[str, str]:
        """The FFN's input (intermediate) and output Linear layers."""
        return (self.ffn_input, self.ffn_output)

    @property
    def prunable_linears(self) -> tuple[str, ...]:
        """Every Linear layer of an encoder layer that pruning masks, attention first."""
        return (*self.attention_linears, *self.ffn_linears)

    def encoder_layers(self, model: nn.Module) -> nn.ModuleList:
        """The encoder layers of ``model`` (a classifier or its base model), checked."""
        layers = _find(base_model(model), self.layers)
        if not isinstance(layers, nn.ModuleList) or not all(
            isinstance(_find(layer, path), nn.Module)
            for layer in layers
            for path in self.prunable_linears
        ):
            raise ValueError(
                f"{type(model).__name__} is not a BERT-family model of the {self.model_type!r} "
                f"layout: expected base_model.{self.layers}[i] with submodules "
                f"{self.prunable_linears}"
            )
        return layers

    def attention(self, layer: nn.Module) -> nn.Module:
        """The module of one layer that holds the head bookkeeping."""
        return layer.get_submodule(self.self_attention)

    def head_size(self, layer: nn.Module) -> int:
        return int(getattr(self.attention(layer), self.head_size_field))

    def head_count(self, layer: nn.Module) -> int:
        return int(getattr(self.attention(layer), self.head_count_field))

    def set_head_count(self, layer: nn.Module) -> None:
        """Make the attention's bookkeeping match its (sliced) query width; a layer with no head
        left gets ``headless_attention``."""
        attention = self.attention(layer)
        width = layer.get_submodule(self.query).out_features
        setattr(attention, self.head_width_field, width)
        setattr(attention, self.head_count_field, width // self.head_size(layer))
        headless = self.headless_attention
        if width == 0 and headless is not None and type(attention) in headless.__bases__:
            attention.__class__ = headless

    def ffn_activation(self, layer: nn.Module) -> Any:
        """The FFN's activation function (a callable on tensors)."""
        owner, _, name = self.activation.rpartition(".")
        return getattr(layer.get_submodule(owner), name)

    def embeddings_of(self, model: nn.Module) -> nn.Module:
        return base_model(model).get_submodule(self.embeddings)

    def encoder_of(self, model: nn.Module) -> nn.Module:
        return base_model(model).get_submodule(self.encoder)

    def word_embeddings_of(self, model: nn.Module) -> nn.Embedding:
        return base_model(model).get_submodule(self.word_embeddings)

    def embedding_projection_of(self, model: nn.Module) -> nn.Linear | None:
        """The Linear layer from the embedding size to the hidden size, if the family has one
        and this model uses it (ELECTRA, when the two sizes differ); run at every position."""
        if self.embedding_projection is None:
            return None
        return _find(base_model(model), self.embedding_projection)

    def classifier_of(self, model: nn.Module) -> nn.Module:
        return model.get_submodule(self.classifier)

    def replace(self, root: nn.Module, path: str, module: nn.Module) -> None:
        """Put ``module`` at ``path`` inside ``root`` (a layer, or the base model for the
        embeddings paths)."""
        parent, _, name = path.rpartition(".")
        setattr(root.get_submodule(parent) if parent else root, name, module)


BERT = Family(
    model_type="bert",
    config_class=transformers.BertConfig,
    classifier_class=transformers.BertForSequenceClassification,
    compact_model_type="lowres-compact-bert",
    headless_attention=HeadlessSelfAttention,
)


def _bert_layout(model_type: str, stem: str, attention: type[nn.Module], **more: Any) -> Family:
    """A family laid out as BERT is: transformers' ``{stem}Config`` and
    ``{stem}ForSequenceClassification``, its own compact type and headless attention."""
    return dataclasses.replace(
        BERT,
        model_type=model_type,
        config_class=getattr(transformers, f"{stem}Config"),
        classifier_class=getattr(transformers, f"{stem}ForSequenceClassification"),
        compact_model_type=f"lowres-compact-{model_type}",
        headless_attention=attention,
        **more,
    )


# RoBERTa and XLM-RoBERTa keep BERT's layout under base_model (their embeddings offset positions
# by padding_idx + 1, which pruning and compaction never touch).
ROBERTA = _bert_layout("roberta", "Roberta", HeadlessRobertaSelfAttention)
XLM_ROBERTA = _bert_layout("xlm-roberta", "XLMRoberta", HeadlessXLMRobertaSelfAttention)
# ELECTRA's discriminator: BERT's layers, plus a projection from the embedding size to the hidden
# size when the two differ.
ELECTRA = _bert_layout(
    "electra", "Electra", HeadlessElectraSelfAttention, embedding_projection="embeddings_project"
)
# DistilBERT: its own names, the output projection inside the attention module.
DISTILBERT = Family(
    model_type="distilbert",
    config_class=transformers.DistilBertConfig,
    classifier_class=transformers.DistilBertForSequenceClassification,
    compact_model_type="lowres-compact-distilbert",
    headless_attention=HeadlessDistilBertSelfAttention,
    layers="transformer.layer",
    encoder="transformer",
    self_attention="attention",
    query="attention.q_lin",
    key="attention.k_lin",
    value="attention.v_lin",
    attention_output="attention.out_lin",
    ffn_input="ffn.lin1",
    ffn_output="ffn.lin2",
    activation="ffn.activation",
    head_count_field="n_heads",
    head_width_field="dim",
    config_names=ConfigNames(hidden="dim", ffn="hidden_dim", layers="n_layers", heads="n_heads"),
)
# Families refused on purpose, and why (said in the error).
UNSUPPORTED: dict[str, str] = {
    "albert": (
        " (ALBERT shares one set of layer weights across all layers, so a layer cannot be pruned "
        "alone)"
    ),
    "deberta-v2": (
        " (DeBERTa's relative-position projections would have to be sliced with its query and "
        "key heads; not done here)"
    ),
}
FAMILIES: dict[str, Family] = {
    family.model_type: family for family in (BERT, ROBERTA, XLM_ROBERTA, ELECTRA, DISTILBERT)
}


def family_of(model_or_config: Any, *, compact: bool = False) -> Family:
    """The family of a model (a classifier, a base model) or of its config, from its
    ``model_type`` (a compact folder's model type counts as its family's). ``compact=True``
    admits only families whose compacted models can be saved as a folder.

    >>> family_of(transformers.BertConfig(), compact=True).compact_model_type
    'lowres-compact-bert'
    """
    config = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(config, "model_type", None)
    candidates = [f for f in FAMILIES.values() if f.compact_model_type or not compact]
    for family in candidates:
        if model_type is not None and model_type in (family.model_type, family.compact_model_type):
            return family
    what = (
        f"a {model_type!r} model"
        if isinstance(model_type, str)
        else f"{type(model_or_config).__name__} (no config.model_type)"
    )
    supported = ", ".join(family.model_type for family in candidates)
    why = UNSUPPORTED.get(str(model_type), "")
    raise ValueError(
        f"{what} is not a BERT-family model this code knows{why}; supported model types: "
        f"{supported} (a new family is one entry in trainables.compress.families.FAMILIES)"
    )


def base_model(model: nn.Module) -> nn.Module:
    """The encoder model under a task head (``model.base_model``), or ``model`` itself."""
    return getattr(model, "base_model", model)


def _find(root: nn.Module, path: str) -> Any:
    try:
        return root.get_submodule(path)
    except AttributeError:
        return None
