"""int8 after pruning: dynamic quantisation of a model's Linear layers, for CPU inference.

Dynamic int8 stores each Linear weight as int8 with a per-tensor scale and quantises the
activations on the fly: no calibration data, nothing to train, about 2x faster on CPU at the
teacher's shape (measured with ``python -m trainables.commands.bench``). It runs on the CPU
only, so a trial asking for it measures on the CPU.

A compact folder stays fp32 on disk, with ``quantization`` in its config: loading it applies the
same deterministic quantisation again (``load_compact`` and the registered ``from_pretrained``),
so the folder holds one set of weights and every loader agrees.

>>> QUANTIZATIONS
('none', 'int8')
"""

from __future__ import annotations

import copy
import io
import warnings

import torch
from torch import nn

QUANTIZATIONS: tuple[str, ...] = ("none", "int8")
# What a compact folder's config says when it is to be loaded quantised.
DYNAMIC_INT8 = "dynamic-int8"


def quantize_int8(model: nn.Module) -> nn.Module:
    """A dynamically int8-quantised copy of ``model`` (every non-empty ``nn.Linear``), in eval
    mode on the CPU. Zero-width Linear layers (a layer that lost every head or neuron) stay as
    they are: there is nothing to quantise and the quantised kernels refuse them."""
    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError(
            "int8 dynamic quantisation runs on the CPU: move the model there first (a GPU study "
            "keeps quantize=none)"
        )
    targets = {
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module.weight.numel() > 0
    }
    copied = copy.deepcopy(model).eval()
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, but still the fastest CPU
        # path for this model in torch 2.13 (see the benchmark); the warning says nothing new.
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(copied, targets, dtype=torch.qint8)


def serialized_megabytes(model: nn.Module) -> float:
    """The size of ``model``'s state dict as ``torch.save`` writes it, in MB (1e6 bytes): what
    the model weighs on disk, int8 weights included (parameter counts do not see them)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6
