"""Metric names shared by the trainable, the study and the analysis: defined once, imported.

The same word is the key in ``tune.report``, the column in ``summary.csv`` and the axis of a plot.
"""

from __future__ import annotations

# Quality on the held-out test split.
ACCURACY = "accuracy"
MACRO_F1 = "macro_f1"
# Per-epoch validation quality (reported while a trial trains).
VAL_ACCURACY = "val_accuracy"
VAL_MACRO_F1 = "val_macro_f1"

# Speed: teacher inference time / compact-student inference time, same batches, device, precision.
SPEEDUP = "speedup"
# Analytic: baseline FLOPs / compact FLOPs for the preset's sequence length.
SPEEDUP_IDEAL = "speedup_ideal"
INFERENCE_SECONDS = "inference_seconds"
TEACHER_INFERENCE_SECONDS = "teacher_inference_seconds"

# Size.
NUM_PARAMETERS = "num_parameters"
TEACHER_NUM_PARAMETERS = "teacher_num_parameters"
PARAM_REDUCTION = "param_reduction"  # 1 - num_parameters / teacher_num_parameters
ENCODER_PARAMETERS = "encoder_parameters"
# The trial parameter asking for a kept fraction of the encoder (the paper's "25% pruning" is 0.75):
# a config key, not a metric, named here because every layer shows it next to the metrics.
TARGET_DENSITY = "target_density"
# Realised kept fraction of the prunable encoder weights of the final (compact) model; the
# trial parameter that asks for one is `target_density`, a different thing with its own name.
DENSITY = "density"

# Energy: the paper's emissions column measures inference over the test set.
EMISSIONS_KG = "emissions_kg"
ENERGY_KWH = "energy_kwh"
TRAIN_EMISSIONS_KG = "train_emissions_kg"
TRAIN_ENERGY_KWH = "train_energy_kwh"
TRAIN_SECONDS = "train_seconds"

# Training progress.
EPOCH = "epoch"
MASK_DENSITY = "mask_density"  # kept fraction under the current masks, while training
THRESHOLD = "threshold"  # the pruning schedule's current threshold
LOSS = "loss"
LOSS_CE = "loss_ce"
LOSS_DISTIL = "loss_distil"
LOSS_REG = "loss_reg"

# What every finished trial reports, in the order a table shows them.
FINAL_METRICS: tuple[str, ...] = (
    NUM_PARAMETERS,
    PARAM_REDUCTION,
    SPEEDUP,
    SPEEDUP_IDEAL,
    ACCURACY,
    MACRO_F1,
    DENSITY,
    EMISSIONS_KG,
    ENERGY_KWH,
    TRAIN_EMISSIONS_KG,
    TRAIN_ENERGY_KWH,
    TRAIN_SECONDS,
)

# Default objectives of the study and of the Pareto analysis: name -> "max" | "min".
OBJECTIVES: dict[str, str] = {ACCURACY: "max", SPEEDUP: "max", EMISSIONS_KG: "min"}
