"""Benchmark: the noise of the speedup and the cost of measuring, by batch count vs by budget.

A tiny-preset-shaped BERT teacher (4 x 256, FFN 1024, vocabulary 8,000, 12 labels, random
weights) and a narrower copy (FFN 512: what a compacted FFN-pruned student looks like) are
measured ``--n`` times each way, the two ways alternating so a busier stretch of a shared machine
falls on both:

- ``batches``: the measuring before the budget: ``--batches`` test batches per round, 1 warm-up
  round and ``--repeats`` interleaved rounds (:func:`time_calls`), then inference energy in
  separate windows of at least ``--energy-seconds`` per model (:func:`inference_energy`);
- ``budget``: :func:`measure_by_budget` with ``--seconds`` per model and round, capped at
  ``--batches``, energy metered in the rounds (extra windows up to ``--energy-seconds``);
- ``budget_unmetered``: the same without any meter, to tell the meters' effect on the timing
  from the budget's.

Batches are ``--batch-size`` x ``--seq-len`` random ids (the tiny preset: 64 x 128), one thread.
Prints each measurement, then one JSON line: per way the speedups, their sd and geometric sd,
the mean wall seconds of one measurement (timing and energy), and the budget / batches ratios.
Wall times on a shared machine are upper bounds: read the ratios.

    python -m trainables.commands.bench_timing [--n 10] [--seconds 3] [--no-energy]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification

from trainables.measure import (
    TimingBudget,
    batch_passes,
    forward_passes,
    inference_energy,
    measure_by_budget,
    measuring,
    speedup,
    time_calls,
)
from trainables.presets import TinyTeacherConfig


def main(argv: list[str] | None = None) -> int:
    """The command: run the benchmark, print its JSON line; 0 when it finished."""
    print(json.dumps(bench(_parse_args(argv))))
    return 0


def bench(args: argparse.Namespace) -> dict[str, object]:
    """Speedups and wall seconds of ``args.n`` measurements each way, and their summary."""
    torch.manual_seed(args.seed)
    tiny = TinyTeacherConfig()
    shape = {
        "vocab_size": tiny.vocab_size,
        "hidden_size": tiny.hidden_size,
        "num_hidden_layers": tiny.num_hidden_layers,
        "num_attention_heads": tiny.num_attention_heads,
        "num_labels": 12,
    }
    models = {
        "teacher": BertForSequenceClassification(
            BertConfig(**shape, intermediate_size=tiny.intermediate_size)
        ).eval(),
        "model": BertForSequenceClassification(
            BertConfig(**shape, intermediate_size=tiny.intermediate_size // 2)
        ).eval(),
    }
    batches = [
        {
            "input_ids": torch.randint(1000, tiny.vocab_size, (args.batch_size, args.seq_len)),
            "attention_mask": torch.ones(args.batch_size, args.seq_len, dtype=torch.long),
        }
        for _ in range(args.batches + 2)  # more than the cap, as a test split has
    ]
    meter = {"enabled": not args.no_energy, "tracking_mode": "process"}
    ways = ["batches", "budget", "budget_unmetered"]
    results: dict[str, dict[str, list[float]]] = {
        way: {"speedup": [], "seconds": []} for way in ways
    }
    for run in range(args.n):
        start = run % len(ways)  # the order rotates, as the timing rounds' does
        for way in ways[start:] + ways[:start]:
            begin = time.perf_counter()
            with measuring("cpu", "fp32", threads=1):
                if way == "batches":
                    calls = forward_passes(models, batches[: args.batches], device="cpu")
                    timings = time_calls(calls, repeats=args.repeats)
                    inference_energy(
                        calls,
                        predictions=args.batches * args.batch_size,
                        min_seconds=args.energy_seconds,
                        **meter,
                    )
                    note = f"{args.batches} batches x {args.repeats} rounds"
                else:
                    measured = measure_by_budget(
                        batch_passes(models, batches, device="cpu"),
                        [args.batch_size] * len(batches),
                        TimingBudget(
                            repeats=args.repeats,
                            seconds=args.seconds,
                            max_batches=args.batches,
                            energy_seconds=args.energy_seconds,
                            meter=meter if way == "budget" else None,
                        ),
                    )
                    timings, plan = measured.timings, measured.plan
                    note = f"{plan.batches} batches x {plan.repeats} rounds"
            seconds = time.perf_counter() - begin
            ratio = speedup(timings, "teacher", "model")
            results[way]["speedup"].append(ratio)
            results[way]["seconds"].append(seconds)
            print(
                f"{run + 1}/{args.n} {way}: speedup {ratio:.3f}, {seconds:.0f} s ({note})",
                flush=True,
            )
    summary = {way: _summary(values) for way, values in results.items()}
    keys = ("speedup_sd", "speedup_geometric_sd_log", "wall_seconds")
    return {
        "settings": vars(args),
        "results": results,
        "summary": summary,
        "over_batches": {
            way: {key: summary[way][key] / summary["batches"][key] for key in keys}
            for way in ways[1:]
        },
    }


def _summary(values: dict[str, list[float]]) -> dict[str, float]:
    speedups, logs = values["speedup"], [math.log(s) for s in values["speedup"]]
    return {
        "speedup_mean": statistics.fmean(speedups),
        "speedup_sd": statistics.stdev(speedups),
        # log of the geometric sd: the sd of log speedup (0.01 is about 1%)
        "speedup_geometric_sd_log": statistics.stdev(logs),
        "wall_seconds": statistics.fmean(values["seconds"]),
    }


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10, help="measurements each way (>= 2)")
    parser.add_argument("--seconds", type=float, default=3.0, help="budget per model and round")
    parser.add_argument("--batches", type=int, default=8, help="batches per round (the cap)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--energy-seconds", type=float, default=10.0)
    parser.add_argument("--no-energy", action="store_true", help="no CodeCarbon meters")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error(f"--n {args.n}: need at least 2 measurements for an sd")
    return args


if __name__ == "__main__":
    raise SystemExit(main())
