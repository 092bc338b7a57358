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
from pathlib import Path

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
    """The size of ``model``'s state dict as ``torch.save`` writes it, in MB (1e6 bytes): the
    model as it runs, int8 weights at one byte (parameter counts do not see them). A compact
    folder stores fp32 weights (:func:`folder_megabytes` weighs what ships)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell() / 1e6


# The files a loader reads from a model folder (from_pretrained, trainables.commands.predict):
# weights, config, tokenizer. A teacher folder's other files (teacher.json, ...) do not ship.
SHIPPED_FILES = (
    "*.safetensors",
    "config.json",
    "tokenizer*.json",
    "special_tokens_map.json",
    "vocab.txt",
    "*.model",
)


def folder_megabytes(folder: Path) -> float:
    """The model files of ``folder`` (:data:`SHIPPED_FILES`) on disk, in MB (1e6 bytes).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "model.safetensors").write_bytes(b"0" * 1_500_000)
    ...     _ = (Path(d) / "teacher.json").write_bytes(b"0" * 9_000_000)
    ...     folder_megabytes(Path(d))
    1.5
    """
    files = {f for pattern in SHIPPED_FILES for f in folder.glob(pattern) if f.is_file()}
    if not files:
        raise ValueError(f"{folder} holds no model files ({', '.join(SHIPPED_FILES)})")
    return sum(f.stat().st_size for f in files) / 1e6
