"""The training step every trainer here takes: mixed-precision backward, clipping, update."""

from __future__ import annotations

import torch
from torch import nn


def optimizer_step(
    loss: torch.Tensor,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    *,
    max_norm: float = 1.0,
) -> None:
    """Backpropagate ``loss`` through ``scaler`` (a no-op scaler outside fp16), clip the
    gradients of ``model``'s parameters to norm ``max_norm`` after unscaling them, step the
    optimizer and the scheduler, and clear the gradients.

    >>> model = nn.Linear(2, 1)
    >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    >>> scaler = torch.amp.GradScaler("cpu", enabled=False)
    >>> optimizer_step(model(torch.ones(1, 2)).sum(), model, optimizer, scheduler, scaler)
    >>> model.weight.grad is None
    True
    """
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
