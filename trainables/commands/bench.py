"""Benchmark: achieved vs ideal speedup of compaction on the real teacher's shape, with int8
and a trimmed vocabulary.

A 12-layer, 768-hidden, 197,285-vocabulary BERT classifier with random weights (``--family``:
another family at its usual base model's shape, e.g. XLM-R base) is pruned at each
density with topk and random scores shaped the way whole-head pruning ends (all blocks of a head
share its score, so whole heads go; FFN neurons go one by one), compacted, and timed against the
baseline: batch 32 x 128 tokens, interleaved repeats in one process, ratio of medians
(``trainables.measure``); fp32 on CPU, fp16 autocast on CUDA. ``speedup_ideal`` is the FLOP ratio.
These masks are an **upper bound**: block pruning that scores Q, K, V and O blocks on their own
rarely empties a whole head in training (``attention_block="head"`` scores heads whole).
On CPU each model is also timed after dynamic int8 quantisation (``+int8`` rows, against the
same fp32 baseline), and the smallest density runs in ONNX Runtime too, fp32 and with ONNX
Runtime's own dynamic int8 (``onnx`` rows, timed against the baseline in a second interleaved
round; needs the ``export`` extra). Then the parameters and weight bytes of the baseline with
its vocabulary trimmed to 20k, 30k and 50k rows (``--vocab-rows``).

Last, with ``--data-dir`` (and ``--variant``), what training really leaves: a teacher of the
real model's width (768 hidden, 12 heads of 64, FFN 3072; ``--trained-layers`` layers, a small
WordPiece vocabulary) is trained briefly on the data, and a real trial (``run_trial``: topk with
the cubic schedule, then compaction) prunes it to each density with 32 x 32 blocks and with whole
heads; each row gives the heads and FFN neurons the compact model kept and its ideal speedup.

    python -m trainables.commands.bench [--threads 1] [--repeats 5] [--densities 0.75 0.5]
        [--data-dir ../shared/data/mahanews --variant shc]

Prints tables, then one JSON line: {"models": [{name, target_density, density (the compact
encoder's realised kept fraction), quantize, speedup, speedup_ideal, num_parameters, ...}],
"vocabulary": [{rows, num_parameters, weights_mb}]}.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from trainables import metrics
from trainables.commands.bench_shapes import (
    REAL_SHAPES,
    TEACHER_SHAPE,
    bench_parser,
    check_timing_args,
    structured_random_scores,
    time_on_random_batch,
)
from trainables.compress.compaction import (
    compact_model,
    encoder_density,
    kept_structure,
    parameter_counts,
    speedup_ideal,
)
from trainables.compress.families import FAMILIES, family_of
from trainables.compress.pruning import PruningConfig, apply_threshold, prune_model
from trainables.compress.quantize import quantize_int8
from trainables.data import DataSpec
from trainables.measure import timing as measure
from trainables.presets import TinyTeacherConfig


def main(argv: list[str] | None = None) -> int:
    """The command: run the benchmark, print its JSON line; 0 when it finished."""
    bench(_parse_args(argv))
    return 0


def bench(args: argparse.Namespace) -> dict[str, list[dict]]:
    """The benchmark's rows: compacted models timed against the baseline, vocabulary sizes and
    (with ``--data-dir``) what a short training run leaves."""
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = "fp16" if device.type == "cuda" else "fp32"
    generator = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)

    family = FAMILIES[args.family]
    config = family.config_class(**REAL_SHAPES[args.family])
    baseline = family.classifier_class(config).eval()
    names = family.config_names
    layers, heads_per_layer, ffn_per_layer = (
        getattr(config, name) for name in (names.layers, names.heads, names.ffn)
    )
    print(
        f"baseline ({args.family}): {parameter_counts(baseline)['total'] / 1e6:.1f}M parameters",
        flush=True,
    )
    models = {"baseline": baseline}
    for density in args.densities:
        started = time.perf_counter()
        masked = prune_model(copy.deepcopy(baseline), PruningConfig(target_density=density))
        structured_random_scores(masked, generator)
        apply_threshold(masked, density)
        compact = compact_model(masked)
        del masked
        # Same values as the baseline's: share the 150M-parameter table instead of copying it.
        family.replace(compact.base_model, family.embeddings, family.embeddings_of(baseline))
        models[str(density)] = compact
        kept = kept_structure(compact)
        heads, neurons = kept[metrics.HEADS], kept[metrics.FFN_NEURONS]
        print(
            f"density {density}: heads {heads}/{heads_per_layer * layers}, "
            f"FFN {neurons}/{ffn_per_layer * layers}, "
            f"ideal {speedup_ideal(baseline, compact, args.seq_len):.2f}x "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )

    if device.type == "cpu" and not args.no_int8:
        for name in list(models):
            started = time.perf_counter()
            models[f"{name}+int8"] = quantize_int8(models[name])
            print(f"{name}+int8: quantised ({time.perf_counter() - started:.0f} s)", flush=True)

    timings, batch = time_on_random_batch(
        models, config.vocab_size, args, device=device, precision=precision
    )

    rows = []
    for name in models:
        if name == "baseline":
            continue
        dense = models[name.removesuffix("+int8")]
        target = name.removesuffix("+int8")
        rows.append(
            {
                "name": name,
                "target_density": 1.0 if target == "baseline" else float(target),
                "quantize": "int8" if name.endswith("+int8") else "none",
                metrics.DENSITY: encoder_density(dense, config),
                metrics.SPEEDUP: measure.speedup(timings, "baseline", name),
                metrics.SPEEDUP_IDEAL: speedup_ideal(baseline, dense, args.seq_len),
                metrics.NUM_PARAMETERS: parameter_counts(dense)["total"],
                "seconds": timings[name].median,
                "baseline_seconds": timings["baseline"].median,
            }
        )
    print(
        f"\n{'model':>16} {'density':>8} {'speedup':>8} {'ideal':>7} {'ratio':>6} {'params':>8}"
        "   (masks: whole heads, an upper bound)"
    )
    for row in rows:
        print(
            f"{row['name']:>16} {row[metrics.DENSITY]:>8.3f} "
            f"{row[metrics.SPEEDUP]:>7.2f}x {row[metrics.SPEEDUP_IDEAL]:>6.2f}x "
            f"{row[metrics.SPEEDUP] / row[metrics.SPEEDUP_IDEAL]:>6.2f} "
            f"{row[metrics.NUM_PARAMETERS] / 1e6:>7.1f}M"
        )
    print(f"baseline: {timings['baseline'].median:.3f} s per batch (median)")
    if device.type == "cpu" and not args.no_onnx:
        rows += onnx_rows(models, batch, threads=args.threads, repeats=args.repeats)
    vocabulary = vocabulary_rows(baseline, args.vocab_rows)
    print(f"\n{'vocabulary':>10} {'params':>9} {'weights':>9}")
    for row in vocabulary:
        print(
            f"{row['rows']:>10,} {row['num_parameters'] / 1e6:>8.1f}M {row['weights_mb']:>7.0f}MB"
        )
    trained = []
    if args.data_dir:
        data = DataSpec(data_dir=args.data_dir, variant=args.variant, max_rows=args.max_rows)
        shape = TinyTeacherConfig(
            **{k: v for k, v in TEACHER_SHAPE.items() if k in _TINY_KEYS},
            num_hidden_layers=args.trained_layers,
            vocab_size=4000,
        )
        trained = trained_rows(data, shape, args.densities, epochs=args.trained_epochs)
    result = {"models": rows, "vocabulary": vocabulary, "trained": trained}
    print(json.dumps(result))
    return result


# The teacher's shape as the tiny teacher's recipe takes it (its vocabulary is its own).
_TINY_KEYS = ("hidden_size", "num_attention_heads", "intermediate_size")
GRANULARITIES = ("block", "head")


def trained_rows(
    data: DataSpec,
    shape: TinyTeacherConfig,
    densities: list[float],
    *,
    epochs: int = 3,
    max_length: int = 64,
    block: int = 32,
) -> list[dict]:
    """What a short real training run leaves at each granularity and density: the heads and FFN
    neurons of the compact model, its realised density and ideal speedup.

    A teacher of ``shape`` is trained on ``data`` (the tiny teacher's recipe, one epoch), then
    each trial runs the study's own path (``run_trial``: topk, cubic schedule, compaction) with
    attention scored in ``block`` x ``block`` blocks or per head. Energy is not metered and the
    timing is minimal: only the structure is read."""
    from trainables.data import load_splits
    from trainables.teachers.tiny import build_tiny_teacher
    from trainables.trial.run import run_trial

    splits = load_splits(data)
    layers, heads, ffn = shape.num_hidden_layers, shape.num_attention_heads, shape.intermediate_size
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-trained-") as folder:
        cache = Path(folder)
        teacher_cfg = replace(shape, max_length=max_length, epochs=1, mlm_epochs=0)
        teacher = build_tiny_teacher(splits, teacher_cfg, cache_dir=cache, progress=False)
        print(
            f"\ntrained: a {layers}-layer teacher ({heads} heads, FFN {ffn}) on "
            f"{len(splits.train)} training texts; {epochs} epochs per trial",
            flush=True,
        )
        header = ("granularity", "target", "density", "heads", "FFN", "ideal")
        print(" ".join(f"{h:>{w}}" for h, w in zip(header, (11, 7, 8, 9, 11, 7), strict=True)))
        for granularity in GRANULARITIES:
            for density in densities:
                name = f"{granularity}-{density}"
                result = run_trial(
                    {
                        "name": name,
                        "teacher": teacher.path,
                        "data": data.to_dict(),
                        "cache_dir": str(cache),
                        "max_length": max_length,
                        "target_density": density,
                        "attention_block": granularity,
                        "block_rows": block,
                        "block_cols": block,
                        "epochs": epochs,
                        "learning_rate": 3e-4,
                        "measure_energy": False,
                        "timing_repeats": 1,
                        "timing_batches": 1,
                    },
                    report=lambda *_: None,
                    trial_dir=cache / "trials" / name,
                )
                row = {
                    "attention_block": granularity,
                    "target_density": density,
                    metrics.DENSITY: result[metrics.DENSITY],
                    metrics.HEADS: result[metrics.HEADS],
                    "heads_total": layers * heads,
                    metrics.FFN_NEURONS: result[metrics.FFN_NEURONS],
                    "ffn_neurons_total": layers * ffn,
                    metrics.SPEEDUP_IDEAL: result[metrics.SPEEDUP_IDEAL],
                }
                rows.append(row)
                print(
                    f"{granularity:>11} {density:>7} {row[metrics.DENSITY]:>8.3f} "
                    f"{row[metrics.HEADS]:>4}/{layers * heads:<4} "
                    f"{row[metrics.FFN_NEURONS]:>5}/{layers * ffn:<5} "
                    f"{row[metrics.SPEEDUP_IDEAL]:>6.2f}x",
                    flush=True,
                )
    return rows


def onnx_rows(
    models: dict[str, torch.nn.Module],
    batch: dict[str, torch.Tensor],
    *,
    threads: int,
    repeats: int,
) -> list[dict]:
    """The smallest density's compact model in ONNX Runtime (fp32 and ORT dynamic int8), timed
    interleaved with the PyTorch baseline and the same model's PyTorch int8."""
    try:
        import onnxruntime
    except ImportError:
        print("onnx rows skipped: pip install -e '.[export]' (onnx, onnxscript, onnxruntime)")
        return []
    from trainables.commands.export import export_model, quantize_onnx

    name = min((n for n in models if n != "baseline" and "+" not in n), key=float, default=None)
    if name is None:
        return []
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    feed = {key: tensor.numpy() for key, tensor in batch.items()}
    calls = {"baseline": lambda: models["baseline"](**batch)}
    if f"{name}+int8" in models:
        calls[f"{name}+int8"] = lambda: models[f"{name}+int8"](**batch)
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as folder:
        started = time.perf_counter()
        fp32 = Path(folder) / "model.onnx"
        export_model(models[name], batch, fp32)
        files = {f"{name} onnx": fp32, f"{name} onnx+int8": quantize_onnx(fp32)}
        print(f"{name}: exported to ONNX ({time.perf_counter() - started:.0f} s)", flush=True)
        for label, path in files.items():
            session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
            calls[label] = lambda session=session: session.run(["logits"], feed)
        with torch.inference_mode():
            timings = measure.time_calls(calls, repeats=repeats)
    rows = []
    print(f"\n{'runtime':>20} {'speedup':>8}   (against the PyTorch fp32 baseline, same round)")
    for label in calls:
        if label == "baseline":
            continue
        speedup = measure.speedup(timings, "baseline", label)
        print(f"{label:>20} {speedup:>7.2f}x")
        rows.append(
            {
                "name": label,
                "target_density": float(name),
                "quantize": "int8" if label.endswith("int8") else "none",
                "runtime": "onnxruntime" if "onnx" in label else "torch",
                metrics.SPEEDUP: speedup,
                "seconds": timings[label].median,
                "baseline_seconds": timings["baseline"].median,
            }
        )
    return rows


def vocabulary_rows(model: torch.nn.Module, sizes: list[int]) -> list[dict[str, float]]:
    """Parameters and fp32 weight bytes (MB, 1e6 bytes) of ``model`` as it is and with its
    embedding matrix cut to each of ``sizes`` rows (what ``vocab_trim`` leaves when a corpus
    uses that many pieces): arithmetic on the shapes, no copy of the 150M-row table."""
    embedding = family_of(model).word_embeddings_of(model)
    total = parameter_counts(model)["total"]
    rows = [{"rows": embedding.num_embeddings, "num_parameters": total}]
    for size in sorted(sizes, reverse=True):
        if size < embedding.num_embeddings:
            dropped = (embedding.num_embeddings - size) * embedding.embedding_dim
            rows.append({"rows": size, "num_parameters": total - dropped})
    for row in rows:
        row["weights_mb"] = row["num_parameters"] * 4 / 1e6
    return rows


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser("trainables.commands.bench", __doc__)
    parser.add_argument(
        "--densities",
        type=float,
        nargs="+",
        default=[0.75, 0.5, 0.25, 0.1],
        help="target densities (kept fractions) to prune to",
    )
    parser.add_argument(
        "--family",
        choices=sorted(REAL_SHAPES),
        default="bert",
        help="the encoder family, at its usual base model's real shape (random weights): bert "
        "= the paper's model, xlm-roberta = XLM-R base, distilbert = distilmBERT, ...",
    )
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 rows (CPU)")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime rows (CPU)")
    parser.add_argument(
        "--vocab-rows",
        type=int,
        nargs="+",
        default=[50_000, 30_000, 20_000],
        help="vocabulary sizes to report the trimmed model's size at",
    )
    trained = parser.add_argument_group(
        "what training leaves", "a short real training run per granularity and density"
    )
    trained.add_argument("--data-dir", help="data to train on (e.g. ../shared/data/mahanews)")
    trained.add_argument("--variant", help="MahaNews variant in --data-dir (lpc, shc, ldc)")
    trained.add_argument("--max-rows", type=int, default=400, help="rows per split")
    trained.add_argument("--trained-layers", type=int, default=2, help="layers of that teacher")
    trained.add_argument("--trained-epochs", type=int, default=3, help="epochs per trial")
    args = parser.parse_args(argv)
    if not all(0 < density <= 1 for density in args.densities):
        parser.error(f"densities must lie in (0, 1], got {args.densities}")
    check_timing_args(parser, args)
    return args


if __name__ == "__main__":
    raise SystemExit(main())
