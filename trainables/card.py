"""The model card of a shipped model folder: a ``README.md`` in the Hugging Face model-card form
(YAML metadata, then what the model is, how it was made and measured, and how to load it), so
that a trial's ``model/`` folder can be published as it is.

Everything on the card comes from the trial's config, its result row and the folder itself
(``config.json``: the family and the kept heads, FFN neurons and layers); nothing is typed in.

>>> print(card_metadata({"language": "mr", "metrics": ["accuracy"]}))
---
language: mr
metrics:
- accuracy
---
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainables import metrics as M
from trainables.config import TrialConfig

CARD_NAME = "README.md"
# The MahaNews variants this project reads from a data folder: Marathi, CC BY-NC-SA 4.0.
_MAHANEWS = {"shc": "short headlines (SHC)", "lpc": "paragraphs (LPC)", "ldc": "documents (LDC)"}
_MAHANEWS_LICENCE = "cc-by-nc-sa-4.0"


def card_metadata(fields: Mapping[str, Any]) -> str:
    """The YAML header of a card (flat keys; lists as YAML lists; JSON-quoted strings where
    YAML would misread them)."""
    lines = ["---"]
    for key, value in fields.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            lines += [f"- {_scalar(item)}" for item in value]
        else:
            lines.append(f"{key}: {_scalar(value)}")
    return "\n".join([*lines, "---"])


def _scalar(value: Any) -> str:
    text = str(value)
    plain = text and all(ch.isalnum() or ch in "-_./ " for ch in text) and text.strip() == text
    return text if plain else json.dumps(text, ensure_ascii=False)


def write_model_card(folder: str | Path, cfg: TrialConfig, result: Mapping[str, Any]) -> Path:
    """Write ``folder/README.md`` for the model a trial shipped there; the path."""
    folder = Path(folder)
    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    shapes = saved.get("compact_layers") or []
    family = str(saved.get("model_type", "")).removeprefix("lowres-compact-")
    data = cfg.data.to_dict() if cfg.data is not None else {}
    variant = data.get("variant")
    marathi = data.get("data_dir") is not None and variant in _MAHANEWS
    header: dict[str, Any] = {}
    if not Path(str(cfg.teacher)).exists():  # a hub id: the model it was made from
        header["base_model"] = str(cfg.teacher)
    if marathi:
        header["language"] = "mr"
        header["license"] = _MAHANEWS_LICENCE
    header.update(
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["text-classification", "pruning", *_levers(cfg, tags=True), "lowres-compress"],
        metrics=["accuracy", "f1"],
    )
    dataset = (
        f"L3Cube MahaNews {_MAHANEWS[variant]}"
        if marathi
        else str(data.get("dataset") or data.get("data_dir"))
    )
    body = [
        card_metadata(header),
        "",
        f"# {cfg.name or folder.parent.name}",
        "",
        f"A text classifier ({family or 'transformers'} family) made smaller and faster from "
        f"`{cfg.teacher}` by the lowres-compress study ({', '.join(_levers(cfg))}).",
        "",
        "## What was kept",
        "",
        *_kept(shapes, saved, result),
        "",
        "## Quality and speed",
        "",
        "| | value |",
        "| --- | --- |",
        f"| test accuracy | {_number(result.get(M.ACCURACY))} |",
        f"| test macro-F1 | {_number(result.get(M.MACRO_F1))} |",
        f"| validation accuracy | {_number(result.get(M.VAL_ACCURACY))} |",
        f"| speedup over the teacher (measured, from raw text) | "
        f"{_number(result.get(M.SPEEDUP), 'x')} |",
        f"| speedup of the forward pass alone | {_number(result.get(M.SPEEDUP_FORWARD), 'x')} |",
        f"| speedup ideal (FLOPs) | {_number(result.get(M.SPEEDUP_IDEAL), 'x')} |",
        f"| parameters | {_count(result.get(M.NUM_PARAMETERS))} "
        f"(teacher {_count(result.get(M.TEACHER_NUM_PARAMETERS))}) |",
        f"| size on disk | {_number(result.get(M.MODEL_MB), ' MB')} |",
        "",
        f"One training run, student seed {cfg.seed}; the study's replicated seeds and intervals "
        f"are in its `summary.md`. Accuracy on the test split of {dataset}: a study selects "
        "configurations on validation accuracy and only reports test accuracy. Speed: the "
        "ratio of median times of the teacher and this model over the same test texts, timed "
        f"interleaved, {cfg.timing_threads} CPU thread(s) on CPU, precision "
        f"{result.get(M.PRECISION_USED, cfg.precision)}, from raw text to predicted label "
        "(each model's own tokenizer included).",
        "",
        "## Data",
        "",
        f"{dataset}"
        + (
            ", CC BY-NC-SA 4.0 (research use; cite Mittal et al. 2023, L3Cube-MahaNews, and "
            "Mirashi et al. 2024, L3Cube-IndicNews)."
            if marathi
            else "; its licence is the data's own."
        ),
        "",
        "## How to load",
        "",
        "```python",
        "import trainables  # registers the compact model types (no remote code)",
        "from transformers import pipeline",
        "",
        'classify = pipeline("text-classification", model="PATH/TO/THIS/FOLDER")',
        "```",
        "",
        'or `python -m trainables.commands.predict PATH/TO/THIS/FOLDER --text "..."`.',
    ]
    if saved.get("quantization"):
        body += [
            "",
            "The weights are stored in fp32 and quantised to dynamic int8 on load (CPU).",
        ]
    path = folder / CARD_NAME
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


def _levers(cfg: TrialConfig, *, tags: bool = False) -> list[str]:
    levers = []
    if cfg.drop_layers or cfg.drop_layer_share:
        levers.append(
            "layer-dropping"
            if tags
            else f"{cfg.drop_layers or f'{cfg.drop_layer_share:.0%} of the'} encoder layers "
            f"dropped ({cfg.layer_selection})"
        )
    if cfg.kind == M.KIND_PRUNE:
        levers.append(
            "block-pruning"
            if tags
            else f"block movement pruning to {cfg.target_density:.0%}"
            f" of the encoder weights ({cfg.attention_block} attention)"
        )
        if cfg.distil:
            levers.append(
                "knowledge-distillation"
                if tags
                else f"knowledge distillation (T={cfg.temperature:g}, alpha={cfg.alpha_distil:g})"
            )
    if cfg.vocab_trim:
        levers.append("vocabulary-trimming" if tags else "vocabulary trimmed to the training texts")
    if cfg.quantize == "int8":
        levers.append("int8" if tags else "dynamic int8")
    return levers or ([] if tags else ["no compression: the teacher measured as it is"])


def _kept(shapes: list[dict[str, int]], saved: dict[str, Any], result: Mapping[str, Any]) -> list:
    heads = saved.get("num_attention_heads", saved.get("n_heads"))
    ffn = saved.get("intermediate_size", saved.get("hidden_dim"))
    dropped = int(result.get(M.LAYERS_DROPPED) or 0)
    lines = [
        f"- layers: {len(shapes)} kept of the teacher's {len(shapes) + dropped}"
        if shapes
        else "- layers: all of the teacher's"
    ]
    for number, shape in enumerate(shapes):
        lines.append(
            f"  - layer {number}: {shape['heads']}/{heads} heads, {shape['ffn']}/{ffn} FFN neurons"
        )
    lines.append(f"- vocabulary: {_count(result.get(M.VOCAB_SIZE))} pieces")
    return lines


def _number(value: Any, unit: str = "") -> str:
    try:
        return f"{float(value):.4g}{unit}"
    except (TypeError, ValueError):
        return "not measured"


def _count(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "not counted"
