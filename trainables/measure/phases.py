"""Where a trial's time goes: wall seconds per named phase (:class:`PhaseClock`), and a line now
and then while a long training loop runs (:class:`TrainingProgress`).

Both read a clock they are given (``time.perf_counter`` by default), so a test can drive them
with a fake one.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# How often a long loop says where it is, in seconds of wall time.
PROGRESS_EVERY_SECONDS = 30.0


class PhaseClock:
    """Wall seconds per named phase, counted from one clock started when this one is made.

    Phases may nest, and each second counts once: in the innermost phase open at the time. The
    inner phase's seconds are taken off the phase around it (checkpoints saved inside the
    training phase count as saving, not training). A phase entered again adds to its total; a
    phase left by an exception still counts its seconds. What no phase covered is the rest of
    :meth:`elapsed`.

    >>> ticks = iter([0.0, 1.0, 3.0, 4.0, 10.0, 10.5, 11.0, 12.0]).__next__
    >>> clock = PhaseClock(clock=ticks)  # started at 0
    >>> with clock.phase("train"):  # 1 .. 10
    ...     with clock.phase("save"):  # 3 .. 4: saving, not training
    ...         pass
    >>> with clock.phase("save"):  # 10.5 .. 11
    ...     pass
    >>> clock.seconds()
    {'train': 8.0, 'save': 1.5}
    >>> clock.elapsed()  # at 12: 2.5 s in no phase
    12.0
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._start = clock()
        self._totals: dict[str, float] = {}
        # the open phases, innermost last: [name, when it began, seconds of its inner phases]
        self._open: list[list] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Count the wall seconds of the ``with`` block under ``name`` (less its inner phases)."""
        entry = [name, self._clock(), 0.0]
        self._totals.setdefault(name, 0.0)
        self._open.append(entry)
        try:
            yield
        finally:
            spent = self._clock() - entry[1]
            self._open.pop()
            self._totals[name] += spent - entry[2]
            if self._open:
                self._open[-1][2] += spent

    def seconds(self) -> dict[str, float]:
        """Seconds per phase entered so far (finished passes only), in the order first entered."""
        return dict(self._totals)

    def elapsed(self) -> float:
        """Seconds since this clock was made."""
        return self._clock() - self._start


class TrainingProgress:
    """A line every ``every`` seconds of wall time while a training loop runs: the epoch, the
    step of ``total_steps``, the time since this run's loop began and an estimate of the time
    left in it.

    The estimate is this run's pace (seconds per step since the loop began, per-epoch
    validation and checkpoints included) times the steps left; a resumed trial counts from
    ``done_steps``, the steps its checkpoint already holds.

    >>> ticks = iter([0.0, 10.0, 31.0]).__next__
    >>> lines = []
    >>> progress = TrainingProgress("t", 100, 4, clock=ticks, write=lines.append)  # at 0
    >>> progress.step()  # step 1 of 100 at 10 s: no line yet
    >>> progress.step()  # step 2 at 31 s
    >>> lines
    ['t: training epoch 1/4, step 2/100, 31 s elapsed, about 25 min 19 s left (estimate)']
    """

    def __init__(
        self,
        label: str,
        total_steps: int,
        epochs: int,
        *,
        done_steps: int = 0,
        every: float = PROGRESS_EVERY_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
        write: Callable[[str], None] | None = None,
    ) -> None:
        if total_steps < 1 or epochs < 1 or every <= 0:
            raise ValueError(
                f"need total_steps >= 1, epochs >= 1 and every > 0, got {total_steps=}, "
                f"{epochs=}, {every=}"
            )
        self.label, self.total_steps, self.epochs = label, total_steps, epochs
        self.step_count, self._done = done_steps, done_steps
        self._every, self._clock = every, clock
        self._write = write or _to_stderr
        self._start = self._last = clock()

    def step(self) -> None:
        """One step done; write a line when ``every`` seconds passed since the last one."""
        self.step_count += 1
        now = self._clock()
        if now - self._last >= self._every:
            self._last = now
            self._write(self.line(now))

    def remaining(self, now: float | None = None) -> float:
        """Estimated seconds left in the loop (NaN before this run's first step)."""
        now = self._clock() if now is None else now
        steps = self.step_count - self._done
        if steps <= 0:
            return math.nan
        return (now - self._start) / steps * max(self.total_steps - self.step_count, 0)

    def line(self, now: float | None = None) -> str:
        """Where the loop is: epoch, step, elapsed and the estimated time left."""
        now = self._clock() if now is None else now
        per_epoch = math.ceil(self.total_steps / self.epochs)
        epoch = min(max(self.step_count - 1, 0) // per_epoch + 1, self.epochs)
        return (
            f"{self.label}: training epoch {epoch}/{self.epochs}, step {self.step_count}/"
            f"{self.total_steps}, {duration(now - self._start)} elapsed, about "
            f"{duration(self.remaining(now))} left (estimate)"
        )


def duration(seconds: float) -> str:
    """Seconds as a person reads them.

    >>> duration(42.4), duration(125), duration(7384), duration(float("nan"))
    ('42 s', '2 min 5 s', '2 h 3 min', '?')
    """
    if not math.isfinite(seconds):
        return "?"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
