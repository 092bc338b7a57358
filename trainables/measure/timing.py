"""Interleaved inference timing: the speedup of one model over another.

Speedup is a ratio of two timings taken on a machine that other processes share, so
the models are timed on the same batches, interleaved (each repeat runs every model once, and
the order rotates between repeats so no model always goes first), and the ratio of medians is
reported. A trial times each model from raw text to predicted label (:func:`text_passes`:
tokenising with the model's own tokenizer, the ids to the device, the forward pass, the argmax),
the way a deployed classifier spends its time; the tokenising inside each timed call is timed
too, so the forward-only time of the same call in the same round is its time less the
tokenising (:meth:`TimingResult.without`). :func:`forward_passes` and :func:`batch_passes` time
forward passes of pre-tokenised batches (the benchmarks).

Tokenizer threads: a fast tokenizer encodes a batch on the Rust ``tokenizers`` thread pool
(rayon). With ``tokenizers`` 0.23, ``TOKENIZERS_PARALLELISM`` is read at every batch call, so
:func:`measuring` with ``threads=1`` sets it to ``false`` for the timed region (and restores it);
the pool's size, ``RAYON_NUM_THREADS``, is read once, when the pool is first built in the
process, so with ``threads`` > 1 it is set here too but holds only if no tokenizer has encoded a
batch in parallel before (set it before the study starts to be sure).

>>> results = time_calls({"teacher": lambda: sum(range(20_000)), "student": lambda: sum(range(99))},
...                      repeats=3)
>>> speedup(results, "teacher", "student") > 1  # teacher median / student median
True
"""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import torch
from threadpoolctl import threadpool_limits
from torch import Tensor, nn

from trainables.evaluation import model_inputs
from trainables.precision import precision_autocast


@contextlib.contextmanager
def measuring(device: torch.device | str, precision: str, threads: int = 0) -> Iterator[None]:
    """What every timed or metered pass runs under, for every model and trial kind:
    ``torch.inference_mode()``, the autocast of ``precision`` (validated on entry) and, when
    ``threads`` > 0, that many torch CPU threads (on CPU) and BLAS/OpenMP threads (0: unchanged)."""
    device = torch.device(device)
    autocast = precision_autocast(device, precision)
    with _thread_limit(threads, device), torch.inference_mode(), autocast:
        yield


@contextlib.contextmanager
def _thread_limit(threads: int, device: torch.device) -> Iterator[None]:
    if not threads:
        yield
        return
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads), tokenizer_threads(threads):
            yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def tokenizer_threads(threads: int) -> Iterator[None]:
    """The fast tokenizers' Rust pool capped at ``threads`` while inside (0: unchanged): one
    thread is ``TOKENIZERS_PARALLELISM=false`` (read at every batch call); more set
    ``RAYON_NUM_THREADS``, which holds only if the process has not built the pool yet. The
    environment is given back as it was.

    >>> with tokenizer_threads(1):
    ...     os.environ["TOKENIZERS_PARALLELISM"]
    'false'
    """
    if not threads:
        yield
        return
    if threads == 1:
        settings = {"TOKENIZERS_PARALLELISM": "false"}
    else:  # a user's TOKENIZERS_PARALLELISM=false stays: a cap, never more threads
        settings = {"RAYON_NUM_THREADS": str(threads)}
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The part of a timed call from raw text that tokenises (and moves the ids to the device).
TOKENISE = "tokenise"


class Parts(dict):
    """What a timed call returns to report the seconds of named parts of its own time
    (``Parts({TOKENISE: 0.2})``). Only this type counts: a call that returns a model's outputs
    (a dict of tensors, as ONNX Runtime's rows do) reports no parts."""


@dataclass(frozen=True)
class TimingResult:
    """Wall-clock seconds of one model over all batches, one entry per repeat; ``parts``: the
    seconds of named parts inside each repeat's call (e.g. :data:`TOKENISE`), when its calls
    report them.

    >>> result = TimingResult((4.0, 6.0, 5.0), {TOKENISE: (1.0, 3.0, 1.0)})
    >>> result.median, result.without(TOKENISE).median, result.share(TOKENISE)
    (5.0, 3.0, 0.25)
    """

    seconds: tuple[float, ...]
    parts: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def without(self, part: str) -> TimingResult:
        """The same repeats less ``part``'s seconds in each (the rest of the same calls)."""
        if part not in self.parts:
            raise KeyError(f"no part {part!r} was timed; timed parts: {sorted(self.parts)}")
        pairs = zip(self.seconds, self.parts[part], strict=True)
        return TimingResult(tuple(total - inner for total, inner in pairs))

    def share(self, part: str) -> float:
        """The median over repeats of ``part``'s share of its repeat's seconds."""
        if part not in self.parts:
            raise KeyError(f"no part {part!r} was timed; timed parts: {sorted(self.parts)}")
        pairs = zip(self.parts[part], self.seconds, strict=True)
        return statistics.median(inner / total if total > 0 else 0.0 for inner, total in pairs)


def time_inference(
    models: Mapping[str, nn.Module],
    batches: Sequence[Mapping[str, Tensor]],
    *,
    device: torch.device | str,
    precision: str = "fp32",
    repeats: int = 5,
    warmup: int = 1,
) -> dict[str, TimingResult]:
    """Time each model's forward passes over the same batches, interleaved.

    Each repeat runs every model once over all ``batches``; repeat ``r`` starts with model
    ``r mod len(models)`` (with two models: A, B then B, A then A, B ...), so a slow or fast
    stretch of a shared machine does not always fall on the same model. ``warmup`` untimed
    passes per model come first. Runs under ``torch.inference_mode()`` and the autocast of
    ``precision``, with ``torch.cuda.synchronize`` around each timed region on CUDA.

    The models must already be on ``device``; they are put in eval mode for the measurement and
    given back in the mode they came in. ``labels`` and ``idx`` are dropped from each batch.
    """
    device = torch.device(device)
    precision_autocast(device, precision)  # validates precision before any work
    if not models:
        raise ValueError("time_inference needs at least one model, got none")
    if not batches:
        raise ValueError("time_inference needs at least one batch, got none")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats=}, {warmup=}")
    for name, model in models.items():
        _check_device(name, model, device)

    calls = forward_passes(models, batches, device=device)
    was_training = {name: model.training for name, model in models.items()}
    try:
        for model in models.values():
            model.eval()
        with measuring(device, precision):
            return time_calls(calls, repeats=repeats, warmup=warmup, device=device)
    finally:
        for name, model in models.items():
            model.train(was_training[name])


def batch_passes(
    models: Mapping[str, nn.Module],
    batches: Sequence[Mapping[str, Tensor]],
    *,
    device: torch.device | str,
) -> dict[str, list[Callable[[], None]]]:
    """Like :func:`forward_passes`, one call per model and batch: what
    :func:`~trainables.measure.budget.measure_by_budget` chooses a number of batches from."""
    device = torch.device(device)
    inputs = [model_inputs(batch, device) for batch in batches]
    return {
        name: [functools.partial(_run, model, [batch]) for batch in inputs]
        for name, model in models.items()
    }


def forward_passes(
    models: Mapping[str, nn.Module],
    batches: Sequence[Mapping[str, Tensor]],
    *,
    device: torch.device | str,
) -> dict[str, Callable[[], None]]:
    """One zero-argument call per model that runs its forward pass over every batch: the unit
    that :func:`time_inference` times and :func:`inference_energy` meters. The batches are moved
    to ``device`` once, here, without ``labels`` and ``idx``; eval mode, inference mode and
    autocast are the caller's."""
    device = torch.device(device)
    inputs = [model_inputs(batch, device) for batch in batches]
    # Bound per model now: a lambda in a comprehension would see only the last model.
    return {name: functools.partial(_run, model, inputs) for name, model in models.items()}


def time_calls(
    calls: Mapping[str, Callable[[], object]],
    *,
    repeats: int,
    warmup: int = 1,
    device: torch.device | str | None = None,
    window: Callable[[str], AbstractContextManager[object]] | None = None,
) -> dict[str, TimingResult]:
    """Time zero-argument calls against each other, interleaved: the core of ``time_inference``.

    ``warmup`` untimed rounds run every call once in the given order; then each of ``repeats``
    rounds runs every call once, round ``r`` starting with call ``r mod len(calls)``, so a slow
    or fast stretch of a shared machine does not always fall on the same call. With a CUDA
    ``device``, ``torch.cuda.synchronize`` brackets each timed call so queued kernels are
    counted where they were launched. A call that returns a mapping of part names to seconds (the
    parts of its own time: :func:`text_passes`) has them kept per repeat in
    :attr:`TimingResult.parts`. Anything else (inference mode, autocast, eval mode, thread
    limits) is the caller's to set around this call or inside the calls. ``window(name)``, when
    given, is a context entered around each timed call of ``name`` and left after it, outside the
    clock (an energy meter: its start-up and its last reading are not timed).
    """
    if not calls:
        raise ValueError("time_calls needs at least one call, got none")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats=}, {warmup=}")
    sync_device = torch.device("cpu" if device is None else device)
    names = list(calls)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    parts: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    for _ in range(warmup):
        for name in names:
            calls[name]()
    for repeat in range(repeats):
        start = repeat % len(names)
        for name in names[start:] + names[:start]:
            with contextlib.nullcontext() if window is None else window(name):
                synchronize(sync_device)
                begin = time.perf_counter()
                returned = calls[name]()
                synchronize(sync_device)
                seconds[name].append(time.perf_counter() - begin)
            if isinstance(returned, Parts):
                for part, part_seconds in returned.items():
                    parts[name].setdefault(part, []).append(float(part_seconds))
    return {
        name: TimingResult(
            tuple(seconds[name]),
            {part: tuple(values) for part, values in parts[name].items() if len(values) == repeats},
        )
        for name in names
    }


def speedup(
    results: Mapping[str, TimingResult], baseline: str = "teacher", candidate: str = "student"
) -> float:
    """Median time of ``baseline`` / median time of ``candidate`` (the paper's speedup)."""
    for role, name in (("baseline", baseline), ("candidate", candidate)):
        if name not in results:
            raise KeyError(f"{role} {name!r} has no timing; timed models: {sorted(results)}")
    candidate_median = results[candidate].median
    if candidate_median <= 0:
        raise ValueError(f"candidate {candidate!r} has median time {candidate_median}; need > 0")
    return results[baseline].median / candidate_median


def text_passes(
    models: Mapping[str, tuple[nn.Module, Any]],
    chunks: Sequence[Sequence[str]],
    *,
    max_length: int,
    device: torch.device | str,
) -> dict[str, list[Callable[[], dict[str, float]]]]:
    """One call per model and chunk of raw texts (``models``: name -> (model, its own
    tokenizer)) that turns the chunk into label ids (:func:`from_text`): what a trial times, by
    budget. Each call returns the seconds it spent tokenising (``{TOKENISE: s}``)."""
    device = torch.device(device)
    return {
        name: [
            functools.partial(
                from_text, model, tokenizer, list(chunk), max_length=max_length, device=device
            )
            for chunk in chunks
        ]
        for name, (model, tokenizer) in models.items()
    }


def text_heads(
    models: Mapping[str, tuple[nn.Module, Any]],
    chunk: Sequence[str],
    *,
    max_length: int,
    device: torch.device | str,
) -> dict[str, Callable[[int], Callable[[], dict[str, float]]]]:
    """Per model, ``rows`` -> the call of :func:`text_passes` over the first ``rows`` texts of
    ``chunk`` (the first batch): the sub-batch that
    :func:`~trainables.measure.budget.measure_by_budget` times when one batch overruns its
    budget, the same rows for every model."""

    def head(name: str, rows: int) -> Callable[[], dict[str, float]]:
        first = [list(chunk)[:rows]]
        (call,) = text_passes({name: models[name]}, first, max_length=max_length, device=device)[
            name
        ]
        return call

    return {name: functools.partial(head, name) for name in models}


def from_text(
    model: nn.Module,
    tokenizer: Callable[..., Mapping[str, Tensor]],
    texts: Sequence[str],
    *,
    max_length: int,
    device: torch.device,
) -> dict[str, float]:
    """Raw ``texts`` to ``model``'s label ids, as a deployed classifier runs: tokenise as a trial
    does (truncation to ``max_length``, padding to the longest text: the widths of
    :meth:`~trainables.data.TokenizedSplit.batches`), the ids to ``device``, the forward pass,
    the argmax. Returns the seconds of the first two (:data:`TOKENISE`). Inference mode,
    autocast, eval mode and threads are the caller's."""
    begin = time.perf_counter()
    encoded = tokenizer(
        list(texts), truncation=True, max_length=max_length, padding=True, return_tensors="pt"
    )
    # the inputs a trial's model gets from its tokenised splits (no token type ids)
    inputs = {key: encoded[key].to(device) for key in ("input_ids", "attention_mask")}
    synchronize(device)
    tokenised = time.perf_counter() - begin
    model(**inputs).logits.argmax(dim=-1)
    return Parts({TOKENISE: tokenised})


def _run(model: nn.Module, inputs: list[dict[str, Any]]) -> None:
    for batch in inputs:
        model(**batch)


def in_fp32(call: Callable[[], object], device: torch.device | str) -> Callable[[], object]:
    """``call`` with any surrounding autocast switched off: the fp32 reference of a model timed
    in mixed precision, in the same interleaved rounds."""
    device_type = torch.device(device).type

    def fp32_call() -> object:
        with torch.autocast(device_type=device_type, enabled=False):
            return call()

    return fp32_call


def synchronize(device: torch.device) -> None:
    """Wait for ``device``'s queued kernels (CUDA); nothing on other devices."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _check_device(name: str, model: nn.Module, device: torch.device) -> None:
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device.type != device.type:
        raise ValueError(
            f"model {name!r} is on {parameter.device} but timing was asked on {device}; "
            f"move it first with model.to({str(device)!r})"
        )
