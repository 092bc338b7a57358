import math
import time
import warnings
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
from torch import nn

from trainables import metrics as M
from trainables.evaluation import model_inputs
from trainables.measure import (
    EnergyMeter,
    InferenceEnergy,
    TimingResult,
    energy_method,
    in_fp32,
    inference_energy,
    measuring,
    speedup,
    time_inference,
)
from trainables.precision import precision_autocast, resolve_precision


class _Recorder(nn.Module):
    """A fake model that logs its name on every forward pass."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        self.log.append(self.name)
        return input_ids


def _batches(n: int) -> list[dict[str, torch.Tensor]]:
    return [
        {"input_ids": torch.ones(2, 4), "labels": torch.zeros(2), "idx": torch.arange(2)}
        for _ in range(n)
    ]


def test_models_are_interleaved_and_the_order_alternates():
    log: list[str] = []
    models = {"teacher": _Recorder("T", log), "student": _Recorder("S", log)}
    results = time_inference(models, _batches(2), device="cpu", repeats=4, warmup=1)

    assert log == ["T", "T", "S", "S"] + ["T", "T", "S", "S", "S", "S", "T", "T"] * 2
    assert {name: len(result.seconds) for name, result in results.items()} == {
        "teacher": 4,
        "student": 4,
    }
    assert all(t >= 0 for result in results.values() for t in result.seconds)
    ordered = sorted(results["teacher"].seconds)
    assert results["teacher"].median == pytest.approx((ordered[1] + ordered[2]) / 2)


def test_every_model_gets_its_turn_first():
    log: list[str] = []
    models = {name: _Recorder(name, log) for name in "ABC"}
    time_inference(models, _batches(1), device="cpu", repeats=3, warmup=0)
    assert log == ["A", "B", "C", "B", "C", "A", "C", "A", "B"]


def test_models_are_timed_in_eval_mode_and_given_back_as_they_were():
    seen: list[bool] = []

    class Probe(nn.Linear):
        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            seen.append(self.training)
            return super().forward(input_ids)

    model = Probe(4, 2)
    time_inference({"m": model}, _batches(1), device="cpu", repeats=2, warmup=0)
    assert seen == [False, False]
    assert model.training


def test_median_and_speedup():
    assert TimingResult((3.0, 1.0, 2.0)).median == 2.0
    assert TimingResult((4.0, 1.0, 2.0, 3.0)).median == 2.5
    results = {"teacher": TimingResult((2.0, 9.0, 2.0)), "student": TimingResult((1.0, 1.0, 5.0))}
    assert speedup(results) == 2.0
    with pytest.raises(KeyError, match="baseline 'baseline'"):
        speedup(results, baseline="baseline")


def test_fp16_on_cpu_is_refused_before_any_work():
    log: list[str] = []
    with pytest.raises(ValueError, match=r"'fp16' needs a CUDA device.*'bf16' or 'fp32'"):
        time_inference({"m": _Recorder("m", log)}, _batches(1), device="cpu", precision="fp16")
    assert log == []
    with pytest.raises(ValueError, match="precision must be one of"):
        time_inference({"m": _Recorder("m", log)}, _batches(1), device="cpu", precision="int8")


def test_bf16_autocast_runs_on_cpu():
    class Linear(nn.Linear):
        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            assert torch.is_autocast_cpu_enabled()
            return super().forward(input_ids)

    model = Linear(4, 2)
    results = time_inference({"m": model}, _batches(1), device="cpu", precision="bf16", repeats=1)
    assert len(results["m"].seconds) == 1


def test_auto_precision_is_fp16_on_cuda_and_fp32_on_cpu():
    assert resolve_precision("auto", "cuda") == "fp16"
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cuda") == "bf16"
    with pytest.raises(ValueError, match="precision must be one of.*'fp8'"):
        resolve_precision("fp8", "cpu")
    with precision_autocast("cpu", "auto"):
        assert not torch.is_autocast_cpu_enabled()


def test_in_fp32_switches_a_surrounding_autocast_off():
    linear = nn.Linear(4, 2)
    x = torch.ones(1, 4)
    with precision_autocast("cpu", "bf16"):
        assert linear(x).dtype == torch.bfloat16
        assert in_fp32(lambda: linear(x), "cpu")().dtype == torch.float32
        assert linear(x).dtype == torch.bfloat16  # and back on afterwards


def test_energy_meter_reads_a_small_real_workload(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a NaN fallback would fail the test
        with EnergyMeter(measure_power_secs=0.25, output_dir=tmp_path) as meter:
            x = torch.randn(256, 256)
            deadline = time.perf_counter() + 0.5
            while time.perf_counter() < deadline:
                x = torch.tanh(x @ x)
    for value in (meter.energy_kwh, meter.emissions_kg, meter.seconds):
        assert math.isfinite(value) and value >= 0
    assert meter.energy_kwh > 0
    assert (tmp_path / "emissions.csv").exists()


def test_disabled_meter_reports_nan_energy_and_real_seconds():
    with EnergyMeter(enabled=False) as meter:
        pass
    assert math.isnan(meter.energy_kwh) and math.isnan(meter.emissions_kg)
    assert math.isfinite(meter.seconds) and meter.seconds >= 0


def test_unknown_country_is_refused_up_front():
    with pytest.raises(ValueError, match="no energy mix for country_iso_code 'XXX'"):
        EnergyMeter(country_iso_code="XXX")
    EnergyMeter(country_iso_code="XXX", enabled=False)  # nothing to check when disabled
    with pytest.raises(ValueError, match="tracking_mode must be 'machine' or 'process'"):
        EnergyMeter(tracking_mode="gpu")


class _BrokenTracker:
    """Stands in for a CodeCarbon tracker that the environment broke in one of three ways."""

    def __init__(self, failure: str) -> None:
        self.failure = failure

    def stop(self) -> None:
        if self.failure == "raises":
            raise OSError("no /sys/class/powercap")
        if self.failure == "nan":
            self.final_emissions_data = SimpleNamespace(energy_consumed=math.nan, emissions=0.0)
        # "silent": CodeCarbon caught its own error and left no final measurement


@pytest.mark.parametrize("failure", ["raises", "nan", "silent"])
def test_a_broken_tracker_gives_nan_and_a_warning(failure):
    with pytest.warns(RuntimeWarning, match="NaN for this region"):
        energy_kwh, emissions_kg = EnergyMeter.stop_tracker(_BrokenTracker(failure))
    assert math.isnan(energy_kwh) and math.isnan(emissions_kg)


def test_inference_energy_warms_up_then_alternates_metered_windows():
    log: list[str] = []
    passes = {"teacher": lambda: log.append("teacher"), "model": lambda: log.append("model")}
    energy = inference_energy(passes, predictions=10, min_seconds=0.0, enabled=False)
    # one unmetered warm-up each, then two rounds A B, B A: a window of at least one pass each
    assert log == ["teacher", "model", "teacher", "model", "model", "teacher"]
    assert {name: e.passes for name, e in energy.items()} == {"teacher": 2, "model": 2}
    # a disabled meter is no reading: NaN, never 0, per pass and per 1,000 predictions
    model = energy["model"]
    assert math.isnan(model.energy_kwh) and math.isnan(model.emissions_kg_per_1k)
    assert model.method == "disabled"


def test_inference_energy_reads_each_model_and_divides_by_its_passes(tmp_path):
    passes = {
        "slow": lambda: sum(i * i for i in range(200_000)),
        "fast": lambda: sum(i * i for i in range(20_000)),
    }
    energy = inference_energy(
        passes, predictions=500, min_seconds=1.0, country_iso_code="IND", output_dir=tmp_path
    )
    for e in energy.values():
        assert e.energy_kwh > 0 and e.passes >= 2
        assert e.emissions_kg_per_1k == pytest.approx(e.emissions_kg / 500 * 1000)
    # the fast pass fits more passes into its windows
    assert energy["fast"].passes > energy["slow"].passes
    rows = pd.read_csv(tmp_path / "emissions.csv").project_name
    assert [row.split(":", 1)[1] for row in rows] == [
        "inference:slow",
        "inference:fast",
        "inference:fast",
        "inference:slow",
    ]


def test_inference_energy_needs_a_pass_and_a_round():
    with pytest.raises(ValueError, match="at least one pass"):
        inference_energy({}, predictions=1, enabled=False)
    with pytest.raises(ValueError, match="rounds >= 1"):
        inference_energy({"m": lambda: None}, predictions=1, rounds=0, enabled=False)


def test_energy_at_a_time_per_pass_keeps_the_power_and_the_carbon_intensity():
    # 2e-6 kWh (7.2 J) over 0.36 s of passes: 20 W; 0.7 kg CO2 per kWh
    energy = InferenceEnergy(2e-6, 1.4e-6, seconds=0.36, passes=3, predictions=100, method="m")
    assert energy.watts == pytest.approx(20.0)
    half = energy.at(0.18)
    assert half.energy_kwh == pytest.approx(1e-6) and half.emissions_kg == pytest.approx(0.7e-6)
    assert half.emissions_kg_per_1k == pytest.approx(0.7e-6 / 100 * 1000)
    assert (half.passes, half.predictions, half.method) == (3, 100, "m")
    # no reading stays no reading
    unread = InferenceEnergy(math.nan, math.nan, 0.36, 3, 100, "disabled").at(0.18)
    assert math.isnan(unread.energy_kwh) and math.isnan(unread.emissions_kg)


def test_measuring_caps_threads_and_gives_them_back() -> None:
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with measuring("cpu", "bf16", threads=1):
            assert torch.get_num_threads() == 1 and torch.is_inference_mode_enabled()
            assert torch.is_autocast_enabled("cpu")
            assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        assert torch.get_num_threads() == 2 and not torch.is_inference_mode_enabled()
        with measuring("cpu", "fp32"):  # 0 threads: unchanged
            assert torch.get_num_threads() == 2 and not torch.is_autocast_enabled("cpu")
        with pytest.raises(ValueError, match="fp16"), measuring("cpu", "fp16"):
            pass
    finally:
        torch.set_num_threads(before)


def test_model_inputs_drop_the_bookkeeping_and_move_and_cast_on_request():
    batch = {
        "input_ids": torch.ones(2, 3, dtype=torch.int32),
        "attention_mask": torch.ones(2, 3, dtype=torch.int8),
        "labels": torch.zeros(2),
        "idx": torch.arange(2),
    }
    assert list(model_inputs(batch)) == ["input_ids", "attention_mask"]
    assert model_inputs(batch)["attention_mask"].dtype == torch.int8  # as stored
    cast = model_inputs(batch, "cpu", torch.long)
    assert {value.dtype for value in cast.values()} == {torch.long}


def test_energy_method_says_whether_codecarbon_measured_or_estimated_from_time() -> None:
    # this project's machines: no RAPL, so CPU power is CodeCarbon's TDP x load model
    estimated = energy_method(["RAM(8 GB)", "CPU(Cpu Load: Intel Xeon > 20 W)"])
    assert estimated == "estimated from time (cpu: TDP x load estimate; ram: size estimate)"
    assert estimated.startswith(M.ENERGY_ESTIMATED)
    assert energy_method(["CPU(Intel Xeon > 20 W)"]).startswith(M.ENERGY_ESTIMATED)
    # a power counter read anywhere: measured (RAM stays an estimate by size)
    for counter in ("CPU(Intel Rapl)", "GPU(NVIDIA H200)"):
        assert energy_method(["RAM(8 GB)", counter]).startswith(M.ENERGY_MEASURED + " (")
    assert energy_method([]) == "unknown"
