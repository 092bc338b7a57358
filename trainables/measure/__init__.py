"""Measuring a trial: interleaved inference timing (:mod:`.timing`), CodeCarbon energy
(:mod:`.energy`), both bounded by a time budget (:mod:`.budget`), and where a trial's wall time
goes (:mod:`.phases`)."""

from trainables.measure.budget import (
    MIN_REPEATS,
    MIN_ROWS,
    BudgetMeasurement,
    TimingBudget,
    TimingPlan,
    measure_by_budget,
    plan_rows,
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
    TOKENISE,
    TimingResult,
    batch_passes,
    forward_passes,
    from_text,
    in_fp32,
    measuring,
    speedup,
    synchronize,
    text_heads,
    text_passes,
    time_calls,
    time_inference,
    tokenizer_threads,
)

__all__ = [
    "MIN_REPEATS",
    "MIN_ROWS",
    "TOKENISE",
    "BudgetMeasurement",
    "EnergyMeter",
    "EnergyWindows",
    "InferenceEnergy",
    "PhaseClock",
    "TimingBudget",
    "TimingPlan",
    "TimingResult",
    "TrainingProgress",
    "batch_passes",
    "check_country_iso_code",
    "duration",
    "energy_method",
    "forward_passes",
    "from_text",
    "in_fp32",
    "inference_energy",
    "measure_by_budget",
    "measuring",
    "plan_rows",
    "plan_timing",
    "speedup",
    "synchronize",
    "text_heads",
    "text_passes",
    "time_calls",
    "time_inference",
    "tokenizer_threads",
]
