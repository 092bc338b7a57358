"""Block movement pruning for BERT-family encoders (Lagunas et al. 2021, "Block Pruning For Faster
Transformers"), written natively for current transformers.

Each prunable encoder Linear (attention query/key/value/output, FFN intermediate/output) gets one
learned score per block of its weight. A binary mask computed from the scores multiplies the weight
in the forward pass; the scores learn through a straight-through estimator: the gradient reaching
the mask is handed to the scores unchanged, as in the paper.

- Attention matrices are scored in ``block_shape`` blocks (32x32 in the paper's hybrid recipe). The
  attention output projection uses the transposed shape, so a block spans the same head dimensions
  in all four matrices; a block as tall as a head and as wide as the hidden size scores whole heads.
- FFN neurons are scored one by one (``ffn_block="row"``): one score shared by the neuron's row of
  the intermediate matrix and its column of the output matrix, so a neuron goes as a whole.
- ``topk`` keeps the top ``threshold`` fraction of each matrix's blocks (the paper's "25%
  pruning" is target_density 0.75); ``sigmoid_threshold`` keeps blocks with ``sigmoid(score) >
  threshold`` while an L1 penalty on ``sigmoid(scores)`` (its lambda sets the sparsity) pulls the
  scores down: the hybrid recipe.
- The threshold follows a cubic schedule between warm-ups
  (:func:`trainables.compress.schedules.cubic_threshold`).
- ``sigmoid_threshold`` never keeps fewer than ``min_density`` of a score tensor's blocks (its
  top-scored ones), like nn_pruning's ``linear_min_parameters``: a large lambda cannot empty a
  matrix.
- The learning rates of weights and scores: :mod:`trainables.compress.schedules`.
- Which Linear layers are pruned, and where a head or a neuron lies in them, is the encoder
  family's answer (:mod:`trainables.compress.families`).
- A row whose blocks are all pruned loses its bias too (nn_pruning's ``bias_mask``): otherwise a
  head or neuron with no weights left would still emit its bias and could never be removed.

Example (``cubic_threshold`` and ``learning_rate_scheduler`` from
:mod:`trainables.compress.schedules`)::

    config = PruningConfig(method="sigmoid_threshold", regularization_lambda=10.0)
    model = prune_model(model, config)
    optimizer = torch.optim.AdamW([
        {"params": weight_parameters(model), "lr": 3e-5},
        {"params": mask_score_parameters(model), "lr": config.score_learning_rate},
    ])
    scheduler = learning_rate_scheduler(optimizer, model, config, total_steps, warmup_steps)
    for step, batch in enumerate(batches):
        threshold = cubic_threshold(step, total_steps, config)
        apply_threshold(model, threshold)
        loss = model(**batch).loss + regularization_loss(model, config, threshold)
        ...  # backward, optimizer.step(), scheduler.step()
    apply_threshold(model, config.schedule_end)  # final masks: evaluate, then compact
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from trainables.compress.families import Family, family_of

METHODS = ("topk", "sigmoid_threshold")
FFN_BLOCKS = ("row", "block")
ATTENTION_BLOCKS = ("block", "head")


@dataclass
class PruningConfig:
    """How to prune: the method, its schedule and the block structure.

    The schedule's ``threshold`` means the kept fraction of each matrix's blocks for ``topk`` and
    the sigmoid cut-off for ``sigmoid_threshold``. Warm-ups are fractions of the total number of
    optimisation steps: the threshold holds its initial value for the first ``initial_warmup``
    fraction and its final value for the last ``final_warmup`` fraction, and follows a cubic in
    between.
    """

    method: str = "topk"
    # Final kept fraction of each matrix's blocks (topk only).
    target_density: float = 0.5
    # Start of the schedule; None means 1.0 (keep all) for topk and 0.0 for sigmoid_threshold.
    initial_threshold: float | None = None
    # End of the schedule for sigmoid_threshold (the hybrid recipe's 0.1).
    final_threshold: float = 0.1
    # Final lambda of the L1 penalty on sigmoid(scores) (sigmoid_threshold only); it grows with
    # the threshold, lambda * threshold / final_threshold, as in nn_pruning.
    regularization_lambda: float = 0.0
    # (rows, cols) of an attention block; the attention output matrix uses (cols, rows).
    block_shape: tuple[int, int] = (32, 32)
    # "row": one score per FFN neuron; "block": FFN matrices scored in block_shape blocks too.
    ffn_block: str = "row"
    # "block": attention matrices scored in block_shape blocks, each matrix on its own; "head":
    # one score per head, shared by its rows of Q, K, V and its columns of O, so a head goes
    # whole (Lagunas et al.'s hybrid recipe: heads whole, FFN per neuron).
    attention_block: str = "block"
    initial_warmup: float = 0.1
    final_warmup: float = 0.2
    # Constant initial value of every score (nn_pruning's constant mask_init with scale 0).
    score_init: float = 0.0
    # Learning rate of the scores' own optimizer group (nn_pruning's mask_scores_learning_rate).
    score_learning_rate: float = 1e-2
    # sigmoid_threshold only: the scores' peak rate is raised to score_travel / (sum of the
    # scores' schedule over the run) when score_learning_rate is lower, so that a score pushed the
    # same way every step (an Adam step is about the rate) could move score_travel logits. Pruning
    # a block takes 2.2 (sigmoid 0.5 -> 0.1), and the penalty only pushes once the threshold has
    # left 0: 5 leaves a margin, while a score pushed either way at random (a noisy task gradient)
    # spreads by about score_travel / sqrt(steps), far less than 2.2 even for a 26-step run; 10
    # pruned 9% at the smallest lambda in 26 steps. nn_pruning's runs (1e-2 over ~100k steps)
    # travel far more. 0 keeps score_learning_rate as it is.
    score_travel: float = 5.0
    # sigmoid_threshold only: each score tensor keeps at least ceil(min_density * blocks) blocks
    # (at least one; its top-scored ones). Per tensor, so per attention matrix and per layer's
    # FFN neurons: the encoder's density never falls below it. 0, the default here, is the
    # paper's method (no guard); the study's trials guard with STUDY_MIN_DENSITY.
    min_density: float = 0.0
    # The one default the study's TrialConfig does not take from here (its min_density).
    STUDY_MIN_DENSITY: ClassVar[float] = 0.05

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown pruning method {self.method!r}; use one of {METHODS}")
        if self.ffn_block not in FFN_BLOCKS:
            raise ValueError(f"unknown ffn_block {self.ffn_block!r}; use one of {FFN_BLOCKS}")
        if self.attention_block not in ATTENTION_BLOCKS:
            raise ValueError(
                f"unknown attention_block {self.attention_block!r}; use one of {ATTENTION_BLOCKS}"
            )
        if not 0.0 < self.target_density <= 1.0:
            raise ValueError(
                f"target_density is the kept fraction and must lie in (0, 1], got "
                f"{self.target_density}; the paper's '25% pruning' is target_density 0.75"
            )
        if self.method == "sigmoid_threshold" and not 0.0 < self.final_threshold < 1.0:
            raise ValueError(
                f"final_threshold is a sigmoid cut-off and must lie in (0, 1), got "
                f"{self.final_threshold}; the hybrid recipe uses 0.1"
            )
        if self.initial_threshold is not None and not 0.0 <= self.initial_threshold <= 1.0:
            raise ValueError(f"initial_threshold must lie in [0, 1], got {self.initial_threshold}")
        if self.regularization_lambda < 0:
            raise ValueError(
                f"regularization_lambda must be >= 0, got {self.regularization_lambda}"
            )
        if self.method == "topk" and self.regularization_lambda != 0:
            raise ValueError(
                f"regularization_lambda={self.regularization_lambda} has no effect with topk "
                "(the density is fixed); set it to 0 or use method='sigmoid_threshold'"
            )
        shape = tuple(self.block_shape)
        if len(shape) != 2 or not all(isinstance(side, int) and side > 0 for side in shape):
            raise ValueError(
                f"block_shape must be two positive integers (rows, cols), got {self.block_shape}"
            )
        self.block_shape = (shape[0], shape[1])
        for name in ("initial_warmup", "final_warmup"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(
                    f"{name} is a fraction of the total steps and must lie in [0, 1), "
                    f"got {getattr(self, name)}"
                )
        if self.initial_warmup + self.final_warmup >= 1.0:
            raise ValueError(
                f"initial_warmup + final_warmup = {self.initial_warmup + self.final_warmup} "
                "leaves no steps for the schedule; keep their sum below 1"
            )
        if self.score_learning_rate <= 0:
            raise ValueError(f"score_learning_rate must be > 0, got {self.score_learning_rate}")
        if not 0.0 <= self.score_travel < math.inf:
            raise ValueError(
                f"score_travel is a distance in logits and must be finite and >= 0, got "
                f"{self.score_travel}; 0 keeps score_learning_rate as it is"
            )
        if not 0.0 <= self.min_density < 1.0:
            raise ValueError(
                f"min_density is the least kept fraction of each score tensor and must lie in "
                f"[0, 1), got {self.min_density}; 0 turns the guard off, the study uses "
                f"{self.STUDY_MIN_DENSITY}"
            )

    @property
    def schedule_start(self) -> float:
        """Threshold at the start of training."""
        if self.initial_threshold is not None:
            return self.initial_threshold
        return 1.0 if self.method == "topk" else 0.0

    @property
    def schedule_end(self) -> float:
        """Threshold at the end of training: the target density for topk, the sigmoid cut-off
        for sigmoid_threshold. Evaluation and compaction use the masks at this threshold."""
        return self.target_density if self.method == "topk" else self.final_threshold


class _BinarizeSTE(torch.autograd.Function):
    """Binary mask from scores; the backward pass is the identity (straight-through estimator)."""

    @staticmethod
    def forward(ctx: Any, scores: Tensor, method: str, threshold: float, min_kept: int) -> Tensor:
        if method == "topk":
            # The guard keeps a float product such as 0.7 * 10 = 6.999... from losing a block.
            keep = math.floor(threshold * scores.numel() + 1e-6)
            flat = torch.zeros(scores.numel(), dtype=scores.dtype, device=scores.device)
            flat[scores.flatten().topk(keep).indices] = 1.0
            return flat.view_as(scores)
        keep = (torch.sigmoid(scores) > threshold).flatten()
        if min_kept:
            # The kept set is every score above a cut, so when it holds min_kept blocks or more it
            # already holds the top min_kept: the union only changes an under-full mask, and
            # needs no host sync to find out which case this is.
            keep[scores.flatten().topk(min_kept).indices] = True
        return keep.view_as(scores).to(scores.dtype)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        return grad, None, None, None


class MaskedLinear(nn.Module):
    """A Linear layer whose weight is multiplied by a binary block mask learned from scores.

    The layer reuses the wrapped Linear's ``weight`` and ``bias`` parameters. ``mask_scores`` holds
    one score per block (its ``numel`` equals the number of blocks); the two FFN layers of a
    ``ffn_block="row"`` model share one score Parameter, viewed as a column and as a row.
    """

    def __init__(
        self,
        linear: nn.Linear,
        block_shape: tuple[int, int],
        scores: nn.Parameter,
        config: PruningConfig,
    ) -> None:
        super().__init__()
        rows, cols = linear.weight.shape
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.weight = linear.weight
        self.bias = linear.bias
        self.block_shape = block_shape
        self.grid = (rows // block_shape[0], cols // block_shape[1])
        if scores.numel() != self.grid[0] * self.grid[1]:
            raise ValueError(f"{scores.numel()} scores for a grid of {self.grid} blocks")
        self.mask_scores = scores
        self.config = config
        self.threshold = config.schedule_start

    def block_mask(self) -> Tensor:
        """Binary mask of shape ``grid`` (1 keeps a block); gradients pass to ``mask_scores``."""
        min_kept = minimum_kept_blocks(self.mask_scores.numel(), self.config)
        mask = _BinarizeSTE.apply(self.mask_scores, self.config.method, self.threshold, min_kept)
        return mask.view(self.grid)

    def masked_weight_and_bias(self) -> tuple[Tensor, Tensor | None]:
        """The weight and bias the forward pass uses."""
        blocks = self.block_mask().to(self.weight.dtype)
        (block_rows, block_cols), (grid_rows, grid_cols) = self.block_shape, self.grid
        weight = self.weight.view(grid_rows, block_rows, grid_cols, block_cols)
        weight = (weight * blocks.view(grid_rows, 1, grid_cols, 1)).view_as(self.weight)
        bias = self.bias
        if bias is not None:
            alive_rows = blocks.detach().amax(dim=1).repeat_interleave(block_rows)
            bias = bias * alive_rows
        return weight, bias

    def forward(self, hidden_states: Tensor) -> Tensor:
        weight, bias = self.masked_weight_and_bias()
        return F.linear(hidden_states, weight, bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"block_shape={self.block_shape}, method={self.config.method}, "
            f"threshold={self.threshold:.4g}"
        )


def prune_model(model: nn.Module, config: PruningConfig) -> nn.Module:
    """Replace the encoder's prunable Linear layers by masked ones, in place, and return the model.

    Embeddings, pooler and classifier are left alone. Works for any depth and any encoder family
    of :mod:`trainables.compress.families`.
    """
    family = family_of(model)
    layers = family.encoder_layers(model)
    if any(isinstance(module, MaskedLinear) for module in model.modules()):
        raise ValueError("the model is already pruned: prune_model must be called only once")
    plans = [_block_shapes(layer, config, family) for layer in layers]
    for index, (layer, plan) in enumerate(zip(layers, plans, strict=True)):
        for path, shape in plan:
            _check_tiling(layer.get_submodule(path), f"layer {index} {path}", shape, config)
    for layer, plan in zip(layers, plans, strict=True):
        # One score tensor shared by the matrices of a unit that goes whole: a neuron (its row
        # of the intermediate matrix and column of the output one), a head (its rows of Q, K, V
        # and its columns of O).
        shared: dict[str, nn.Parameter] = {}
        if config.ffn_block == "row":
            intermediate = layer.get_submodule(family.ffn_input)
            neuron_scores = _new_scores((intermediate.out_features,), intermediate, config)
            shared.update(dict.fromkeys(family.ffn_linears, neuron_scores))
        if config.attention_block == "head":
            heads = family.head_count(layer)
            head_scores = _new_scores((heads,), layer.get_submodule(family.query), config)
            shared.update(dict.fromkeys(family.attention_linears, head_scores))
        for path, shape in plan:
            linear = layer.get_submodule(path)
            scores = shared.get(path)
            if scores is None:
                grid = (linear.out_features // shape[0], linear.in_features // shape[1])
                scores = _new_scores(grid, linear, config)
            family.replace(layer, path, MaskedLinear(linear, shape, scores, config))
    return model


def masked_layers(model: nn.Module) -> list[MaskedLinear]:
    """The model's masked layers, in module order."""
    return [module for module in model.modules() if isinstance(module, MaskedLinear)]


def mask_score_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The mask scores (each shared Parameter once), for their own optimizer group."""
    return [param for name, param in model.named_parameters() if _is_score(name)]


def weight_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every parameter that is not a mask score."""
    return [param for name, param in model.named_parameters() if not _is_score(name)]


def minimum_kept_blocks(blocks: int, config: PruningConfig) -> int:
    """The fewest blocks of a ``blocks``-block score tensor that ``sigmoid_threshold`` keeps.

    ``ceil(min_density * blocks)``, at least 1 while the guard is on; 0 for ``topk`` (its
    density is fixed) and for ``min_density`` 0.

    >>> minimum_kept_blocks(16, PruningConfig(method="sigmoid_threshold", min_density=0.05))
    1
    """
    if config.method != "sigmoid_threshold" or config.min_density == 0:
        return 0
    # The tolerance keeps a float product such as 0.1 * 30 = 3.0000000000000004 from adding one.
    return min(blocks, max(1, math.ceil(config.min_density * blocks - 1e-9)))


def apply_threshold(model: nn.Module, threshold: float) -> None:
    """Set the threshold every masked layer uses from its next forward pass on."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"a threshold lies in [0, 1], got {threshold}")
    for layer in _checked_masked_layers(model):
        layer.threshold = threshold


def regularization_loss(model: nn.Module, config: PruningConfig, threshold: float) -> Tensor:
    """L1 penalty on ``sigmoid(scores)`` for sigmoid_threshold (a zero tensor for topk).

    As in nn_pruning: each score tensor contributes its mean sigmoid; attention and FFN tensors
    are averaged separately and the two averages are averaged; the result is scaled by
    ``lambda * threshold / final_threshold``, so the penalty grows with the schedule.
    """
    layers = _checked_masked_layers(model)
    zero = layers[0].mask_scores.new_zeros(())
    if config.method != "sigmoid_threshold" or config.regularization_lambda == 0:
        return zero
    family = family_of(model)
    groups: dict[str, dict[int, Tensor]] = {"attention": {}, "ffn": {}}
    for layer in family.encoder_layers(model):
        for group, paths in (("attention", family.attention_linears), ("ffn", family.ffn_linears)):
            for path in paths:
                module = layer.get_submodule(path)
                if isinstance(module, MaskedLinear):
                    groups[group][id(module.mask_scores)] = module.mask_scores
    means = [
        torch.stack([torch.sigmoid(scores).mean() for scores in tensors.values()]).mean()
        for tensors in groups.values()
        if tensors
    ]
    strength = config.regularization_lambda * threshold / config.final_threshold
    return strength * torch.stack(means).mean()


@torch.no_grad()
def model_density(model: nn.Module) -> float:
    """Kept fraction of the prunable encoder weights, from the current binary masks."""
    kept = total = 0
    for layer in _checked_masked_layers(model):
        block_rows, block_cols = layer.block_shape
        kept += int(layer.block_mask().sum().item()) * block_rows * block_cols
        total += layer.weight.numel()
    return kept / total


def _block_shapes(
    layer: nn.Module, config: PruningConfig, family: Family
) -> list[tuple[str, tuple[int, int]]]:
    """(path, block shape) of each prunable Linear of one encoder layer.

    The output-side matrices use the transposed shape so that a block covers the same heads or
    neurons in both matrices; a per-neuron FFN block is one row of the intermediate matrix and one
    column of the output matrix.
    """
    rows, cols = config.block_shape
    if config.attention_block == "head":
        # a head's rows of Q, K, V across the whole hidden size; its columns of O
        rows, cols = family.head_size(layer), layer.get_submodule(family.query).in_features
    shapes = [
        (path, (cols, rows) if path == family.attention_output else (rows, cols))
        for path in family.attention_linears
    ]
    ffn_in, ffn_out = family.ffn_linears
    if config.ffn_block == "row":
        hidden = layer.get_submodule(ffn_in).in_features
        return [*shapes, (ffn_in, (1, hidden)), (ffn_out, (hidden, 1))]
    return [*shapes, (ffn_in, (rows, cols)), (ffn_out, (cols, rows))]


def _check_tiling(
    linear: nn.Module, where: str, block_shape: tuple[int, int], config: PruningConfig
) -> None:
    if not isinstance(linear, nn.Linear):
        raise ValueError(f"expected an nn.Linear at {where}, found {type(linear).__name__}")
    rows, cols = linear.weight.shape
    if rows % block_shape[0] or cols % block_shape[1]:
        raise ValueError(
            f"block_shape {config.block_shape} does not tile the {rows}x{cols} weight of {where}: "
            f"its blocks there are {block_shape[0]}x{block_shape[1]}, and {block_shape[0]} must "
            f"divide {rows} and {block_shape[1]} must divide {cols}; choose sides that divide the "
            "hidden size and the FFN width, e.g. (32, 32)"
        )


def _new_scores(shape: tuple[int, ...], linear: nn.Linear, config: PruningConfig) -> nn.Parameter:
    device = linear.weight.device
    return nn.Parameter(torch.full(shape, config.score_init, dtype=torch.float32, device=device))


def _checked_masked_layers(model: nn.Module) -> list[MaskedLinear]:
    layers = masked_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no masked layers: call prune_model first")
    return layers


def _is_score(name: str) -> bool:
    return name.rpartition(".")[2] == "mask_scores"
