"""Export a model folder of the study to ONNX, checked against PyTorch with ONNX Runtime.

    python -m trainables.commands.export results/paper/3_.../model --format onnx [--out model.onnx]

Writes ``model.onnx`` (dynamic batch and sequence length, inputs ``input_ids`` and
``attention_mask``, output ``logits``) into the folder, or ``--out``. A folder saved with
``quantization: dynamic-int8`` is exported in fp32 and then quantised by ONNX Runtime's own
dynamic int8 (``model.int8.onnx``): PyTorch's quantised modules do not export. Either way, ONNX
Runtime runs the file on a batch of dummy texts and the logits must agree with PyTorch's (fp32:
within 1e-3; int8: the same predicted labels), or the command fails.

Needs the ``export`` extra: ``pip install -e '.[export]'`` (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainables.compress.quantize import DYNAMIC_INT8
from trainables.errors import TrainablesError

FORMATS = ("onnx",)
FP32_TOLERANCE = 1e-3
_SAMPLE_TEXTS = ["मुंबई इंडियन्सचा विजय", "राज्य सरकारचा नवा निर्णय आज जाहीर झाला", "नवा चित्रपट"]


class ExportError(TrainablesError, RuntimeError):
    """An export that could not be made or did not match PyTorch, and why."""


def export_onnx(directory: str | Path, out: str | Path | None = None) -> Path:
    """Export the model in ``directory`` to ONNX and check it with ONNX Runtime; the file."""
    from trainables.commands.predict import load_with_tokenizer

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ExportError(
            "ONNX export needs onnx, onnxscript and onnxruntime: pip install -e '.[export]'"
        ) from None
    # The fp32 weights: PyTorch's quantised modules do not export; ONNX Runtime quantises.
    model, tokenizer = load_with_tokenizer(directory, fp32=True)
    saved = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    quantized = saved.get("quantization") == DYNAMIC_INT8
    target = Path(out) if out else Path(directory) / "model.onnx"
    inputs = _sample_inputs(tokenizer)
    export_model(model, inputs, target)
    if quantized:
        target = quantize_onnx(target)
    _check(model, inputs, target, int8=quantized)
    return target


def _sample_inputs(tokenizer: Any) -> dict[str, torch.Tensor]:
    batch = tokenizer(_SAMPLE_TEXTS, padding=True, truncation=True, return_tensors="pt")
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def export_model(model: Any, inputs: dict[str, torch.Tensor], target: Path) -> None:
    """Write ``model`` (fp32) to the ONNX file ``target``, batch and sequence dynamic."""
    batch, length = torch.export.Dim("batch"), torch.export.Dim("sequence")
    dynamic = {name: {0: batch, 1: length} for name in inputs}
    target.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(
            model,
            args=(),
            kwargs=dict(inputs),
            input_names=list(inputs),
            output_names=["logits"],
            dynamic_shapes=dynamic,
            dynamo=True,
            verbose=False,
        )
    program.save(str(target))


def quantize_onnx(fp32: Path) -> Path:
    """ONNX Runtime's dynamic int8 of ``fp32`` (its MatMul and Gemm weights), beside it."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(fp32))
    # The exporter records shapes for the weights too; ONNX Runtime transposes Gemm weights
    # in place before quantising and its shape inference then fails on the stale entries.
    weights = {initializer.name: list(initializer.dims) for initializer in model.graph.initializer}
    kept = [info for info in model.graph.value_info if info.name not in weights]
    del model.graph.value_info[:]
    model.graph.value_info.extend(kept)
    # A layer that lost every head or neuron has zero-width weights; ONNX Runtime's quantised
    # MatMul of them returns garbage (every input gets the same logits), and they hold nothing.
    empty = [
        node.name
        for node in model.graph.node
        if any(0 in weights.get(name, [1]) for name in node.input)
    ]
    int8 = fp32.with_suffix(".int8.onnx")
    quantize_dynamic(model, str(int8), weight_type=QuantType.QInt8, nodes_to_exclude=empty)
    return int8


def _check(model: Any, inputs: dict[str, torch.Tensor], target: Path, *, int8: bool) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    feed = {name: tensor.numpy() for name, tensor in inputs.items()}
    (ort_logits,) = session.run(["logits"], feed)
    with torch.no_grad():
        torch_logits = model(**inputs).logits.numpy()
    if int8:
        if not np.array_equal(ort_logits.argmax(-1), torch_logits.argmax(-1)):
            raise ExportError(f"{target}: the int8 ONNX model predicts other labels than PyTorch")
        return
    difference = float(np.abs(ort_logits - torch_logits).max())
    if difference > FP32_TOLERANCE:
        raise ExportError(
            f"{target}: ONNX Runtime's logits differ from PyTorch's by {difference:.2e} "
            f"(> {FP32_TOLERANCE})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainables.commands.export",
        description="Export a model folder to ONNX and check it with ONNX Runtime.",
    )
    parser.add_argument("model", help="a model folder (a trial's model/)")
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument("--out", help="the file to write (default: FOLDER/model.onnx)")
    args = parser.parse_args(argv)
    from trainables.commands.predict import PredictError

    try:
        path = export_onnx(args.model, args.out)
    except (ExportError, PredictError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
