"""Teachers: a fine-tuned BERT-family classifier (hub id or local folder), or the tiny one.

``python -m trainables.commands.teacher --preset tiny --data-dir DIR --variant lpc``
trains (or reads from its cache) the tiny teacher (:mod:`trainables.teachers.tiny`) and prints
one JSON line with its test metrics; with ``--model`` it evaluates that model instead.

>>> spec = DataSpec(data_dir="../shared/data/mahanews", variant="lpc")
>>> teacher = prepare_teacher("tiny", load_splits(spec))  # doctest: +SKIP
>>> teacher.metrics["test_accuracy"]  # doctest: +SKIP
0.849
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainables.compress.families import family_of
from trainables.data import (
    MAHANEWS_LABELS,
    DataError,
    DataSpec,
    DataSplits,
    default_cache_dir,
    load_splits,
    tokenize_splits,
)
from trainables.evaluation import label_metrics, predict, save_predictions
from trainables.presets import PRESETS, TinyTeacherConfig, get_preset

# Beside a built teacher's weights: its test metrics, recipe config and data source.
TEACHER_INFO = "teacher.json"


class TeacherError(RuntimeError):
    """A teacher could not be loaded; the message says how to pass one that can."""


@dataclass
class Teacher:
    """Where a teacher lives and what is known about it."""

    path: str  # a local folder (or a hub id for a model the hub serves)
    metrics: dict[str, float]


# --------------------------------------------------------------------------------------------
# Loading any BERT-family sequence classifier


def load_teacher(model: str | Path) -> tuple[nn.Module, object]:
    """Load a fine-tuned sequence classifier and its tokenizer from a local folder or a hub id.

    Weights load through safetensors and never run remote code.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    name = str(model)
    is_local = Path(name).exists()
    try:
        config = AutoConfig.from_pretrained(name, trust_remote_code=False)
    except (OSError, ValueError) as exc:
        if is_local:
            raise TeacherError(
                f"{name} is not a model folder transformers can read ({_first_line(exc)}); it "
                "needs config.json, model.safetensors and tokenizer files"
            ) from None
        raise TeacherError(
            f"cannot load model {name!r} from the Hugging Face hub ({_first_line(exc)}). "
            f"Without network, download it where there is one (`hf download {name} "
            "--local-dir DIR`) and pass --model DIR; or use --preset tiny"
        ) from None
    try:
        family_of(config, compact=True)
    except ValueError as error:
        raise TeacherError(f"{name}: {error}; pass a BERT-family classifier") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=False)
        net = AutoModelForSequenceClassification.from_pretrained(
            name, config=config, trust_remote_code=False, use_safetensors=True
        )
    except (OSError, ValueError) as exc:
        raise TeacherError(
            f"cannot load weights or tokenizer of {name!r} ({_first_line(exc)}); the folder needs "
            "model.safetensors (not a pickle .bin) and tokenizer files"
        ) from None
    net.eval()
    return net, tokenizer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def label2id_for(labels: list[str]) -> dict[str, int]:
    """MahaNews order when the data's labels are MahaNews topics, else sorted order."""
    if set(labels) <= set(MAHANEWS_LABELS):
        return {label: i for i, label in enumerate(MAHANEWS_LABELS)}
    return {label: i for i, label in enumerate(sorted(labels))}


# --------------------------------------------------------------------------------------------
# Preparing the teacher of a study


def prepare_teacher(
    preset: str,
    splits: DataSplits,
    *,
    model: str | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    tiny_overrides: dict[str, object] | None = None,
) -> Teacher:
    """The study's teacher: ``model`` if given, else the preset's (the tiny preset trains one
    on ``splits``, the ones the caller loaded from its :class:`~trainables.data.DataSpec`).

    ``tiny_overrides`` replaces fields of the preset's :class:`TinyTeacherConfig`; ``None``
    values (flags not given) keep the preset's.
    """
    spec = get_preset(preset)
    source = model or spec.model
    if source is not None:
        load_teacher(source)  # fail early, with a clear message, if it cannot be loaded
        return Teacher(str(source), {})
    assert spec.tiny is not None
    # Imported here: the tiny recipe builds on this module's Teacher, and only it needs it.
    from trainables.teachers.tiny import build_tiny_teacher

    given = {k: v for k, v in (tiny_overrides or {}).items() if v is not None}
    cfg = TinyTeacherConfig(**{**spec.tiny.to_dict(), **given})
    return build_tiny_teacher(splits, cfg, cache_dir=cache_dir, progress=progress)


def evaluate_teacher(
    path: str, splits: DataSplits, max_length: int, cache_dir: str | Path | None
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Test accuracy and macro-F1 of a fine-tuned teacher, and its test predictions:
    ``test_pred`` / ``test_gold`` label ids (its ``label2id``), as a trial saves them."""
    model, tokenizer = load_teacher(path)
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    tokens = tokenize_splits(
        splits, tokenizer, model.config.label2id, max_length=max_length, cache_dir=root / "tokens"
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    logits = predict(model, tokens["test"], batch_size=64, device=device)
    pred, gold = logits.argmax(-1).numpy(), tokens["test"].labels.numpy()
    test = label_metrics(pred, gold)
    metrics = {
        "test_accuracy": test["accuracy"],
        "macro_f1": test["macro_f1"],
        "train_seconds": 0.0,
        "num_parameters": sum(p.numel() for p in model.parameters()),
    }
    return metrics, {"test_pred": pred, "test_gold": gold}


# --------------------------------------------------------------------------------------------
# Command line


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m trainables.teachers.load",
        description="Build (tiny preset) or evaluate (paper preset, --model) a teacher; "
        "prints one JSON line with its test metrics.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="tiny",
        help="tiny: train a small BERT here; paper: the L3Cube model",
    )
    p.add_argument("--model", help="hub id or local folder of a BERT-family classifier")
    p.add_argument("--data-dir", help="folder of CSV/parquet files (e.g. ../shared/data/mahanews)")
    p.add_argument("--dataset", help="mahanews-lpc|mahanews-shc|mahanews-ldc or a HF dataset id")
    p.add_argument("--variant", help="MahaNews variant in --data-dir: lpc, shc or ldc")
    p.add_argument("--text-column", help="text column (default: found among common names)")
    p.add_argument("--label-column", help="label column (default: found among common names)")
    p.add_argument("--max-rows", type=int, help="stratified subset of each split (quick runs)")
    p.add_argument(
        "--keep-overlap",
        action="store_true",
        help="keep train/validation rows whose text is also in test (and train rows also in "
        "validation), to reproduce numbers measured before they were removed",
    )
    p.add_argument(
        "--seed", type=int, default=42, help="splits the data and seeds the tiny teacher"
    )
    p.add_argument(
        "--cache-dir",
        help="where teachers and tokens are cached (default: "
        "$LOWRES_CACHE or ~/.cache/lowres-study)",
    )
    p.add_argument("--epochs", type=int, help="fine-tuning epochs of the tiny teacher")
    p.add_argument("--mlm-epochs", type=int, help="MLM pre-training epochs of the tiny teacher")
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "fp16", "bf16"),
        help="tiny teacher training precision (default auto: fp16 + GradScaler on CUDA, fp32 "
        "on CPU)",
    )
    p.add_argument(
        "--predictions",
        metavar="FILE.npz",
        help="also write the teacher's test predictions (test_pred, test_gold label ids) there; "
        "compare two such files with python -m analysis.compare",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        splits = load_splits(DataSpec.from_args(args), cache_dir=args.cache_dir)
        if not args.quiet:
            lines = [splits.summary(), *("  " + line for line in splits.report.lines())]
            print("\n".join(lines), file=sys.stderr, flush=True)
        overrides = {
            "epochs": args.epochs,
            "mlm_epochs": args.mlm_epochs,
            "seed": args.seed,
            "precision": args.precision,
        }
        teacher = prepare_teacher(
            args.preset,
            splits,
            model=args.model,
            cache_dir=args.cache_dir,
            progress=not args.quiet,
            tiny_overrides=overrides,
        )
        if not teacher.metrics or args.predictions:  # a given model, or its predictions asked
            metrics, predictions = evaluate_teacher(
                teacher.path, splits, get_preset(args.preset).max_length, args.cache_dir
            )
            teacher.metrics = teacher.metrics or metrics
            if args.predictions:
                save_predictions(predictions, args.predictions)
    except (DataError, TeacherError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"teacher": teacher.path, **teacher.metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
