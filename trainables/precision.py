"""The numeric precision a trial trains and measures in, and its autocast.

A trial's ``precision`` is one of :data:`PRECISIONS`. It is resolved once, when the trial
starts on its device (:func:`resolve_precision`: ``"auto"`` becomes fp16 on CUDA, fp32
elsewhere), and everything downstream receives the resolved name.

>>> resolve_precision("auto", "cpu")
'fp32'
>>> resolve_precision("auto", "cuda")
'fp16'
>>> with precision_autocast("cpu", "bf16"):
...     torch.ones(2, 2) @ torch.ones(2, 2)
tensor([[2., 2.],
        [2., 2.]], dtype=torch.bfloat16)
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

# "auto": fp16 autocast (+ GradScaler in training) on CUDA, fp32 on CPU; see resolve_precision.
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")
_AUTOCAST_DTYPES: dict[str, torch.dtype] = {"fp16": torch.float16, "bf16": torch.bfloat16}


def check_precision(precision: str) -> None:
    """Raise ``ValueError`` naming the choices if ``precision`` is not one of :data:`PRECISIONS`.

    >>> check_precision("fp8")
    Traceback (most recent call last):
    ...
    ValueError: precision must be one of ('auto', 'fp32', 'fp16', 'bf16'), got 'fp8'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """The precision ``precision`` means on ``device``: ``"auto"`` is fp16 on CUDA (the paper's
    mixed precision) and fp32 elsewhere; any other name stands for itself."""
    check_precision(precision)
    if precision == "auto":
        return "fp16" if torch.device(device).type == "cuda" else "fp32"
    return precision


def precision_autocast(
    device: torch.device | str, precision: str
) -> contextlib.AbstractContextManager[Any]:
    """The autocast context for ``precision`` on ``device`` (a no-op for fp32, and for
    ``"auto"`` on CPU).

    fp16 autocast is only offered on CUDA: on CPU it is slow and not what the paper measured.
    """
    device = torch.device(device)
    if precision == "auto":
        precision = resolve_precision(precision, device)
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"precision 'fp16' needs a CUDA device, got device {str(device)!r}; "
            "use 'bf16' or 'fp32' on CPU"
        )
    return torch.autocast(device_type=device.type, dtype=_AUTOCAST_DTYPES[precision])
