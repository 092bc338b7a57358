import contextlib
import math
from collections.abc import Iterator

import pandas as pd
import pytest

from tests.trainables.measure.conftest import FakeClock
from trainables import metrics as M
from trainables.config import TrialConfig
from trainables.measure import (
    MIN_REPEATS,
    MIN_ROWS,
    TimingBudget,
    TimingPlan,
    measure_by_budget,
    plan_rows,
    plan_timing,
    time_calls,
)
from trainables.measure import energy as energy_module


def _models(
    clock: FakeClock, seconds: dict[str, float], batches: int, log: list[tuple[str, int]]
) -> dict[str, list]:
    """Per model one call per batch that logs (model, batch) and takes its seconds."""

    def call(name: str, index: int) -> None:
        log.append((name, index))
        clock.now += seconds[name]

    return {
        name: [lambda name=name, index=index: call(name, index) for index in range(batches)]
        for name in seconds
    }


def _rounds(log: list[tuple[str, int]], models: int, batches: int, repeats: int) -> list[list]:
    """The timed rounds at the end of ``log``: per round, per model in order, its batches."""
    timed = log[len(log) - models * batches * repeats :]
    passes = [timed[i : i + batches] for i in range(0, len(timed), batches)]
    return [passes[i : i + models] for i in range(0, len(passes), models)]


def test_the_budget_sets_the_batches_every_model_runs_the_same_ones_interleaved(clock):
    log: list[tuple[str, int]] = []
    calls = _models(clock, {"teacher": 0.5, "model": 0.25}, batches=20, log=log)
    measured = measure_by_budget(
        calls, [64] * 20, TimingBudget(repeats=5, seconds=2.0, max_batches=0)
    )

    # the slowest model's 0.5 s per batch: 4 batches fill its 2 s round
    assert measured.plan == TimingPlan(batches=4, repeats=5)
    assert measured.counts == {M.TIMED_BATCHES: 4, M.TIMED_ROWS: 256, M.TIMING_ROUNDS: 5}
    rounds = _rounds(log, models=2, batches=4, repeats=5)
    for number, round_ in enumerate(rounds):
        # every model on batches 0..3, the first model rotating between rounds
        order = ["teacher", "model"] if number % 2 == 0 else ["model", "teacher"]
        assert [one_pass[0][0] for one_pass in round_] == order
        for one_pass in round_:
            assert [index for _, index in one_pass] == [0, 1, 2, 3]
    # the clock saw only the passes: median seconds per pass of 4 batches
    assert measured.timings["teacher"].median == pytest.approx(2.0)
    assert measured.timings["model"].median == pytest.approx(1.0)
    assert measured.timings["teacher"].seconds == pytest.approx((2.0,) * 5)


def test_the_cap_holds_and_no_budget_times_every_batch_up_to_it(clock):
    log: list[tuple[str, int]] = []
    calls = _models(clock, {"teacher": 0.01, "model": 0.01}, batches=20, log=log)
    capped = measure_by_budget(calls, [8] * 20, TimingBudget(repeats=5, seconds=2.0, max_batches=3))
    assert capped.plan == TimingPlan(batches=3, repeats=5) and capped.rows == 24
    assert {index for _, index in log} == {0, 1, 2}  # warm-up included: never past the cap

    log.clear()
    unbudgeted = measure_by_budget(
        calls, [8] * 20, TimingBudget(repeats=2, seconds=0.0, max_batches=6)
    )
    assert unbudgeted.plan == TimingPlan(batches=6, repeats=2)
    # no budget: one warm-up pass over every timed batch per model, then the rounds
    assert len(log) == 2 * 6 * (1 + 2)


def test_a_batch_over_the_budget_still_gives_one_batch_and_three_rounds(clock):
    log: list[tuple[str, int]] = []
    calls = _models(clock, {"teacher": 40.0, "model": 30.0}, batches=2, log=log)
    measured = measure_by_budget(
        calls, [64, 32], TimingBudget(repeats=5, seconds=3.0, max_batches=8)
    )
    assert measured.plan == TimingPlan(batches=1, repeats=MIN_REPEATS)
    assert measured.counts == {M.TIMED_BATCHES: 1, M.TIMED_ROWS: 64, M.TIMING_ROUNDS: 3}
    # warm-up: one batch per model (it already overran the budget), then 3 rounds of one batch
    teacher, model = ("teacher", 0), ("model", 0)
    assert log == [teacher, model, teacher, model, model, teacher, teacher, model]
    assert measured.timings["teacher"].median == pytest.approx(40.0)


def _heads(clock: FakeClock, per_row: dict[str, float], log: list[tuple[str, int]]) -> dict:
    """Per model, rows -> a call over the first rows of batch 0 that logs (model, rows) and
    takes its seconds per row."""

    def head(name: str, rows: int):
        def call() -> None:
            log.append((name, rows))
            clock.now += per_row[name] * rows

        return call

    return {name: lambda rows, name=name: head(name, rows) for name in per_row}


def test_a_batch_over_the_budget_is_timed_on_a_sub_batch_of_its_first_rows(clock):
    # a real-size CPU model: ~0.25 s per row, a 64-row batch is 16 s against a 3 s budget
    per_row = {"teacher": 0.25, "model": 0.2}
    log: list[tuple[str, int]] = []
    calls = _models(clock, {name: 64 * s for name, s in per_row.items()}, batches=4, log=log)
    heads = _heads(clock, per_row, log)
    measured = measure_by_budget(
        calls, [64] * 4, TimingBudget(repeats=5, seconds=3.0, max_batches=8), heads=heads
    )
    # the cold probe of 8 rows says 12 rows of the slowest model fill its 3 s round
    assert measured.plan == TimingPlan(batches=1, repeats=5, rows=12)
    assert measured.counts == {M.TIMED_BATCHES: 1, M.TIMED_ROWS: 12, M.TIMING_ROUNDS: 5}
    # probe, one warm-up pass of the sub-batch per model, then the rounds: no whole batch ran
    assert log[:4] == [("teacher", 8), ("model", 8), ("teacher", 12), ("model", 12)]
    assert set(log[4:]) == {("teacher", 12), ("model", 12)} and len(log) == 4 + 2 * 5
    assert measured.timings["teacher"].median == pytest.approx(3.0)
    assert measured.timings["model"].median == pytest.approx(2.4)


def test_a_batch_within_the_budget_is_timed_whole_after_the_probe(clock):
    per_row = {"teacher": 0.01, "model": 0.005}
    log: list[tuple[str, int]] = []
    calls = _models(clock, {name: 64 * s for name, s in per_row.items()}, batches=8, log=log)
    measured = measure_by_budget(
        calls, [64] * 8, TimingBudget(repeats=3, seconds=3.0), heads=_heads(clock, per_row, log)
    )
    assert log[:2] == [("teacher", MIN_ROWS), ("model", MIN_ROWS)]
    # 0.64 s per batch: 4 whole batches fill the teacher's 3 s
    assert measured.plan == TimingPlan(batches=4, repeats=3) and measured.rows == 256


def test_plan_rows_cuts_a_slow_batch_to_the_budget_with_floors():
    assert plan_rows(0.08, probe_rows=8, batch_rows=64, seconds=3.0) == 64  # fits whole
    assert plan_rows(0.08, probe_rows=8, batch_rows=64, seconds=0.0) == 64  # no budget
    # 2 s per 8 rows: 12 rows in 3 s; a 16 s batch is cut, never below MIN_ROWS rows
    assert plan_rows(2.0, probe_rows=8, batch_rows=64, seconds=3.0) == 12 < 64
    assert plan_rows(400.0, probe_rows=8, batch_rows=64, seconds=3.0) == MIN_ROWS
    assert plan_rows(400.0, probe_rows=4, batch_rows=4, seconds=3.0) == 4
    # the rows' pass still gets at least MIN_REPEATS rounds when even MIN_ROWS rows overrun
    plan = plan_timing(400.0, seconds=3.0, repeats=5, batches=1)
    assert plan.repeats == MIN_REPEATS
    with pytest.raises(ValueError, match=r"probe_rows >= 1.*probe_rows=0"):
        plan_rows(1.0, probe_rows=0, batch_rows=64, seconds=3.0)


def test_plan_timing_keeps_its_floors_and_cuts_rounds_only_to_the_budget():
    # fits: the batches the budget buys, every round
    assert plan_timing(0.25, seconds=3.0, repeats=5, batches=40) == TimingPlan(12, 5)
    assert plan_timing(0.25, seconds=3.0, repeats=5, batches=40, max_batches=8) == TimingPlan(8, 5)
    assert plan_timing(0.25, seconds=3.0, repeats=5, batches=5) == TimingPlan(5, 5)
    # one batch overruns a round's budget: the rounds shrink to 5 x 3 s of 4 s batches = 3.75
    assert plan_timing(4.0, seconds=3.0, repeats=5, batches=9) == TimingPlan(1, 3)
    assert plan_timing(3.5, seconds=3.0, repeats=5, batches=9) == TimingPlan(1, 4)
    # never below three rounds, nor above what was asked
    assert plan_timing(1000.0, seconds=3.0, repeats=5, batches=9) == TimingPlan(1, MIN_REPEATS)
    assert plan_timing(1000.0, seconds=3.0, repeats=2, batches=9) == TimingPlan(1, 2)
    with pytest.raises(ValueError, match=r"seconds >= 0.*seconds=-1"):
        plan_timing(1.0, seconds=-1, repeats=5, batches=9)


def test_measure_by_budget_refuses_models_without_a_call_per_batch():
    with pytest.raises(ValueError, match="at least one model"):
        measure_by_budget({}, [1], TimingBudget(repeats=3, seconds=1.0))
    with pytest.raises(ValueError, match=r"one call per batch \(2 rows given\).*'b': 1"):
        measure_by_budget(
            {"a": [print, print], "b": [print]}, [1, 1], TimingBudget(repeats=3, seconds=1.0)
        )


def test_a_window_around_each_timed_call_stays_outside_the_clock(clock):
    entered: list[str] = []

    @contextlib.contextmanager
    def slow_meter(name: str) -> Iterator[None]:
        entered.append(name)
        clock.now += 100.0  # a meter's start-up
        yield
        clock.now += 100.0  # its last reading

    def take(seconds: float):
        def call() -> None:
            clock.now += seconds

        return call

    timings = time_calls({"a": take(1.0), "b": take(2.0)}, repeats=3, warmup=1, window=slow_meter)
    assert entered == ["a", "b", "b", "a", "a", "b"]  # the timed calls only, not the warm-up
    assert timings["a"].seconds == (1.0, 1.0, 1.0) and timings["b"].seconds == (2.0, 2.0, 2.0)


def _instant() -> list:
    return [lambda: sum(range(100))] * 3


def test_energy_windows_come_from_the_timing_rounds(tmp_path):
    meter = {"country_iso_code": "IND", "output_dir": tmp_path, "tracking_mode": "process"}
    calls = {"teacher": _instant(), "model": _instant(), "teacher (fp32)": _instant()}
    measured = measure_by_budget(
        calls,
        [10, 10, 10],
        TimingBudget(repeats=3, seconds=0.5, energy_seconds=0.0, meter=meter),
        metered=["teacher", "model"],
    )
    rows = pd.read_csv(tmp_path / "emissions.csv").project_name
    # one window per metered model and round, in the rounds' rotating order; no extra window,
    # and the unmetered fp32 reference has none
    assert [row.split(":", 1)[1] for row in rows] == [
        "inference:teacher",
        "inference:model",
        "inference:model",
        "inference:teacher",
        "inference:teacher",
        "inference:model",
    ]
    assert set(measured.energy) == {"teacher", "model"}
    for energy in measured.energy.values():
        assert energy.passes == 3 and energy.predictions == 30
        assert math.isfinite(energy.energy_kwh) and energy.energy_kwh >= 0
        assert energy.method.endswith("process tracking")


def test_short_rounds_get_extra_windows_up_to_energy_seconds(tmp_path):
    meter = {"country_iso_code": "IND", "output_dir": tmp_path}
    calls = {"teacher": _instant(), "model": _instant()}
    measured = measure_by_budget(
        calls, [10, 10, 10], TimingBudget(repeats=3, seconds=0.5, energy_seconds=1.0, meter=meter)
    )
    rows = [row.split(":", 1)[1] for row in pd.read_csv(tmp_path / "emissions.csv").project_name]
    # the three rounds' windows, then extra windows alternating A B B A for the rest
    assert rows[6:] == [
        "inference:teacher",
        "inference:model",
        "inference:model",
        "inference:teacher",
    ]
    for energy in measured.energy.values():
        assert energy.passes > 3 and energy.seconds * energy.passes >= 1.0


def test_energy_off_makes_no_meter_at_all(monkeypatch, clock):
    class NoMeter:
        def __init__(self, **settings: object) -> None:
            raise AssertionError("a meter was made with measure_energy off")

    monkeypatch.setattr(energy_module, "EnergyMeter", NoMeter)
    log: list[tuple[str, int]] = []
    calls = _models(clock, {"teacher": 0.5, "model": 0.25}, batches=4, log=log)
    for meter in (None, {"enabled": False, "country_iso_code": "IND"}):
        log.clear()
        measured = measure_by_budget(
            calls, [8] * 4, TimingBudget(repeats=3, seconds=1.0, energy_seconds=10.0, meter=meter)
        )
        for energy in measured.energy.values():
            assert math.isnan(energy.energy_kwh) and energy.method == "disabled"
        # no extra windows either: only the warm-up (the teacher's 2 batches fill its second,
        # the model's 4) and 3 rounds of 2 batches each ran
        assert measured.plan == TimingPlan(batches=2, repeats=3)
        assert len(log) == 2 + 4 + 3 * 2 * 2


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timing_seconds", -1.0, r"^timing_seconds must be >= 0 \(.*0: no budget.*got -1.0$"),
        ("timing_seconds", math.nan, r"^timing_seconds must be >= 0 .*got nan$"),
        ("timing_batches", -2, r"^timing_batches must be >= 0 \(.*0: no cap\), got -2$"),
    ],
)
def test_timing_settings_are_checked_with_the_value_and_the_fix(key, value, message):
    with pytest.raises(ValueError, match=message) as error:
        TrialConfig.from_dict({key: value})
    assert "\n" not in str(error.value)


def test_the_default_budget_is_a_few_seconds_per_model_and_round():
    cfg = TrialConfig()
    assert 0 < cfg.timing_seconds <= 5 and cfg.timing_batches == 8 and cfg.timing_repeats == 5


def test_the_timing_benchmark_needs_two_measurements_for_an_sd(capsys):
    from trainables.commands.bench_timing import main

    with pytest.raises(SystemExit):
        main(["--n", "1"])
    assert "--n 1: need at least 2 measurements for an sd" in capsys.readouterr().err
