"""Metric names shared by the trainable, the study and the analysis: defined once, imported.

The same word is the key in ``tune.report``, the column in ``summary.csv`` and the axis of a plot.
"""

from __future__ import annotations

import numpy as np

# Quality on the held-out test split: reported, never optimised or selected on.
ACCURACY = "accuracy"
MACRO_F1 = "macro_f1"
# Quality on the validation split: per epoch while a trial trains, and of the final (compact)
# model in the final report. Searches optimise it and fronts are selected on it.
VAL_ACCURACY = "val_accuracy"
VAL_MACRO_F1 = "val_macro_f1"
# The validation accuracy of always answering the validation's most common label: a model whose
# validation accuracy is not above it learnt no more than the label counts, and no front takes it.
VAL_MAJORITY = "val_majority"

# Speed: teacher inference time / compact-student inference time, from raw text to predicted
# label (each model's own tokenizer included), same texts, device, precision, threads.
SPEEDUP = "speedup"
# The same ratio of forward passes only (each timed call less its own tokenising, same rounds).
SPEEDUP_FORWARD = "speedup_forward"
# The median share of the measured model's end-to-end time spent tokenising.
TOKENISE_SHARE = "tokenise_share"
# The same against the teacher in fp32: with mixed precision, `speedup` is what pruning gained
# and `speedup_vs_fp32` what pruning and precision gained together (equal in fp32).
SPEEDUP_VS_FP32 = "speedup_vs_fp32"
# The precision a trial ran in: its `precision` setting resolved on its device ("auto" is fp16
# on CUDA, fp32 on CPU).
PRECISION_USED = "precision_used"
# Analytic: baseline FLOPs / compact FLOPs at the padded widths of the timed batches.
SPEEDUP_IDEAL = "speedup_ideal"
INFERENCE_SECONDS = "inference_seconds"
TEACHER_INFERENCE_SECONDS = "teacher_inference_seconds"
# What the speed and inference energy were measured on (trainables.measure.budget): the test
# batches and rows each model ran per timed pass (the same for every model) and the timed rounds.
TIMED_BATCHES = "timed_batches"
TIMED_ROWS = "timed_rows"
TIMING_ROUNDS = "timing_rounds"

# Size.
NUM_PARAMETERS = "num_parameters"
TEACHER_NUM_PARAMETERS = "teacher_num_parameters"
PARAM_REDUCTION = "param_reduction"  # 1 - num_parameters / teacher_num_parameters
ENCODER_PARAMETERS = "encoder_parameters"
# Size in MB (1e6 bytes). `model_mb`: what ships, the files on disk of the trial's model folder
# (weights, config, tokenizer; not its few-KB model card, written after; the baseline: the
# teacher's weight files; TF-IDF: its pickle).
# `model_mb_in_memory`: the measured model's state dict as `torch.save` writes it, where int8
# weights count one byte (a compact folder stores fp32 weights and quantises when loaded).
MODEL_MB = "model_mb"
MODEL_MB_IN_MEMORY = "model_mb_in_memory"
# Rows of the measured model's vocabulary (embedding matrix), and with vocab_trim the share of
# the validation texts' words that the trimmed vocabulary splits into the same pieces as the
# teacher's (the vocabulary is chosen on the training texts, so there it is 1 by construction).
VOCAB_SIZE = "vocab_size"
VOCAB_COVERAGE = "vocab_coverage"
# The trial parameter asking for a kept fraction of the encoder (the paper's "25% pruning" is 0.75):
# a config key, not a metric, named here because every layer shows it next to the metrics.
TARGET_DENSITY = "target_density"
# Realised kept fraction of the prunable encoder weights of the final (compact) model; the
# trial parameter that asks for one is `target_density`, a different thing with its own name.
DENSITY = "density"
# What the compact encoder kept, summed over its layers: attention heads and FFN neurons (the
# teacher's totals are layers x heads and layers x intermediate size). Block pruning empties a
# head only when all its value and output blocks go; `attention_block="head"` scores heads whole.
HEADS = "heads"
FFN_NEURONS = "ffn_neurons"
# Encoder layers the final model keeps, and how many of the teacher's it dropped (the trial's
# drop_layers / drop_layer_share; the baseline: the teacher's depth and 0).
LAYERS = "layers"
LAYERS_DROPPED = "layers_dropped"

# Energy: the paper's emissions column measures inference over the test set. It is measured over
# repeated passes (long enough for many CodeCarbon samples) after a warm-up, and given per pass
# over the test set and per 1,000 predictions. NaN when no reading was made, never 0.
EMISSIONS_KG = "emissions_kg"
ENERGY_KWH = "energy_kwh"
EMISSIONS_KG_PER_1K = "emissions_kg_per_1k"
ENERGY_KWH_PER_1K = "energy_kwh_per_1k"
# The teacher's inference emissions per 1,000 predictions measured in the same trial, in
# windows interleaved with the model's (A B B A), and the ratio teacher / model energy: the
# energy counterpart of the speedup, free of the load differences between trials.
TEACHER_EMISSIONS_KG_PER_1K = "teacher_emissions_kg_per_1k"
ENERGY_RATIO = "energy_ratio"
# How CodeCarbon got its power figures. It starts with one of the two values below, then each
# component's method, e.g. "estimated from time (cpu: TDP x load estimate; ram: size estimate);
# machine tracking". Measured: a processor's power counter (RAPL, NVML) was read. Estimated: no
# counter, so power is CodeCarbon's TDP x load model plus RAM by size, and energy (power x time)
# is mostly the inference time again: emissions then say little that speedup does not.
ENERGY_METHOD = "energy_method"
ENERGY_MEASURED = "measured"
ENERGY_ESTIMATED = "estimated from time"
# True when other trials ran on the same machine at the same time (their energy is counted too).
MACHINE_SHARED = "machine_shared"
# Training emissions / emissions saved per prediction against the teacher measured in the same
# trial (the baseline trial's when a row has none): how many predictions until compressing pays
# for itself (computed by the study).
PAYBACK_PREDICTIONS = "payback_predictions"
TRAIN_EMISSIONS_KG = "train_emissions_kg"
TRAIN_ENERGY_KWH = "train_energy_kwh"
TRAIN_SECONDS = "train_seconds"

# Where a trial's wall time went, in seconds per phase (trainables.measure.PhaseClock): each
# second counts once, in the innermost phase (a checkpoint saved while training counts as
# saving). `phase_other_s` is the rest of `trial_seconds` (config, seeding, the student's copy
# of the teacher, size counts, reports). All count this run only: a resumed trial's phases and
# `trial_seconds` start again from its restart, while `train_seconds` adds up every attempt's
# training (it comes from the checkpoint's progress).
PHASE_DATA = "phase_data_s"  # the study's splits, read (or from the cache)
PHASE_TEACHER = "phase_teacher_s"  # the teacher loaded and moved to the device
PHASE_TOKENISE = "phase_tokenise_s"  # the splits in the model's pieces (or from the cache)
PHASE_TEACHER_LOGITS = "phase_teacher_logits_s"  # the teacher's logits on train (KD)
PHASE_TRAIN = "phase_train_s"  # the student built, its training steps
PHASE_COMPACT = "phase_compact_s"  # final masks, compaction, vocabulary trim, int8
PHASE_EVAL = "phase_eval_s"  # test and validation predictions, per-epoch validation
PHASE_TIMING = "phase_timing_s"  # the interleaved inference timing
PHASE_ENERGY = "phase_energy_s"  # the inference energy windows
# the model folder, predictions, checkpoints (written, Tune's copy, read back on resume)
PHASE_SAVE = "phase_save_s"
PHASES: tuple[str, ...] = (
    PHASE_DATA,
    PHASE_TEACHER,
    PHASE_TOKENISE,
    PHASE_TEACHER_LOGITS,
    PHASE_TRAIN,
    PHASE_COMPACT,
    PHASE_EVAL,
    PHASE_TIMING,
    PHASE_ENERGY,
    PHASE_SAVE,
)
PHASE_OTHER = "phase_other_s"
# The trial's wall time this run, from its start to its final report.
TRIAL_SECONDS = "trial_seconds"
# In a per-epoch report: the estimated seconds left in the training loop at this run's pace.
TRAIN_SECONDS_LEFT = "train_seconds_left"

# The student's seed (initial scores, data order, dropout); replicates differ only in it.
SEED = "seed"
# The trial kinds: the teacher measured as it is, a compressed student, a TF-IDF reference.
KIND_BASELINE = "baseline"
KIND_PRUNE = "prune"
KIND_CLASSICAL = "classical"

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
    MODEL_MB,
    MODEL_MB_IN_MEMORY,
    SPEEDUP,
    SPEEDUP_VS_FP32,
    SPEEDUP_IDEAL,
    ACCURACY,
    MACRO_F1,
    VAL_ACCURACY,
    VAL_MACRO_F1,
    DENSITY,
    EMISSIONS_KG,
    ENERGY_KWH,
    EMISSIONS_KG_PER_1K,
    ENERGY_KWH_PER_1K,
    TEACHER_EMISSIONS_KG_PER_1K,
    ENERGY_RATIO,
    TRAIN_EMISSIONS_KG,
    TRAIN_ENERGY_KWH,
    TRAIN_SECONDS,
)

# What a configuration summarises over its seeds: the final metrics, and some that results
# written before them lack (NaN there): the forward-only speedup, the tokenising share, depth,
# the majority share (readers fill it in from the prediction files).
SUMMARISED_METRICS: tuple[str, ...] = (
    *FINAL_METRICS,
    SPEEDUP_FORWARD,
    TOKENISE_SHARE,
    LAYERS,
    VAL_MAJORITY,
)

# Where a finished trial saved its per-example predictions: an ``.npz`` with int64 label ids
# ``test_pred``, ``test_gold``, ``val_pred``, ``val_gold`` (ids of the teacher's label2id), read
# with ``numpy.load(path, allow_pickle=False)``. The statistics pair trials on these.
PREDICTIONS_FILE = "predictions_file"

# Where a trial ran: the Ray node id of its last report (a retried trial may move), and the epoch
# its last attempt resumed from (0: it ran from the start; a trial retried after its node died
# resumes from its last epoch checkpoint).
NODE_ID = "node_id"
RESUMED_FROM_EPOCH = "resumed_from_epoch"
# Whether the trial measured a student a twin trained (trainables.trial.students): it did not
# train, and its training cost columns are the twin's, what the model it measured cost.
STUDENT_REUSED = "student_reused"

# What else a final report carries besides the numbers above (strings, flags, paths).
FINAL_DETAILS: tuple[str, ...] = (
    ENERGY_METHOD,
    MACHINE_SHARED,
    PREDICTIONS_FILE,
    PRECISION_USED,
    NODE_ID,
    RESUMED_FROM_EPOCH,
    STUDENT_REUSED,
)

# The inference-energy metrics: measured only with measure_energy on.
ENERGY_METRICS: tuple[str, ...] = (
    EMISSIONS_KG,
    ENERGY_KWH,
    EMISSIONS_KG_PER_1K,
    ENERGY_KWH_PER_1K,
    ENERGY_RATIO,
)

# Default objectives of the study and of the Pareto analysis: name -> "max" | "min". Quality is
# validation accuracy: the front is chosen on validation and reported with its test numbers.
OBJECTIVES: dict[str, str] = {VAL_ACCURACY: "max", SPEEDUP: "max", EMISSIONS_KG: "min"}
# The test-split metric that reports what a validation metric selected.
TEST_OF: dict[str, str] = {VAL_ACCURACY: ACCURACY, VAL_MACRO_F1: MACRO_F1}


def majority_share(gold: np.ndarray) -> float:
    """:data:`VAL_MAJORITY` of a split's gold labels: the accuracy of always answering the most
    common one.

    >>> majority_share(np.array([2, 0, 2, 1]))
    0.5
    """
    gold = np.asarray(gold)
    if gold.size == 0:
        raise ValueError("no labels: the majority share of an empty split is undefined")
    return float(np.unique(gold, return_counts=True)[1].max() / gold.size)
