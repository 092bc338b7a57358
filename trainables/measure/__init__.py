"""Measuring a trial: interleaved inference timing (:mod:`.timing`), CodeCarbon energy
(:mod:`.energy`), both bounded by a time budget (:mod:`.budget`), and where a trial's wall time
goes (:mod:`.phases`)."""

from trainables.measure.budget import (
    MIN_REPEATS,
    BudgetMeasurement,
    TimingPlan,
    measure_by_budget,
    plan_timing,
)
from trainables.measure.energy import (
    EnergyMeter,
    EnergyWindows,
    InferenceEnergy,
    check_country_iso_code,
    energy_method,
    inference_energy,
)
from trainables.measure.phases import PhaseClock, TrainingProgress, duration
from trainables.measure.timing import (
    TimingResult,
    batch_passes,
    forward_passes,
    in_fp32,
    measuring,
    speedup,
    synchronize,
    time_calls,
    time_inference,
)

__all__ = [
    "MIN_REPEATS",
    "BudgetMeasurement",
    "EnergyMeter",
    "EnergyWindows",
    "InferenceEnergy",
    "PhaseClock",
    "TimingPlan",
    "TimingResult",
    "TrainingProgress",
    "batch_passes",
    "check_country_iso_code",
    "duration",
    "energy_method",
    "forward_passes",
    "in_fp32",
    "inference_energy",
    "measure_by_budget",
    "measuring",
    "plan_timing",
    "speedup",
    "synchronize",
    "time_calls",
    "time_inference",
]
