"""Schedules of a block-pruning run: the threshold's cubic schedule and the learning rates of
the weights and of the mask scores (Lagunas et al. 2021; nn_pruning's recipe).

- The threshold holds its start value over the initial warm-up, follows a cubic to its end value,
  and holds that over the final warm-up (:func:`cubic_threshold`).
- The weights warm up linearly and decay linearly to zero. The scores do the same for ``topk``.
  For ``sigmoid_threshold`` the scores' rate holds after the warm-up and only decays over the
  final warm-up, and it is raised so that a score could move ``score_travel`` logits over the run
  (:func:`score_learning_rate`): a block starts at sigmoid(0) = 0.5 and is pruned below
  sigmoid(-2.2) = 0.1, which a rate of 1e-2 decaying to zero over a few hundred steps never
  reaches.

Example (``model`` pruned with :func:`~trainables.compress.pruning.prune_model`)::

    scheduler = learning_rate_scheduler(optimizer, model, config, total_steps, warmup_steps)
    for step, batch in enumerate(batches):
        apply_threshold(model, cubic_threshold(step, total_steps, config))
        ...  # loss, backward, optimizer.step(), scheduler.step()
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from trainables.compress.pruning import PruningConfig, mask_score_parameters


def cubic_threshold(step: int, total_steps: int, config: PruningConfig) -> float:
    """The threshold at ``step`` of ``total_steps``: the paper's cubic schedule.

    ``config.schedule_start`` during the initial warm-up, ``config.schedule_end`` during the
    final one, ``end + (start - end) * (1 - progress) ** 3`` in between. Warm-ups are fractions
    of ``total_steps``. ``step`` counts from 0; any step past
    ``total_steps - final_warmup * total_steps`` (``total_steps`` itself included) gives the end.
    Like a learning-rate schedule, the training loop asks for it every step and applies it with
    :func:`apply_threshold`.

    >>> config = PruningConfig(target_density=0.5, initial_warmup=0.1, final_warmup=0.2)
    >>> cubic_threshold(0, 100, config), cubic_threshold(100, 100, config)
    (1.0, 0.5)
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    start, end = config.schedule_start, config.schedule_end
    warmup = round(config.initial_warmup * total_steps)
    cooldown = round(config.final_warmup * total_steps)
    if step <= warmup:
        return start
    if step > total_steps - cooldown:
        return end
    remaining = 1.0 - (step - warmup) / (total_steps - warmup - cooldown)
    return end + (start - end) * remaining**3


def score_learning_rate(config: PruningConfig, total_steps: int, warmup_steps: int) -> float:
    """The scores' peak learning rate for a run of ``total_steps`` (``warmup_steps`` of them the
    learning-rate warm-up), as :func:`learning_rate_scheduler` sets it.

    ``topk``: ``config.score_learning_rate``. ``sigmoid_threshold``: at least that, raised to
    ``score_travel / sum(multipliers)`` so that a score could move ``score_travel`` logits over
    the run, whatever its length.

    >>> config = PruningConfig(method="sigmoid_threshold", final_warmup=0.2, score_travel=5.0)
    >>> round(score_learning_rate(config, 100, 10), 4), score_learning_rate(config, 100_000, 10)
    (0.0588, 0.01)
    """
    _check_steps(total_steps, warmup_steps)
    if config.method != "sigmoid_threshold":
        return config.score_learning_rate
    shape = _score_multiplier(config, total_steps, warmup_steps)
    reach = sum(shape(step) for step in range(total_steps))
    return max(config.score_learning_rate, config.score_travel / reach)


def learning_rate_scheduler(
    optimizer: torch.optim.Optimizer,
    model: nn.Module,
    config: PruningConfig,
    total_steps: int,
    warmup_steps: int,
) -> LambdaLR:
    """A per-group learning-rate schedule; call ``step()`` after every optimizer step.

    Weight groups: linear warm-up over ``warmup_steps``, then linear decay to zero at
    ``total_steps`` (transformers' ``get_linear_schedule_with_warmup``). Groups of ``model``'s mask
    scores: the same for ``topk``; for ``sigmoid_threshold`` the rate rises over the same warm-up
    to :func:`score_learning_rate`, which this sets as the groups' ``lr``, holds, and decays
    linearly to zero over the final warm-up, so the final masks settle while the weights still
    learn. Holding it matters: a score has to travel 2.2 logits to be pruned, and the L1 push only
    starts when the threshold leaves 0.
    """
    _check_steps(total_steps, warmup_steps)
    scores = {id(param) for param in mask_score_parameters(model)}

    def weights(step: int) -> float:
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    held = config.method == "sigmoid_threshold"
    multipliers: list[Callable[[int], float]] = []
    for index, group in enumerate(optimizer.param_groups):
        ids = {id(param) for param in group["params"]}
        if ids and ids <= scores:
            if held:
                group["lr"] = score_learning_rate(config, total_steps, warmup_steps)
            multipliers.append(
                _score_multiplier(config, total_steps, warmup_steps) if held else weights
            )
        elif ids & scores:
            raise ValueError(
                f"optimizer group {index} mixes mask scores with other parameters; put "
                "mask_score_parameters(model) in a group of their own (they have their own rate)"
            )
        else:
            multipliers.append(weights)
    return LambdaLR(optimizer, multipliers)


def _score_multiplier(
    config: PruningConfig, total_steps: int, warmup_steps: int
) -> Callable[[int], float]:
    """sigmoid_threshold's scores: linear warm-up, hold, linear decay over the final warm-up."""
    settle = round(config.final_warmup * total_steps)

    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return min(1.0, max(0.0, (total_steps - step) / max(1, settle)))

    return multiplier


def _check_steps(total_steps: int, warmup_steps: int) -> None:
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps <= total_steps:
        raise ValueError(
            f"warmup_steps must lie in [0, total_steps={total_steps}], got {warmup_steps}"
        )
