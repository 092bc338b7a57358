"""``python -m trainables.commands.teacher`` (or ``lowres-teacher``): build the tiny teacher
(or read it from its cache), or evaluate a given one (``--model``), on the data the flags name,
and print one JSON line with its test metrics.

``lowres-teacher --preset tiny --data-dir ../shared/data/mahanews --variant lpc``
"""

from __future__ import annotations

import argparse
import json
import sys

from trainables.data import add_data_flags, data_spec, load_splits, text_groups
from trainables.data.flags import HelpFormatter
from trainables.errors import TrainablesError
from trainables.evaluation import save_predictions
from trainables.precision import PRECISIONS
from trainables.presets import PRESETS, TINY_FAMILIES, get_preset
from trainables.teachers.load import evaluate_teacher
from trainables.teachers.prepare import prepare_teacher


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trainables.commands.teacher",
        description="Build (tiny preset) or evaluate (paper preset, --model) a teacher; "
        "prints one JSON line with its test metrics.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="tiny",
        help="tiny: train a small BERT here; paper: the L3Cube model",
    )
    p.add_argument("--model", help="hub id or local folder of a BERT-family classifier")
    add_data_flags(p, seed_help="splits the data and seeds the tiny teacher")
    p.add_argument(
        "--cache-dir",
        help="where teachers and tokens are cached (default: "
        "$LOWRES_CACHE or ~/.cache/lowres-study)",
    )
    p.add_argument(
        "--family",
        choices=TINY_FAMILIES,
        help="encoder family (and tokenizer kind) of the tiny teacher (default: bert)",
    )
    p.add_argument("--epochs", type=int, help="fine-tuning epochs of the tiny teacher")
    p.add_argument("--mlm-epochs", type=int, help="MLM pre-training epochs of the tiny teacher")
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="tiny teacher training precision (default auto: fp16 + GradScaler on CUDA, fp32 "
        "on CPU)",
    )
    p.add_argument(
        "--predictions",
        metavar="FILE.npz",
        help="also write the teacher's test predictions (test_pred, test_gold label ids, "
        "test_group: one id per distinct test text) there; compare two such files with python "
        "-m analysis.compare",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        splits = load_splits(data_spec(args), cache_dir=args.cache_dir)
        if not args.quiet:
            lines = [splits.summary(), *("  " + line for line in splits.report.lines())]
            print("\n".join(lines), file=sys.stderr, flush=True)
        overrides = {
            "family": args.family,
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
                groups = {"test_group": text_groups(splits.test.text)}
                save_predictions({**predictions, **groups}, args.predictions)
    except TrainablesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"teacher": teacher.path, **teacher.metrics}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
