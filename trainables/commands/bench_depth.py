"""Benchmark: achieved vs ideal speedup of dropping encoder layers, alone, with width pruning
and with int8, at the teacher's shape.

A classifier of the real teacher's shape with random weights (``--shape teacher``: 12 layers,
768 hidden, the 197,285-piece vocabulary; ``--family`` another family at its usual base model's
shape, as in :mod:`trainables.commands.bench`; ``--shape tiny``: the tiny preset's 4 x 256 BERT,
FFN 1024, 8,000 pieces) loses ``--drop`` layers each (default a quarter, half and three quarters
of its depth, rounded: 12 -> 9, 6, 3 layers; 4 -> 3, 2, 1) chosen by ``--selection``, then each
depth is also pruned to ``--density`` with the whole-head random scores of
:func:`~trainables.commands.bench_shapes.structured_random_scores` (an upper bound for block
pruning) and compacted; the full depth at that density is the width-only row. On CPU each model
is timed again after dynamic int8. All models are timed interleaved in one process against the
baseline:
batch ``--batch-size`` x ``--seq-len``, ratio of medians (``trainables.measure``), ``--threads``
CPU threads; fp32 on CPU, fp16 autocast on CUDA. ``speedup_ideal`` is the FLOP ratio;
``density`` counts against the baseline's whole encoder (a dropped layer is pruned weight).

    python -m trainables.commands.bench_depth [--threads 1] [--repeats 5] [--drop 3 6 9]
        [--density 0.25] [--shape teacher|tiny] [--no-int8]

Prints a table, then one JSON line: {"models": [{name, layers, target_density, density,
quantize, speedup, speedup_ideal, num_parameters, seconds, baseline_seconds}]}.
"""

from __future__ import annotations

import argparse
import copy
import json

import torch

from trainables import metrics
from trainables.commands.bench_shapes import (
    REAL_SHAPES,
    bench_parser,
    check_timing_args,
    structured_random_scores,
    time_on_random_batch,
)
from trainables.compress.compaction import (
    compact_model,
    encoder_density,
    parameter_counts,
    speedup_ideal,
)
from trainables.compress.depth import (
    LAYER_SELECTIONS,
    check_drop_count,
    drop_layers,
    encoder_depth,
    layers_to_drop,
)
from trainables.compress.families import FAMILIES
from trainables.compress.pruning import PruningConfig, apply_threshold, prune_model
from trainables.compress.quantize import quantize_int8
from trainables.measure import timing as measure

# The tiny preset's teacher (as in trainables.commands.bench_timing), random weights.
TINY_SHAPE = {
    "vocab_size": 8000,
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "max_position_embeddings": 512,
    "num_labels": 12,
}
# Without measured importance there is nothing to learn from: the fixed rules only.
SELECTIONS = tuple(selection for selection in LAYER_SELECTIONS if selection != "learned")
DEFAULT_SHARES = (0.25, 0.5, 0.75)


def main(argv: list[str] | None = None) -> int:
    """The command: run the benchmark, print its JSON line; 0 when it finished."""
    bench_depth(_parse_args(argv))
    return 0


def bench_depth(args: argparse.Namespace) -> dict[str, list[dict]]:
    """The rows: every depth, alone and at ``args.density``, fp32 and int8, against the
    baseline."""
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = "fp16" if device.type == "cuda" else "fp32"
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    family = FAMILIES[args.family]
    shape = TINY_SHAPE if args.shape == "tiny" else REAL_SHAPES[args.family]
    config = family.config_class(**shape)
    baseline = family.classifier_class(config).eval()
    depth = encoder_depth(baseline)
    drops = args.drop or sorted({round(share * depth) for share in DEFAULT_SHARES} - {0})
    for drop in drops:  # too many: refused before any model is built
        check_drop_count(depth, drop)
    embeddings = family.embeddings_of(baseline)

    def shared(model: torch.nn.Module) -> torch.nn.Module:
        # Same values as the baseline's: share the (150M-parameter) table instead of a copy.
        family.replace(model.base_model, family.embeddings, embeddings)
        return model

    models: dict[str, torch.nn.Module] = {"baseline": baseline}
    targets: dict[str, float] = {"baseline": 1.0}
    for drop in [0, *drops]:
        indices = layers_to_drop(depth, drop, args.selection)
        if drop:
            name = f"{depth - drop} layers"
            models[name] = shared(drop_layers(copy.deepcopy(baseline), indices))
            targets[name] = 1.0
        masked = prune_model(
            drop_layers(copy.deepcopy(baseline), indices),
            PruningConfig(target_density=args.density),
        )
        structured_random_scores(masked, generator)
        apply_threshold(masked, args.density)
        name = f"{depth - drop} layers @{args.density:g}"
        models[name] = shared(compact_model(masked).eval())
        targets[name] = args.density
        del masked
        print(f"{name}: built", flush=True)
    if device.type == "cpu" and not args.int8_off:
        for name in list(models):
            if name != "baseline":
                models[f"{name} +int8"] = shared(quantize_int8(models[name]))
                targets[f"{name} +int8"] = targets[name]
    timings, _ = time_on_random_batch(
        models, config.vocab_size, args, device=device, precision=precision, generator=generator
    )
    rows = []
    for name in models:
        if name == "baseline":
            continue
        dense = models[name.removesuffix(" +int8")]
        rows.append(
            {
                "name": name,
                metrics.LAYERS: encoder_depth(dense),
                "target_density": targets[name],
                metrics.DENSITY: encoder_density(dense, config),
                "quantize": "int8" if name.endswith("+int8") else "none",
                metrics.SPEEDUP: measure.speedup(timings, "baseline", name),
                metrics.SPEEDUP_IDEAL: speedup_ideal(baseline, dense, args.seq_len),
                metrics.NUM_PARAMETERS: parameter_counts(dense)["total"],
                "seconds": timings[name].median,
                "baseline_seconds": timings["baseline"].median,
            }
        )
    print(f"\n{'model':>24} {'density':>8} {'speedup':>8} {'ideal':>7} {'ratio':>6}")
    for row in rows:
        print(
            f"{row['name']:>24} {row[metrics.DENSITY]:>8.3f} {row[metrics.SPEEDUP]:>7.2f}x "
            f"{row[metrics.SPEEDUP_IDEAL]:>6.2f}x "
            f"{row[metrics.SPEEDUP] / row[metrics.SPEEDUP_IDEAL]:>6.2f}"
        )
    print(f"baseline: {timings['baseline'].median:.3f} s per batch (median)")
    result = {"models": rows}
    print(json.dumps(result))
    return result


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser("trainables.commands.bench_depth", __doc__)
    parser.add_argument(
        "--drop",
        type=int,
        nargs="+",
        help="layers to drop, one model each (default: a quarter, half, three quarters)",
    )
    parser.add_argument("--selection", choices=SELECTIONS, default="top", help="which layers")
    parser.add_argument("--density", type=float, default=0.25, help="the width-pruning density")
    parser.add_argument("--shape", choices=("teacher", "tiny"), default="teacher")
    parser.add_argument("--family", choices=sorted(REAL_SHAPES), default="bert")
    parser.add_argument("--no-int8", dest="int8_off", action="store_true", help="no int8 rows")
    args = parser.parse_args(argv)
    if not 0 < args.density <= 1:
        parser.error(f"--density must lie in (0, 1], got {args.density}")
    if args.shape == "tiny" and args.family != "bert":
        parser.error(f"--shape tiny is a BERT shape; got --family {args.family}")
    check_timing_args(parser, args)
    return args


if __name__ == "__main__":
    raise SystemExit(main())
