"""Benchmark: measuring by budget on a model whose one batch overruns it, whole batch vs sub-batch.

A random BERT of a medium shape (default 12 x 768, FFN 3072, vocabulary 30,000, 12 labels) and a
copy with half its FFN (what an FFN-pruned student compacts to) are timed against each other by
:func:`~trainables.measure.budget.measure_by_budget` on ``--batch-size`` x ``--seq-len`` random ids
at one thread, each way ``--n`` times, the ways alternating:

- ``whole``: without ``heads``, as before the sub-batch: a warm-up of a whole batch per model,
  then the rounds the budget cuts to (at least 3) of a whole batch;
- ``sub``: with ``heads``: a cold probe of 8 rows per model, then the first rows of the batch
  that fill ``--seconds`` (at least 8), warmed up once and timed.

Prints each measurement (wall seconds, speedup, plan), then one JSON line with both ways'
speedups and mean wall seconds and the FLOP-ideal speedup. Wall times on a shared machine are
upper bounds: read the ratios.

    python -m trainables.commands.bench_subbatch [--n 3] [--seconds 3] [--layers 12]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification

from trainables.compress.compaction import speedup_ideal
from trainables.measure import TimingBudget, measure_by_budget, measuring, speedup


def main(argv: list[str] | None = None) -> int:
    """The command: run the benchmark, print its JSON line; 0 when it finished."""
    print(json.dumps(bench(_parse_args(argv))))
    return 0


def bench(args: argparse.Namespace) -> dict[str, object]:
    """Speedups and wall seconds of ``args.n`` measurements each way."""
    torch.manual_seed(args.seed)
    shape = {
        "vocab_size": args.vocab,
        "hidden_size": args.hidden,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.hidden // 64,
        "num_labels": 12,
    }
    teacher = BertForSequenceClassification(BertConfig(intermediate_size=4 * args.hidden, **shape))
    student = BertForSequenceClassification(BertConfig(intermediate_size=2 * args.hidden, **shape))
    models = {"teacher": teacher.eval(), "model": student.eval()}
    ids = torch.randint(1000, args.vocab, (args.batch_size, args.seq_len))
    mask = torch.ones_like(ids)

    def run(model: torch.nn.Module, rows: int) -> None:
        model(input_ids=ids[:rows], attention_mask=mask[:rows]).logits.argmax(-1)

    calls = {
        name: [functools.partial(run, model, args.batch_size)] for name, model in models.items()
    }
    heads = {
        name: functools.partial(functools.partial, run, model) for name, model in models.items()
    }
    runs: dict[str, list[dict[str, object]]] = {"whole": [], "sub": []}
    for _ in range(args.n):
        for way in runs:
            begin = time.perf_counter()
            with measuring("cpu", "fp32", threads=1):
                measured = measure_by_budget(
                    calls,
                    [args.batch_size],
                    TimingBudget(repeats=args.repeats, seconds=args.seconds),
                    heads=heads if way == "sub" else None,
                )
            row = {
                "wall_s": round(time.perf_counter() - begin, 1),
                "speedup": round(speedup(measured.timings, "teacher", "model"), 3),
                "rows": measured.rows,
                "rounds": measured.plan.repeats,
            }
            runs[way].append(row)
            print(way, row, flush=True)
    return {
        way: {
            "speedups": [row["speedup"] for row in rows],
            "mean_wall_s": round(statistics.mean(float(row["wall_s"]) for row in rows), 1),
        }
        for way, rows in runs.items()
    } | {"speedup_ideal": round(speedup_ideal(teacher, student, args.seq_len), 3)}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3, help="measurements each way")
    parser.add_argument("--seconds", type=float, default=3.0, help="budget per model and round")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--vocab", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 1 or args.hidden % 64:
        parser.error(f"need --n >= 1 and --hidden a multiple of 64, got {args.n}, {args.hidden}")
    return args


if __name__ == "__main__":
    raise SystemExit(main())
