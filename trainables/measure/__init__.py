"""Measuring a trial: interleaved inference timing (:mod:`.timing`), CodeCarbon energy
(:mod:`.energy`) and where its wall time goes (:mod:`.phases`)."""

from trainables.measure.energy import (
    EnergyMeter,
    InferenceEnergy,
    check_country_iso_code,
    energy_method,
    inference_energy,
)
from trainables.measure.phases import PhaseClock, TrainingProgress, duration
from trainables.measure.timing import (
    TimingResult,
    forward_passes,
    in_fp32,
    measuring,
    speedup,
    synchronize,
    time_calls,
    time_inference,
)

__all__ = [
    "EnergyMeter",
    "InferenceEnergy",
    "PhaseClock",
    "TimingResult",
    "TrainingProgress",
    "check_country_iso_code",
    "duration",
    "energy_method",
    "forward_passes",
    "in_fp32",
    "inference_energy",
    "measuring",
    "speedup",
    "synchronize",
    "time_calls",
    "time_inference",
]
