"""CodeCarbon energy and emissions of a region of code, and of inference passes.

``EnergyMeter`` wraps CodeCarbon's ``OfflineEmissionsTracker``: the online tracker silently
falls back to a wrong country and probes cloud metadata addresses. Without RAPL (as on this
project's machines) CPU power is CodeCarbon's TDP x load estimate; on a GPU it reads NVML.

Example::

    with EnergyMeter(country_iso_code="IND") as meter:
        evaluate(student, test_split, batch_size=64)
    meter.energy_kwh, meter.emissions_kg, meter.seconds
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import torch

from trainables import metrics as M
from trainables.measure.timing import synchronize


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
            self.energy_kwh, self.emissions_kg = self.stop_tracker(self._tracker)
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
    def stop_tracker(tracker: Any) -> tuple[float, float]:
        """Stop a CodeCarbon tracker and return its (energy kWh, emissions kg); NaN with a
        warning when it fails or leaves no final measurement (never 0: no reading is not free)."""
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
# The methods that read a processor's power counter; every other one is a model of the power
# (RAM is always estimated from its size).
_COUNTERS = frozenset(
    {"cpu: RAPL", "cpu: Intel Power Gadget", "cpu: powermetrics", "gpu: NVML", "chip: powermetrics"}
)


def energy_method(hardware: Sequence[str]) -> str:
    """How CodeCarbon got its power figures, from its hardware descriptions: first whether the
    energy was measured (:data:`~trainables.metrics.ENERGY_MEASURED`: a processor's power counter,
    RAPL or NVML, was read) or :data:`~trainables.metrics.ENERGY_ESTIMATED` (no counter: power is
    CodeCarbon's TDP x load model plus RAM by size, so E = P x t is mostly the time again), then
    each component's method in brackets.

    >>> energy_method(["RAM()", "CPU(Intel Rapl)", "GPU(NVIDIA H100)"])
    'measured (cpu: RAPL; gpu: NVML; ram: size estimate)'
    >>> energy_method(["RAM()", "CPU(Cpu Load)"])
    'estimated from time (cpu: TDP x load estimate; ram: size estimate)'
    """
    found = set()
    for description in hardware:
        for prefix, method in _METHODS:
            if str(description).startswith(prefix):
                found.add(method)
                break
        else:
            found.add(f"other: {description}")
    if not found:
        return "unknown"
    source = M.ENERGY_MEASURED if found & _COUNTERS else M.ENERGY_ESTIMATED
    return f"{source} ({'; '.join(sorted(found))})"


def expected_energy_source(
    *, gpu_trials: bool | None, rapl: bool | None = None, nvml: bool | None = None
) -> str:
    """Whether CodeCarbon will measure or estimate the trials' energy on this machine, known
    before any trial runs: :data:`~trainables.metrics.ENERGY_MEASURED` when it can read the power
    counter of the processor the trials run on (RAPL under ``/sys/class/powercap`` for CPU trials,
    NVML for GPU trials; ``gpu_trials=None``: GPUs where there are any, so either counter),
    else :data:`~trainables.metrics.ENERGY_ESTIMATED`.

    ``rapl`` and ``nvml`` default to CodeCarbon's own checks on this machine; pass them to decide
    without looking (tests).

    >>> expected_energy_source(gpu_trials=False, rapl=False, nvml=True)
    'estimated from time'
    >>> expected_energy_source(gpu_trials=None, rapl=False, nvml=True)
    'measured'
    """
    if rapl is None and not gpu_trials:
        from codecarbon.core.cpu import is_rapl_available

        rapl = is_rapl_available()
    if nvml is None and gpu_trials is not False:
        from codecarbon.core.gpu import is_nvidia_system

        nvml = is_nvidia_system()
    counter = bool(nvml) if gpu_trials else bool(rapl) or (gpu_trials is None and bool(nvml))
    return M.ENERGY_MEASURED if counter else M.ENERGY_ESTIMATED


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


class EnergyWindows:
    """CodeCarbon windows over whole passes of each of ``names``, summed per name: the inference
    energy of models metered alike.

    ``window(name)`` is one metered pass (the timing rounds enter it around each timed call, see
    :func:`~trainables.measure.timing.time_calls`); :func:`inference_energy` adds windows of
    several passes. A name not in ``names`` is not metered. ``task`` names the windows in
    ``emissions.csv`` (``TASK:NAME``); ``meter`` goes to :class:`EnergyMeter`. With
    ``enabled=False`` no meter is made at all: every figure is NaN, the method ``"disabled"``.

    >>> windows = EnergyWindows(["model"], enabled=False)
    >>> with windows.window("model"):
    ...     pass
    >>> windows.energy(predictions=64)["model"].method
    'disabled'
    """

    def __init__(self, names: Iterable[str], *, task: str = "inference", **meter: Any) -> None:
        self.task = task
        self.meter = meter
        self.enabled = bool(meter.get("enabled", True))
        # kWh, kg, seconds, passes
        self._totals: dict[str, list[float]] = {name: [0.0, 0.0, 0.0, 0] for name in names}
        self._methods: set[str] = set()

    @property
    def names(self) -> list[str]:
        return list(self._totals)

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[None]:
        """One metered pass of ``name`` (unmetered if ``name`` is not metered here)."""
        if name not in self._totals or not self.enabled:
            yield
            return
        with self.meter_for(name) as meter:
            yield
        self.add(name, meter, passes=1)

    def meter_for(self, name: str) -> EnergyMeter:
        """A fresh meter for a window of ``name``, named ``TASK:NAME``."""
        return EnergyMeter(task=f"{self.task}:{name}", **self.meter)

    def add(self, name: str, meter: EnergyMeter, passes: int) -> None:
        """Count a finished window of ``passes`` whole passes of ``name``."""
        total = self._totals[name]
        total[0] += meter.energy_kwh
        total[1] += meter.emissions_kg
        total[2] += meter.seconds
        total[3] += passes
        self._methods.add(meter.method)

    def seconds(self, name: str) -> float:
        """Metered seconds of ``name`` so far."""
        return self._totals[name][2]

    def energy(self, predictions: int) -> dict[str, InferenceEnergy]:
        """Each name's energy per pass (its metered total / its passes; NaN when any window had
        no reading, or none was made) for passes of ``predictions`` predictions."""
        method = "; ".join(sorted(self._methods)) or ("unknown" if self.enabled else "disabled")
        return {
            name: InferenceEnergy(
                energy_kwh=kwh / done if done else math.nan,
                emissions_kg=kg / done if done else math.nan,
                seconds=seconds / done if done else math.nan,
                passes=int(done),
                predictions=predictions,
                method=method,
            )
            for name, (kwh, kg, seconds, done) in self._totals.items()
        }


def inference_energy(
    passes: Mapping[str, Callable[[], object]],
    *,
    predictions: int,
    min_seconds: float = 10.0,
    rounds: int = 2,
    device: torch.device | str = "cpu",
    warmup: bool = True,
    windows: EnergyWindows | None = None,
    **meter: Any,
) -> dict[str, InferenceEnergy]:
    """Energy of each of ``passes`` (one pass over a split making ``predictions`` predictions),
    measured alike so that their ratio means something.

    Every pass is warmed up first, outside any meter (a cold first pass—allocator, kernels,
    caches—would be billed to whichever model happens to be measured cold); ``warmup=False``
    when they already ran. Then ``rounds`` rounds each give every pass one metered window of
    whole passes lasting at least ``min_seconds / rounds``; round ``r`` starts with pass
    ``r mod len(passes)`` (two models, two rounds: A B B A), so a busier or quieter stretch of a
    shared machine falls on both models alike, as in :func:`time_calls`. A window is long enough
    for many CodeCarbon samples (one per ``measure_power_secs``), not the one or two a single
    short pass gets. Each model's energy is the sum over its windows divided by its number of
    passes: NaN if any window had no reading. ``meter`` goes to :class:`EnergyMeter`
    (``country_iso_code``, ``enabled``, ``output_dir``, ``gpu_ids``, ``task``: each window is the
    row ``TASK:NAME`` in ``emissions.csv``). With ``windows`` (:class:`EnergyWindows`, whose
    meter settings are then used) the windows add to those already metered there, as the
    timing rounds' do.
    """
    if not passes:
        raise ValueError("inference_energy needs at least one pass, got none")
    if predictions < 1 or rounds < 1:
        raise ValueError(f"need predictions >= 1 and rounds >= 1, got {predictions=}, {rounds=}")
    device = torch.device(device)
    if windows is None:
        windows = EnergyWindows(passes, task=meter.pop("task", "inference"), **meter)
    names = list(passes)
    for name in names if warmup else ():  # unmetered
        passes[name]()
        synchronize(device)
    for round_ in range(rounds):
        start = round_ % len(names)
        for name in names[start:] + names[:start]:
            done = 0
            with windows.meter_for(name) as energy:
                begin = time.perf_counter()
                while done == 0 or time.perf_counter() - begin < min_seconds / rounds:
                    passes[name]()
                    synchronize(device)
                    done += 1
            windows.add(name, energy, passes=done)
    return windows.energy(predictions)
