"""Measuring a trial: interleaved inference timing and CodeCarbon energy.

Timing. Speedup is a ratio of two timings taken on a machine that other processes share, so
the models are timed on the same batches, interleaved (each repeat runs every model once, and
the order rotates between repeats so no model always goes first), and the ratio of medians is
reported. Batches are moved to the device before timing; the timed region is forward passes
only.

Energy. ``EnergyMeter`` wraps CodeCarbon's ``OfflineEmissionsTracker``: the online tracker
silently falls back to a wrong country and probes cloud metadata addresses. Without RAPL (as on
this project's machines) CPU power is CodeCarbon's TDP x load estimate; on a GPU it reads NVML.

Example::

    results = time_inference({"teacher": teacher, "student": student}, batches,
                             device="cuda", precision="fp16")
    speedup(results, "teacher", "student")  # teacher median / student median

    with EnergyMeter(country_iso_code="IND") as meter:
        evaluate(student, test_loader)
    meter.energy_kwh, meter.emissions_kg, meter.seconds
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from threadpoolctl import threadpool_limits
from torch import Tensor, nn

# "auto": fp16 autocast (+ GradScaler in training) on CUDA, fp32 on CPU; see resolve_precision.
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "fp16", "bf16")
_AUTOCAST_DTYPES: dict[str, torch.dtype] = {"fp16": torch.float16, "bf16": torch.bfloat16}

# Batch keys that are bookkeeping, not model inputs: the loss is not part of inference time and
# ``idx`` (the example's position in its split) only serves the teacher-logits cache.
_NON_INPUT_KEYS = frozenset({"labels", "idx"})


def model_inputs(batch: Mapping[str, Any]) -> dict[str, Any]:
    """The batch without its ``labels`` and ``idx`` entries, ready for ``model(**inputs)``."""
    return {key: value for key, value in batch.items() if key not in _NON_INPUT_KEYS}


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """The precision ``precision`` means on ``device``: ``"auto"`` is fp16 on CUDA (the paper's
    mixed precision) and fp32 elsewhere; any other name stands for itself."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "fp16" if torch.device(device).type == "cuda" else "fp32"
    return precision


def precision_autocast(
    device: torch.device | str, precision: str
) -> contextlib.AbstractContextManager[Any]:
    """The autocast context for ``precision`` on ``device`` (a no-op for fp32, and for
    ``"auto"`` on CPU).

    fp16 autocast is only offered on CUDA: on CPU it is slow and not what the paper measured.
    """
    device = torch.device(device)
    precision = resolve_precision(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "fp16" and device.type != "cuda":
        raise ValueError(
            f"precision 'fp16' needs a CUDA device, got device {str(device)!r}; "
            "use 'bf16' or 'fp32' on CPU"
        )
    return torch.autocast(device_type=device.type, dtype=_AUTOCAST_DTYPES[precision])


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
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class TimingResult:
    """Wall-clock seconds of one model over all batches, one entry per repeat."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


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
    inputs = [
        {key: _to_device(value, device) for key, value in model_inputs(batch).items()}
        for batch in batches
    ]
    # Bound per model now: a lambda in a comprehension would see only the last model.
    return {name: functools.partial(_run, model, inputs) for name, model in models.items()}


def time_calls(
    calls: Mapping[str, Callable[[], object]],
    *,
    repeats: int,
    warmup: int = 1,
    device: torch.device | str | None = None,
) -> dict[str, TimingResult]:
    """Time zero-argument calls against each other, interleaved: the core of ``time_inference``.

    ``warmup`` untimed rounds run every call once in the given order; then each of ``repeats``
    rounds runs every call once, round ``r`` starting with call ``r mod len(calls)``, so a slow
    or fast stretch of a shared machine does not always fall on the same call. With a CUDA
    ``device``, ``torch.cuda.synchronize`` brackets each timed call so queued kernels are
    counted where they were launched. Anything else (inference mode, autocast, eval mode, thread
    limits) is the caller's to set around this call or inside the calls.
    """
    if not calls:
        raise ValueError("time_calls needs at least one call, got none")
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats=}, {warmup=}")
    sync_device = torch.device("cpu" if device is None else device)
    names = list(calls)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(warmup):
        for name in names:
            calls[name]()
    for repeat in range(repeats):
        start = repeat % len(names)
        for name in names[start:] + names[:start]:
            _synchronize(sync_device)
            begin = time.perf_counter()
            calls[name]()
            _synchronize(sync_device)
            seconds[name].append(time.perf_counter() - begin)
    return {name: TimingResult(tuple(seconds[name])) for name in names}


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


def _to_device(value: Any, device: torch.device) -> Any:
    return value.to(device) if isinstance(value, Tensor) else value


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _check_device(name: str, model: nn.Module, device: torch.device) -> None:
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device.type != device.type:
        raise ValueError(
            f"model {name!r} is on {parameter.device} but timing was asked on {device}; "
            f"move it first with model.to({str(device)!r})"
        )


def check_country_iso_code(country_iso_code: str) -> None:
    """Raise if CodeCarbon has no energy mix for ``country_iso_code``.

    CodeCarbon itself only logs an unknown code and goes on with the world-average carbon
    intensity, which would put wrong emissions in every trial.
    """
    from codecarbon.input import DataSource

    known = DataSource().get_global_energy_mix_data()
    if country_iso_code not in known:
        raise ValueError(
            f"CodeCarbon has no energy mix for country_iso_code {country_iso_code!r}; use an "
            f"ISO 3166-1 alpha-3 code in upper case such as 'IND', 'USA' or 'FRA' "
            f"({len(known)} are known)"
        )


class EnergyMeter:
    """Energy and emissions of the code inside a ``with`` block, from CodeCarbon.

    After the block: ``energy_kwh`` (CPU + RAM + GPU), ``emissions_kg`` (CO2-eq for
    ``country_iso_code``'s grid) and ``seconds`` (wall time of the block itself; the tracker's
    ~1.5 s start-up happens on entry, before the clock starts).

    - Short regions: CodeCarbon measures once on ``start()`` and again on ``stop()`` when its last
      sample is older than 50 ms, so even a 0.5 s block gets a finite, non-negative reading (the
      tail of the block after the last sample, under 50 ms, may go uncounted). The values
      returned are those of the tracker's final ``stop()`` measurement
      (``final_emissions_data``); nothing is estimated here.
    - Failure: CodeCarbon catches its own errors (``start``/``stop`` log them and go on), which
      can leave no final measurement. Then, or if it raises or reports a non-finite or negative
      value, the meter emits a ``RuntimeWarning`` and reports NaN for energy and emissions: a
      broken meter must not kill a trial, and NaN cannot be mistaken for a measurement.
    - An unknown ``country_iso_code`` or ``tracking_mode`` raises ``ValueError`` when the meter
      is made: those are mistakes to fix, not failures to survive.
    - ``enabled=False`` skips CodeCarbon (no start-up cost): energy and emissions are NaN,
      ``seconds`` is still measured.
    - ``method`` says where the power figures came from (:func:`energy_method`), ``task`` names
      the region in CodeCarbon's ``emissions.csv`` (written when ``output_dir`` is given).

    Several meters may run at once on one node (``allow_multiple_runs=True``). In CodeCarbon's
    ``"machine"`` tracking mode everything the machine does is counted; ``"process"`` tries to
    isolate this process. With ``gpu_ids=None`` NVML counts every GPU on the node, so pass the
    trial's GPU indices when trials share a node.
    """

    def __init__(
        self,
        *,
        country_iso_code: str = "IND",
        measure_power_secs: float = 1.0,
        output_dir: str | Path | None = None,
        tracking_mode: str = "machine",
        gpu_ids: Sequence[int] | None = None,
        enabled: bool = True,
        task: str = "",
    ) -> None:
        if tracking_mode not in ("machine", "process"):
            raise ValueError(f"tracking_mode must be 'machine' or 'process', got {tracking_mode!r}")
        if enabled:
            check_country_iso_code(country_iso_code)
        self.country_iso_code = country_iso_code
        self.measure_power_secs = measure_power_secs
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.tracking_mode = tracking_mode
        self.gpu_ids = None if gpu_ids is None else list(gpu_ids)
        self.enabled = enabled
        self.task = task
        self.method = "disabled" if not enabled else "unknown"
        self.energy_kwh = math.nan
        self.emissions_kg = math.nan
        self.seconds = math.nan
        self._tracker: Any = None
        self._begin: float | None = None

    def __enter__(self) -> EnergyMeter:
        self.energy_kwh = self.emissions_kg = self.seconds = math.nan
        self._tracker = self._start_tracker() if self.enabled else None
        self._begin = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._begin is None:
            raise RuntimeError("EnergyMeter exited without being entered")
        self.seconds = time.perf_counter() - self._begin
        self._begin = None
        if self._tracker is not None:
            self.energy_kwh, self.emissions_kg = self._stop_tracker(self._tracker)
            self._tracker = None

    def _start_tracker(self) -> Any:
        from codecarbon import OfflineEmissionsTracker, OutputMethod

        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        output: dict[str, Any] = {"output_methods": []}
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            output = {"output_methods": [OutputMethod.CSV], "output_dir": str(self.output_dir)}
        try:
            tracker = OfflineEmissionsTracker(
                country_iso_code=self.country_iso_code,
                measure_power_secs=self.measure_power_secs,
                # the row's name in emissions.csv: which region of the trial it measured
                project_name=":".join(filter(None, ("lowres-compress-study", self.task))),
                tracking_mode=self.tracking_mode,
                gpu_ids=self.gpu_ids,
                allow_multiple_runs=True,
                log_level="error",
                **output,
            )
            tracker.start()
        except Exception as error:  # environmental: no reading rather than a dead trial
            _warn_no_reading(f"CodeCarbon failed to start: {error!r}")
            self.method = "failed"
            return None
        hardware = getattr(tracker, "_conf", {}).get("hardware") or []
        self.method = f"{energy_method(hardware)}; {self.tracking_mode} tracking"
        return tracker

    @staticmethod
    def _stop_tracker(tracker: Any) -> tuple[float, float]:
        try:
            tracker.stop()
            data = getattr(tracker, "final_emissions_data", None)
            if data is None:
                _warn_no_reading("CodeCarbon made no final measurement")
                return math.nan, math.nan
            energy_kwh, emissions_kg = float(data.energy_consumed), float(data.emissions)
        except Exception as error:  # environmental: no reading rather than a dead trial
            _warn_no_reading(f"CodeCarbon failed to stop: {error!r}")
            return math.nan, math.nan
        if not all(math.isfinite(v) and v >= 0 for v in (energy_kwh, emissions_kg)):
            _warn_no_reading(f"CodeCarbon reported {energy_kwh=} and {emissions_kg=}")
            return math.nan, math.nan
        return energy_kwh, emissions_kg


def _warn_no_reading(reason: str) -> None:
    warnings.warn(
        f"{reason}; energy_kwh and emissions_kg are NaN for this region",
        RuntimeWarning,
        stacklevel=3,
    )


# CodeCarbon's hardware descriptions -> how each power figure was obtained. "Cpu Load" is
# CodeCarbon's TDP x CPU-load model; a bare "CPU(model > N W)" is a constant TDP share.
_METHODS = (
    ("CPU(Intel Rapl", "cpu: RAPL"),
    ("CPU(Intel Power Gadget", "cpu: Intel Power Gadget"),
    ("CPU(Apple Powermetrics", "cpu: powermetrics"),
    ("CPU(Cpu Load", "cpu: TDP x load estimate"),
    ("CPU(", "cpu: constant TDP estimate"),
    ("GPU(", "gpu: NVML"),
    ("AppleSiliconChip(", "chip: powermetrics"),
    ("RAM(", "ram: size estimate"),
)


def energy_method(hardware: Sequence[str]) -> str:
    """How CodeCarbon measured, from its hardware descriptions, e.g. ``["RAM()", "CPU(Cpu
    Load)"]`` -> ``"cpu: TDP x load estimate; ram: size estimate"``.

    >>> energy_method(["RAM()", "CPU(Intel Rapl)", "GPU(NVIDIA H100)"])
    'cpu: RAPL; gpu: NVML; ram: size estimate'
    """
    found = set()
    for description in hardware:
        for prefix, method in _METHODS:
            if str(description).startswith(prefix):
                found.add(method)
                break
        else:
            found.add(f"other: {description}")
    return "; ".join(sorted(found)) or "unknown"


@dataclass(frozen=True)
class InferenceEnergy:
    """Inference energy of one pass over the metered batches, measured over many passes.

    ``energy_kwh``/``emissions_kg``/``seconds`` are per pass; ``*_per_1k`` per 1,000 predictions.
    NaN energy means no reading (disabled or failed), never zero.
    """

    energy_kwh: float
    emissions_kg: float
    seconds: float
    passes: int
    predictions: int
    method: str

    @property
    def energy_kwh_per_1k(self) -> float:
        return self.energy_kwh / self.predictions * 1000.0

    @property
    def watts(self) -> float:
        """Mean power while the passes ran (CodeCarbon's energy / the metered seconds)."""
        return self.energy_kwh * 3.6e6 / self.seconds if self.seconds > 0 else math.nan

    def at(self, seconds_per_pass: float) -> InferenceEnergy:
        """The energy of one pass lasting ``seconds_per_pass`` at this mean power: E = P x t.

        With a robust time per pass (the median of the interleaved timing repeats) this is a
        steadier estimate than the metered total / passes, whose few passes per window carry
        every stall of a shared machine: CodeCarbon's power, without RAPL, is mostly a constant
        (RAM) plus a load term, so its energy is mostly the window's length. The grid's carbon
        intensity (emissions per kWh) is kept.
        """
        kwh = self.watts * seconds_per_pass / 3.6e6
        intensity = self.emissions_kg / self.energy_kwh if self.energy_kwh > 0 else math.nan
        return InferenceEnergy(
            energy_kwh=kwh,
            emissions_kg=kwh * intensity,
            seconds=seconds_per_pass,
            passes=self.passes,
            predictions=self.predictions,
            method=self.method,
        )

    @property
    def emissions_kg_per_1k(self) -> float:
        return self.emissions_kg / self.predictions * 1000.0


def inference_energy(
    passes: Mapping[str, Callable[[], object]],
    *,
    predictions: int,
    min_seconds: float = 10.0,
    rounds: int = 2,
    device: torch.device | str = "cpu",
    **meter: Any,
) -> dict[str, InferenceEnergy]:
    """Energy of each of ``passes`` (one pass over a split making ``predictions`` predictions),
    measured alike so that their ratio means something.

    Every pass is warmed up first, outside any meter (a cold first pass—allocator, kernels,
    caches—would be billed to whichever model happens to be measured cold). Then ``rounds``
    rounds each give every pass one metered window of whole passes lasting at least
    ``min_seconds / rounds``; round ``r`` starts with pass ``r mod len(passes)`` (two models,
    two rounds: A B B A), so a busier or quieter stretch of a shared machine falls on both
    models alike, as in :func:`time_calls`. A window is long enough for many CodeCarbon samples
    (one per ``measure_power_secs``), not the one or two a single short pass gets. Each model's
    energy is the sum over its windows divided by its number of passes: NaN if any window had no
    reading. ``meter`` goes to :class:`EnergyMeter` (``country_iso_code``, ``enabled``,
    ``output_dir``, ``gpu_ids``, ``task``: each window is the row ``TASK:NAME`` in
    ``emissions.csv``).
    """
    if not passes:
        raise ValueError("inference_energy needs at least one pass, got none")
    if predictions < 1 or rounds < 1:
        raise ValueError(f"need predictions >= 1 and rounds >= 1, got {predictions=}, {rounds=}")
    device = torch.device(device)
    task = meter.pop("task", "inference")
    names = list(passes)
    for name in names:  # warm-up, unmetered
        passes[name]()
        _synchronize(device)
    totals = {name: [0.0, 0.0, 0.0, 0] for name in names}  # kWh, kg, seconds, passes
    methods: set[str] = set()
    for round_ in range(rounds):
        start = round_ % len(names)
        for name in names[start:] + names[:start]:
            done = 0
            with EnergyMeter(task=f"{task}:{name}", **meter) as energy:
                begin = time.perf_counter()
                while done == 0 or time.perf_counter() - begin < min_seconds / rounds:
                    passes[name]()
                    _synchronize(device)
                    done += 1
            total = totals[name]
            total[0] += energy.energy_kwh
            total[1] += energy.emissions_kg
            total[2] += energy.seconds
            total[3] += done
            methods.add(energy.method)
    method = "; ".join(sorted(methods))
    return {
        name: InferenceEnergy(
            energy_kwh=kwh / done,
            emissions_kg=kg / done,
            seconds=seconds / done,
            passes=done,
            predictions=predictions,
            method=method,
        )
        for name, (kwh, kg, seconds, done) in totals.items()
    }
