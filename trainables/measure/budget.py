"""Measuring by budget: a trial's timing and inference energy bounded by time, not batch counts.

A model of the paper's size on one CPU thread takes ~40 s per test batch, a tiny one under a
second, so a fixed number of timed batches either wastes an hour or measures almost nothing.
Here the batches per round are chosen once, from a warm-up, so that the slowest model's round
lasts about ``seconds``: at least one batch, at most ``max_batches``, and every model is timed
on the same first batches (the speedup is a ratio over the same inputs). The rounds stay
interleaved with a rotating order and the medians stay the figures (:func:`time_calls`).
When one batch alone overruns the budget, the ``repeats`` rounds are cut to what the budget of
all rounds holds, never below :data:`MIN_REPEATS` (a median of three). A model of the paper's
size overruns even that (a 64-row batch is 20-40 s per model at one thread, and its untimed
warm-up alone a full batch per model), so when the caller can run the first rows of the first
batch (``heads``), a cold probe of :data:`MIN_ROWS` rows per model comes first and a batch that
would overrun is cut to the rows the budget holds (:func:`plan_rows`), the same rows for every
model, warmed up and timed alone.

The energy comes from the same rounds: each metered model's timed call in each round runs
inside a CodeCarbon window (:class:`EnergyWindows`; the meter starts before the clock and
stops after it, so the timed region is still the forward passes only). Only when a model's
windows add up to less than ``energy_seconds`` do extra windows of whole passes follow (A B B A,
:func:`inference_energy`) to make up the rest.

>>> plan_timing(0.5, seconds=3.0, repeats=5, batches=20, max_batches=8)  # tiny: 6 batches
TimingPlan(batches=6, repeats=5, rows=0)
>>> plan_timing(40.0, seconds=3.0, repeats=5, batches=2, max_batches=8)  # real size: 1 batch
TimingPlan(batches=1, repeats=3, rows=0)
>>> plan_timing(0.5, seconds=0.0, repeats=5, batches=20, max_batches=8)  # no budget: the cap
TimingPlan(batches=8, repeats=5, rows=0)
>>> plan_rows(2.5, probe_rows=8, batch_rows=64, seconds=3.0)  # 8 rows in 2.5 s: 9 fit in 3 s
9
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from trainables import metrics as M
from trainables.measure.energy import EnergyWindows, InferenceEnergy, inference_energy
from trainables.measure.phases import PhaseClock
from trainables.measure.timing import Parts, TimingResult, synchronize, time_calls

# The fewest interleaved rounds a budget may cut the timing to: a median of three.
MIN_REPEATS = 3
# The fewest rows a sub-batch of the first batch is cut to, and the rows of the cold probe.
MIN_ROWS = 8


@dataclass(frozen=True)
class TimingPlan:
    """How many test batches each model runs per round (the same ones for every model), how
    many interleaved rounds are timed and, when one batch overruns the budget, the first
    ``rows`` of the first batch that are timed instead (0: whole batches)."""

    batches: int
    repeats: int
    rows: int = 0


def plan_timing(
    batch_seconds: float, *, seconds: float, repeats: int, batches: int, max_batches: int = 0
) -> TimingPlan:
    """The batches per round and the rounds that a budget of ``seconds`` per model and round
    buys when the slowest model takes ``batch_seconds`` per batch.

    ``batches`` are available, at most ``max_batches`` of them are timed (0: no cap); at least
    one. ``seconds=0`` is no budget: every batch up to the cap, ``repeats`` rounds. When one batch
    overruns the budget, the rounds are cut to the budget of all ``repeats`` rounds
    (``repeats x seconds``), never below :data:`MIN_REPEATS` (or ``repeats``, if fewer).
    """
    if batches < 1 or repeats < 1 or seconds < 0 or max_batches < 0:
        raise ValueError(
            f"need batches >= 1, repeats >= 1, seconds >= 0 and max_batches >= 0, got "
            f"{batches=}, {repeats=}, {seconds=}, {max_batches=}"
        )
    cap = min(batches, max_batches or batches)
    if seconds == 0:
        return TimingPlan(cap, repeats)
    if batch_seconds <= 0:
        return TimingPlan(cap, repeats)
    timed = max(1, min(cap, math.floor(seconds / batch_seconds)))
    if timed * batch_seconds <= seconds:
        return TimingPlan(timed, repeats)
    held = math.floor(repeats * seconds / batch_seconds)
    return TimingPlan(timed, max(min(MIN_REPEATS, repeats), min(repeats, held)))


def plan_rows(probe_seconds: float, *, probe_rows: int, batch_rows: int, seconds: float) -> int:
    """The rows of the first batch (``batch_rows`` of them) that one round of the slowest model
    can run in ``seconds``, when its first ``probe_rows`` rows took it ``probe_seconds``: the
    whole batch when it fits (or with no budget), else the rows in proportion, at least
    :data:`MIN_ROWS` (or the batch, if smaller)."""
    if probe_rows < 1 or batch_rows < 1 or seconds < 0:
        raise ValueError(
            f"need probe_rows >= 1, batch_rows >= 1 and seconds >= 0, got "
            f"{probe_rows=}, {batch_rows=}, {seconds=}"
        )
    per_row = probe_seconds / probe_rows
    if seconds == 0 or per_row <= 0 or per_row * batch_rows <= seconds:
        return batch_rows
    return max(min(MIN_ROWS, batch_rows), min(batch_rows, math.floor(seconds / per_row)))


@dataclass(frozen=True, kw_only=True)
class TimingBudget:
    """What bounds a trial's timing and inference energy: about ``seconds`` per model and round
    (0: no budget, every batch up to the cap), ``repeats`` interleaved rounds, at most
    ``max_batches`` test batches (0: no cap), and each metered model metered for at least
    ``energy_seconds`` with ``meter`` (:class:`~trainables.measure.energy.EnergyMeter`'s
    settings; ``None`` or ``enabled=False``: no meter, energy NaN).

    >>> TimingBudget(repeats=0, seconds=3.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: a timing budget needs repeats >= 1 ..., got repeats=0, seconds=3.0, ...
    """

    repeats: int
    seconds: float = 0.0
    max_batches: int = 0
    energy_seconds: float = 0.0
    meter: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.repeats < 1 or min(self.seconds, self.max_batches, self.energy_seconds) < 0:
            raise ValueError(
                "a timing budget needs repeats >= 1 and seconds, max_batches, energy_seconds "
                f">= 0, got repeats={self.repeats}, seconds={self.seconds}, "
                f"max_batches={self.max_batches}, energy_seconds={self.energy_seconds}"
            )


@dataclass(frozen=True)
class BudgetMeasurement:
    """What :func:`measure_by_budget` measured: the interleaved timings (seconds per pass over
    the timed batches), the metered models' energy per pass, the plan and the rows per pass."""

    timings: dict[str, TimingResult]
    energy: dict[str, InferenceEnergy]
    plan: TimingPlan
    rows: int

    @property
    def counts(self) -> dict[str, int]:
        """What was timed, as trial metrics: batches and rows per pass, rounds."""
        return {
            M.TIMED_BATCHES: self.plan.batches,
            M.TIMED_ROWS: self.rows,
            M.TIMING_ROUNDS: self.plan.repeats,
        }


def measure_by_budget(
    batch_calls: Mapping[str, Sequence[Callable[[], object]]],
    batch_rows: Sequence[int],
    budget: TimingBudget,
    *,
    metered: Collection[str] | None = None,
    device: torch.device | str = "cpu",
    clock: PhaseClock | None = None,
    heads: Mapping[str, Callable[[int], Callable[[], object]]] | None = None,
) -> BudgetMeasurement:
    """Time ``batch_calls`` (per model, one zero-argument call per test batch, batch ``i`` the
    same inputs for every model, ``batch_rows[i]`` rows) against each other by budget, and meter
    the ``metered`` ones (default: all) in the same rounds, within ``budget``.

    Warm-up, untimed for the figures: each model in turn runs its first batches until it has run
    the budget's ``seconds`` (every batch up to the cap when 0); its time per batch is the
    mean of the warm batches after the first (cold) one, or that first one alone. The slowest
    model's sets the plan (:func:`plan_timing`). ``heads`` (per model, ``rows`` -> a call over
    the first ``rows`` rows of the first batch), with a budget: first a cold probe of
    :data:`MIN_ROWS` rows per model; when the slowest model's first batch would overrun
    the budget's ``seconds`` at that pace, the first :func:`plan_rows` rows of it are warmed up
    (one pass per model) and timed instead, in at least :data:`MIN_REPEATS` rounds, and no whole
    batch runs.
    The budget's ``meter`` meters the rounds, then extra windows make each metered model's
    total up to its ``energy_seconds``. Inference mode, autocast, eval mode
    and threads are the caller's (:func:`~trainables.measure.timing.measuring`). ``clock``
    counts the warm-up and the timed passes as timing, the meters' start and stop and the extra
    windows as energy.
    """
    clock = clock or PhaseClock()
    names = list(batch_calls)
    if not names:
        raise ValueError("measure_by_budget needs at least one model, got none")
    available = len(batch_rows)
    if available < 1 or any(len(calls) != available for calls in batch_calls.values()):
        counts = {name: len(calls) for name, calls in batch_calls.items()}
        raise ValueError(
            f"every model needs one call per batch ({available} rows given), got {counts}"
        )
    device = torch.device(device)
    cap = min(available, budget.max_batches or available)
    with clock.phase(M.PHASE_TIMING):
        plan, passes, rows = _plan(
            batch_calls, batch_rows, heads, budget.seconds, budget.repeats, cap, device
        )

    settings = dict(budget.meter or {"enabled": False})
    windows = EnergyWindows(names if metered is None else metered, **settings)

    @contextlib.contextmanager
    def window(name: str) -> Iterator[None]:  # the meter is energy, the pass inside timing
        with clock.phase(M.PHASE_ENERGY), windows.window(name), clock.phase(M.PHASE_TIMING):
            yield

    with clock.phase(M.PHASE_TIMING):
        timings = time_calls(passes, repeats=plan.repeats, warmup=0, device=device, window=window)
    if windows.enabled:
        short = budget.energy_seconds - min(windows.seconds(name) for name in windows.names)
        if short > 0:
            metered_passes = {name: passes[name] for name in windows.names}
            with clock.phase(M.PHASE_ENERGY):
                inference_energy(
                    metered_passes,
                    predictions=rows,
                    min_seconds=short,
                    device=device,
                    warmup=False,
                    windows=windows,
                )
    return BudgetMeasurement(timings, windows.energy(rows), plan, rows)


def _plan(
    batch_calls: Mapping[str, Sequence[Callable[[], object]]],
    batch_rows: Sequence[int],
    heads: Mapping[str, Callable[[int], Callable[[], object]]] | None,
    seconds: float,
    repeats: int,
    cap: int,
    device: torch.device,
) -> tuple[TimingPlan, dict[str, Callable[[], dict[str, float]]], int]:
    """The plan, the call per model that one round times, and its rows (warm-up run here)."""
    names = list(batch_calls)
    if heads is not None and seconds > 0:
        probe_rows = min(MIN_ROWS, batch_rows[0])
        probe = max(_warm_up([heads[name](probe_rows)], 0.0, device) for name in names)
        rows = plan_rows(probe, probe_rows=probe_rows, batch_rows=batch_rows[0], seconds=seconds)
        if rows < batch_rows[0]:
            sub = {name: heads[name](rows) for name in names}
            slowest = max(_warm_up([sub[name]], 0.0, device) for name in names)
            cut = plan_timing(slowest, seconds=seconds, repeats=repeats, batches=1)
            plan = TimingPlan(1, cut.repeats, rows)
            return plan, {name: _sequence([sub[name]]) for name in names}, rows
    slowest = max(_warm_up(batch_calls[name][:cap], seconds, device) for name in names)
    plan = plan_timing(
        slowest, seconds=seconds, repeats=repeats, batches=len(batch_rows), max_batches=cap
    )
    passes = {name: _sequence(batch_calls[name][: plan.batches]) for name in names}
    return plan, passes, sum(batch_rows[: plan.batches])


def _warm_up(calls: Sequence[Callable[[], object]], seconds: float, device: torch.device) -> float:
    """Run ``calls`` in order until they have taken ``seconds`` (all of them when 0); return the
    seconds per call: the mean after the first (cold) call, or the first alone."""
    taken: list[float] = []
    for call in calls:
        synchronize(device)
        begin = time.perf_counter()
        call()
        synchronize(device)
        taken.append(time.perf_counter() - begin)
        if seconds and sum(taken) >= seconds:
            break
    warm = taken[1:] or taken
    return sum(warm) / len(warm)


def _sequence(calls: Sequence[Callable[[], object]]) -> Callable[[], Parts]:
    """One call that runs ``calls`` in order and returns the sum of the part seconds they
    return (:class:`~trainables.measure.timing.Parts`; empty when they return none)."""

    def run() -> Parts:
        parts = Parts()
        for call in calls:
            returned = call()
            if isinstance(returned, Parts):
                for part, seconds in returned.items():
                    parts[part] = parts.get(part, 0.0) + float(seconds)
        return parts

    return run
