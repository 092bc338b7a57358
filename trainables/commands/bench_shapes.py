"""What the speed benchmarks share: the real shapes of each family's base model, pruning
scores shaped like trained ones, the timing flags, and models timed on one random batch.

>>> sorted(REAL_SHAPES)
['bert', 'distilbert', 'electra', 'roberta', 'xlm-roberta']
"""

from __future__ import annotations

import argparse

import torch

from trainables.compress.families import family_of
from trainables.measure import timing as measure

TEACHER_SHAPE = {
    "vocab_size": 197_285,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "num_labels": 12,
}
# --family: the real shape of each family's usual base model (random weights).
_BASE = {k: v for k, v in TEACHER_SHAPE.items() if k != "vocab_size"}
_ROBERTA = {**_BASE, "max_position_embeddings": 514, "pad_token_id": 1, "type_vocab_size": 1}
REAL_SHAPES: dict[str, dict] = {
    "bert": TEACHER_SHAPE,  # the paper's model (MahaBERT-style, 197,285 pieces)
    "xlm-roberta": {**_ROBERTA, "vocab_size": 250_002},  # XLM-R base, MahaRoBERTa
    "roberta": {**_ROBERTA, "vocab_size": 50_265},  # roberta-base
    "electra": {**_BASE, "vocab_size": 119_547, "embedding_size": 768},  # an mBERT-vocab ELECTRA
    "distilbert": {  # distilbert-base-multilingual-cased
        "vocab_size": 119_547,
        "dim": 768,
        "n_layers": 6,
        "n_heads": 12,
        "hidden_dim": 3072,
        "max_position_embeddings": 512,
        "num_labels": 12,
    },
}


@torch.no_grad()
def structured_random_scores(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Random scores shaped the way trained pruning ends: each head ranks all its blocks the same
    in Q, K, V and O (so topk drops whole heads), and FFN neurons rank one by one."""
    family = family_of(model)
    for layer in family.encoder_layers(model):
        head_size = family.head_size(layer)
        head_ranks = torch.randperm(family.head_count(layer), generator=generator).float()
        for path in family.attention_linears:
            masked = layer.get_submodule(path)
            is_output = path == family.attention_output
            # Heads run along the rows of Q, K and V and along the columns of the output.
            count = masked.grid[1] if is_output else masked.grid[0]
            size = masked.block_shape[1] if is_output else masked.block_shape[0]
            ranks = head_ranks[torch.arange(count) * size // head_size]
            ranks = ranks.view(1, -1) if is_output else ranks.view(-1, 1)
            tie_breaker = 0.5 * torch.rand(masked.grid, generator=generator)
            masked.mask_scores.copy_((ranks + tie_breaker).view_as(masked.mask_scores))
        neurons = layer.get_submodule(family.ffn_input).mask_scores
        neurons.copy_(torch.rand(neurons.shape, generator=generator))


def time_on_random_batch(
    models: dict[str, torch.nn.Module],
    vocab_size: int,
    args: argparse.Namespace,
    *,
    device: torch.device,
    precision: str,
    generator: torch.Generator | None = None,
) -> tuple[dict[str, measure.TimingResult], dict[str, torch.Tensor]]:
    """The models (moved to ``device``) timed interleaved on one random batch of
    ``args.batch_size`` x ``args.seq_len`` ids (past the special ones), ``args.repeats`` rounds;
    the timings and the batch."""
    for model in models.values():
        model.to(device)
    shape = (args.batch_size, args.seq_len)
    batch = {
        "input_ids": torch.randint(5, vocab_size, shape, generator=generator),
        "attention_mask": torch.ones(*shape, dtype=torch.long),
    }
    print(
        f"timing {len(models)} models x {args.repeats} repeats, batch {args.batch_size} x "
        f"{args.seq_len}, {precision} on {device} ({args.threads} threads)",
        flush=True,
    )
    timings = measure.time_inference(
        models, [batch], device=device, precision=precision, repeats=args.repeats
    )
    return timings, batch


def bench_parser(module: str, doc: str) -> argparse.ArgumentParser:
    """A benchmark command's parser: ``python -m module``, described by the first paragraph of
    ``doc``, defaults in the help, and the timing flags (:func:`add_timing_args`)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=doc.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_timing_args(parser)
    return parser


def add_timing_args(parser: argparse.ArgumentParser) -> None:
    """The flags every benchmark times by: threads, rounds, the batch's shape, the seed."""
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (torch)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per model")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per timed batch")
    parser.add_argument("--seq-len", type=int, default=128, help="tokens per sequence")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, scores and inputs")


def check_timing_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error (exit 2) for timing flags out of range."""
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be >= 1")
