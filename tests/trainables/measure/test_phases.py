"""Where a trial's time goes: the phase clock and the training progress line, on a fake clock."""

from __future__ import annotations

import math

import pytest

from trainables import metrics as M
from trainables.measure import PhaseClock, TrainingProgress, duration
from trainables.trial.result import phase_columns


class _FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_nested_phases_count_each_second_once_in_the_innermost() -> None:
    fake = _FakeClock()
    clock = PhaseClock(clock=fake)
    fake.advance(1)  # in no phase
    with clock.phase("train"):
        fake.advance(5)
        with clock.phase("eval"):
            fake.advance(2)
            with clock.phase("save"):
                fake.advance(3)
        fake.advance(4)
    assert clock.seconds() == {"train": 9.0, "eval": 2.0, "save": 3.0}
    assert clock.elapsed() == 15.0  # 1 s outside every phase


def test_a_phase_entered_again_adds_up() -> None:
    fake = _FakeClock()
    clock = PhaseClock(clock=fake)
    for seconds in (1.5, 2.5, 4.0):
        with clock.phase("eval"):
            fake.advance(seconds)
        fake.advance(10)
    assert clock.seconds() == {"eval": 8.0}
    # the same name nested in itself still counts each second once
    with clock.phase("eval"):
        fake.advance(1)
        with clock.phase("eval"):
            fake.advance(1)
    assert clock.seconds() == {"eval": 10.0}


def test_a_phase_left_by_an_exception_still_counts_and_the_outer_one_goes_on() -> None:
    fake = _FakeClock()
    clock = PhaseClock(clock=fake)
    with clock.phase("train"):
        with pytest.raises(RuntimeError), clock.phase("save"):
            fake.advance(3)
            raise RuntimeError("disk full")
        fake.advance(2)
    assert clock.seconds() == {"train": 2.0, "save": 3.0}
    with clock.phase("train"):  # nothing left open: a new phase is not nested in the failed one
        fake.advance(1)
    assert clock.seconds() == {"train": 3.0, "save": 3.0}


def test_a_phase_still_open_shows_only_its_finished_passes() -> None:
    fake = _FakeClock()
    clock = PhaseClock(clock=fake)
    with clock.phase("train"):
        fake.advance(7)
        assert clock.seconds() == {"train": 0.0}
        assert clock.elapsed() == 7.0


def test_phase_columns_name_every_phase_and_add_up_to_the_trial_seconds() -> None:
    fake = _FakeClock()
    clock = PhaseClock(clock=fake)
    with clock.phase(M.PHASE_DATA):
        fake.advance(2)
    fake.advance(3)
    with clock.phase(M.PHASE_TRAIN):
        fake.advance(10)
        with clock.phase(M.PHASE_SAVE):
            fake.advance(4)
    columns = phase_columns(clock)
    assert list(columns) == [*M.PHASES, M.PHASE_OTHER, M.TRIAL_SECONDS]
    assert columns[M.PHASE_DATA] == 2 and columns[M.PHASE_TRAIN] == 10
    assert columns[M.PHASE_SAVE] == 4 and columns[M.PHASE_ENERGY] == 0.0
    assert columns[M.PHASE_OTHER] == 3 and columns[M.TRIAL_SECONDS] == 19
    assert sum(columns[name] for name in (*M.PHASES, M.PHASE_OTHER)) == columns[M.TRIAL_SECONDS]
    with clock.phase("lunch"):
        pass
    with pytest.raises(KeyError, match="'lunch'.*PHASES"):
        phase_columns(clock)


def test_training_progress_writes_a_line_per_period_not_per_step() -> None:
    fake = _FakeClock()
    lines: list[str] = []
    progress = TrainingProgress("25% pruning", 40, 2, every=30, clock=fake, write=lines.append)
    assert math.isnan(progress.remaining())  # no pace yet
    for _ in range(20):  # 20 steps of 4 s: a line at 32 s and at 64 s
        fake.advance(4)
        progress.step()
    assert len(lines) == 2
    assert lines[0].startswith("25% pruning: training epoch 1/2, step 8/40, 32 s elapsed")
    # the pace so far (4 s a step) times the steps left, said to be an estimate
    assert lines[0].endswith("about 2 min 8 s left (estimate)")
    assert progress.remaining() == pytest.approx(80.0)
    for _ in range(4):
        fake.advance(4)
        progress.step()
    assert "epoch 2/2, step 24/40" in progress.line()


def test_a_resumed_loop_estimates_from_its_own_pace() -> None:
    fake = _FakeClock()
    progress = TrainingProgress("t", 100, 4, done_steps=50, clock=fake, write=lambda line: None)
    fake.advance(30)
    for _ in range(10):
        progress.step()
    # 10 steps in 30 s this run, 40 left: 120 s, not the 50 restored steps' pace
    assert progress.remaining() == pytest.approx(120.0)
    assert "epoch 3/4, step 60/100" in progress.line()
    with pytest.raises(ValueError, match="total_steps >= 1.*total_steps=0"):
        TrainingProgress("t", 0, 1)


def test_duration_reads_like_a_person_says_it() -> None:
    assert [duration(s) for s in (0.2, 59.6, 61, 3600, math.inf)] == [
        "0 s",
        "1 min 0 s",
        "1 min 1 s",
        "1 h 0 min",
        "?",
    ]
