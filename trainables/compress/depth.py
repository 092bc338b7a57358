"""Depth as a lever: drop whole encoder layers from a BERT-family classifier.

:func:`layers_to_drop` says which layers a rule drops; :func:`drop_layers` removes them (the
layer list rebuilt, the config's depth field and every per-layer index renumbered), in every
family of :mod:`trainables.compress.families`. A dropped model is an ordinary model of its
family: pruning, compaction, save/load, int8, vocabulary trimming and ONNX see a shallower
encoder and nothing else.

The selection rules (:data:`LAYER_SELECTIONS`), for ``count`` of ``depth`` layers:

- ``top``: the last ``count`` layers (nearest the classifier);
- ``bottom``: the first ``count``;
- ``middle``: ``count`` consecutive layers centred in the stack, starting at
  ``(depth - count) // 2``;
- ``alternate``: DistilBERT's student, every other layer: the odd-indexed layers 1, 3, 5, ...
  go first; past half the depth, the same rule runs again on the layers left (their 2nd, 4th, ...
  go), and so on. When a round offers more layers than are still to drop, the ones taken are
  spread evenly over that round's candidates. Layer 0 is never dropped by this rule.
- ``learned``: the ``count`` least important layers by a measured ``importance`` (see
  :func:`learned_layers_to_drop`).

>>> layers_to_drop(12, 3, "top"), layers_to_drop(12, 3, "bottom"), layers_to_drop(12, 3, "middle")
([9, 10, 11], [0, 1, 2], [4, 5, 6])
>>> layers_to_drop(12, 6, "alternate"), layers_to_drop(12, 9, "alternate")
([1, 3, 5, 7, 9, 11], [1, 2, 3, 5, 6, 7, 9, 10, 11])
>>> layers_to_drop(4, 2, "learned", importance=[0.5, 0.1, 0.9, 0.2])
[1, 3]
>>> layers_to_drop(12, 12, "top")
Traceback (most recent call last):
...
ValueError: cannot drop 12 layers of a 12-layer encoder: drop at most 11
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

from search_spaces.extended import LAYER_SELECTIONS
from trainables.compress.families import base_model, family_of

# Training batches the learned importance is measured on (the first ones, unshuffled).
IMPORTANCE_BATCHES = 4


def encoder_depth(model_or_config) -> int:
    """The encoder layers a model (or its config) has, from its family's depth field."""
    config = getattr(model_or_config, "config", model_or_config)
    return int(getattr(config, family_of(config).config_names.layers))


def check_selection(selection: str) -> None:
    """Refuse a selection rule that is not one of :data:`LAYER_SELECTIONS`."""
    if selection not in LAYER_SELECTIONS:
        raise ValueError(
            f"layer_selection must be one of {', '.join(LAYER_SELECTIONS)}, got {selection!r}"
        )


def check_drop_count(depth: int, count: int) -> None:
    """Refuse dropping a negative count, or as many layers as the encoder has or more.

    >>> check_drop_count(4, 4)
    Traceback (most recent call last):
    ...
    ValueError: cannot drop 4 layers of a 4-layer encoder: drop at most 3
    """
    if count < 0:
        raise ValueError(f"the number of layers to drop must be >= 0, got {count}")
    if count >= depth:
        raise ValueError(
            f"cannot drop {count} layers of a {depth}-layer encoder: drop at most {depth - 1}"
        )


def resolve_drop_count(drop_layers: int, drop_layer_share: float, depth: int) -> int:
    """The layers to drop from a ``depth``-layer encoder: ``drop_layers`` as given, or
    ``round(drop_layer_share x depth)``; checked against the depth.

    >>> resolve_drop_count(0, 0.5, 12), resolve_drop_count(0, 0.1, 4), resolve_drop_count(3, 0, 12)
    (6, 0, 3)
    """
    count = drop_layers if drop_layers else round(drop_layer_share * depth)
    check_drop_count(depth, count)
    return count


def layers_to_drop(
    depth: int, count: int, selection: str, importance: Sequence[float] | None = None
) -> list[int]:
    """The sorted indices of the ``count`` layers that ``selection`` drops from ``depth`` layers
    (the rules: the module's docstring). ``learned`` needs ``importance``, one score per layer
    (higher: more important); ties go to the lower index."""
    check_selection(selection)
    check_drop_count(depth, count)
    if selection == "top":
        chosen = range(depth - count, depth)
    elif selection == "bottom":
        chosen = range(count)
    elif selection == "middle":
        start = (depth - count) // 2
        chosen = range(start, start + count)
    elif selection == "alternate":
        chosen = _alternate(depth, count)
    else:
        if importance is None or len(importance) != depth:
            raise ValueError(
                f"layer_selection 'learned' needs one importance score per layer ({depth}), got "
                f"{None if importance is None else len(importance)}"
            )
        chosen = sorted(range(depth), key=lambda i: (importance[i], i))[:count]
    return sorted(chosen)


def _alternate(depth: int, count: int) -> list[int]:
    """Every other layer of those left, round after round, spread evenly within a round."""
    left, chosen = list(range(depth)), []
    while len(chosen) < count:
        candidates = left[1::2]
        take = min(count - len(chosen), len(candidates))
        taken = [candidates[j * len(candidates) // take] for j in range(take)]
        chosen += taken
        left = [layer for layer in left if layer not in taken]
    return chosen


def drop_layers(model: nn.Module, indices: Iterable[int]) -> nn.Module:
    """Remove the encoder layers at ``indices`` from ``model`` (in place; returned): the layer
    list is rebuilt from the kept layers in order, the config's depth field (and an encoder
    attribute of the same name, DistilBERT's ``n_layers``) set to the new depth, and every
    ``layer_idx`` attribute of a kept layer renumbered to its new position."""
    family = family_of(model)
    layers = family.encoder_layers(model)
    drop = sorted(set(indices))
    check_drop_count(len(layers), len(drop))
    if drop and not 0 <= drop[0] <= drop[-1] < len(layers):
        raise ValueError(f"layer indices must lie in [0, {len(layers)}), got {drop}")
    kept = [layer for i, layer in enumerate(layers) if i not in drop]
    family.replace(base_model(model), family.layers, nn.ModuleList(kept))
    for position, layer in enumerate(kept):
        for module in layer.modules():
            if getattr(module, "layer_idx", None) is not None:
                module.layer_idx = position
    name = family.config_names.layers
    setattr(model.config, name, len(kept))
    encoder = family.encoder_of(model)
    if isinstance(getattr(encoder, name, None), int):
        setattr(encoder, name, len(kept))
    return model


class _Skipped:
    """Run ``model`` with the layers at ``indices`` skipped (the layer list swapped for one
    without them while inside; the model's weights untouched)."""

    def __init__(self, model: nn.Module, indices: Iterable[int]) -> None:
        self.model, self.family, self.skip = model, family_of(model), set(indices)

    def __enter__(self) -> nn.Module:
        self.layers = self.family.encoder_layers(self.model)
        kept = [layer for i, layer in enumerate(self.layers) if i not in self.skip]
        self.family.replace(base_model(self.model), self.family.layers, nn.ModuleList(kept))
        return self.model

    def __exit__(self, *exc) -> None:
        self.family.replace(base_model(self.model), self.family.layers, self.layers)


@torch.no_grad()
def skip_divergence(
    model: nn.Module, batches: Sequence[Mapping[str, Tensor]], skip: Iterable[int]
) -> float:
    """The mean KL divergence (nats per example) from ``model``'s own predicted distribution to
    that of ``model`` with the layers ``skip`` skipped (identity), over ``batches`` (model
    inputs on the model's device); in eval mode (no dropout), fp32 logits, the model's mode kept.
    """
    training = model.training
    model.eval()
    total, examples = 0.0, 0
    for batch in batches:
        full = torch.log_softmax(model(**batch).logits.float(), -1)
        with _Skipped(model, skip) as skipped:
            cut = torch.log_softmax(skipped(**batch).logits.float(), -1)
        total += float(nn.functional.kl_div(cut, full, log_target=True, reduction="sum"))
        examples += len(full)
    model.train(training)
    return total / examples


def learned_layers_to_drop(
    model: nn.Module,
    batches: Sequence[Mapping[str, Tensor]],
    count: int,
) -> list[int]:
    """The ``count`` layers whose skipping changes ``model``'s predictions least on
    ``batches`` (training batches), chosen greedily; sorted.

    Why this rule: it needs no training of its own and no extra parameters, runs before the
    student exists (so the student starts from the teacher minus those layers, as every other
    rule), and measures what the student is trained to keep: the teacher's output distribution,
    which KD matches (the training split's, never validation's). A layer's importance is the KL
    divergence from the full model's predictions to the model's with that layer skipped (an
    identity: the residual stream passes through). Greedy with re-scoring: each round scores
    every layer left with the ones already chosen skipped too, and takes the lowest (ties: the
    lower index), so two layers that only matter together are not both dropped on their
    separate scores. Cost: depth + (depth - 1) + ... forwards over the batches: for 12 layers
    dropping 9, 72 passes over :data:`IMPORTANCE_BATCHES` batches. Deterministic given the data
    and the weights (fp32, eval mode, no dropout).

    Refuses an empty ``batches`` (e.g. an empty training split) before any work.
    """
    if not batches:
        raise ValueError(
            "layer_selection 'learned' measures layer importance on training batches, but there "
            "are none (an empty training split): use another selection or add training rows"
        )
    depth = len(family_of(model).encoder_layers(model))
    check_drop_count(depth, count)
    chosen: list[int] = []
    for _ in range(count):
        scores = {
            layer: skip_divergence(model, batches, [*chosen, layer])
            for layer in range(depth)
            if layer not in chosen
        }
        chosen.append(min(scores, key=lambda layer: (scores[layer], layer)))
    return sorted(chosen)
