"""The trial config: every key a trial understands, its default and its meaning.

``search_spaces/`` and ``study/`` build plain dicts of these keys (Ray Tune passes dicts; the
data settings travel as one nested ``data`` dict, a :class:`~trainables.data.DataSpec`);
:meth:`TrialConfig.from_dict` checks them, so a misspelt key fails loudly instead of being ignored.

>>> cfg = TrialConfig.from_dict({"teacher": "t", "data": {"data_dir": "/d"},
...                               "target_density": 0.75})
>>> cfg.pruning().schedule_end, cfg.data.split_seed
(0.75, 42)

The pruning keys are :class:`~trainables.compress.pruning.PruningConfig`'s fields, flat, with its
defaults but ``min_density`` (the study guards sigmoid_threshold trials; the paper does not):

>>> len(PRUNING_KEYS), "target_density" in PRUNING_KEYS, "block_shape" in PRUNING_KEYS
(10, True, False)
>>> TrialConfig().pruning() == PruningConfig(min_density=PruningConfig.STUDY_MIN_DENSITY)
True
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any

from trainables import metrics as M
from trainables.compress.depth import check_selection
from trainables.compress.pruning import METHODS, PruningConfig
from trainables.compress.quantize import QUANTIZATIONS
from trainables.data import DataSpec
from trainables.precision import check_precision

KINDS = (M.KIND_PRUNE, M.KIND_BASELINE, M.KIND_CLASSICAL)
TRACKING_MODES = ("process", "machine")  # CodeCarbon's: see TrialConfig.energy_tracking


@dataclass
class TrialConfig:
    # What the trial is.
    name: str = ""
    # "baseline": measure the teacher, no training; "classical": TF-IDF + logistic regression
    kind: str = "prune"
    preset: str = "tiny"
    teacher: str = ""  # local folder or hub id of the fine-tuned teacher (prepared by the study)

    # Data: which files, which columns, how split (the same spec the teacher was prepared on).
    data: DataSpec | None = None
    max_length: int = 128
    cache_dir: str | None = None  # tokens and teacher logits are cached here
    # Trained students shared by trials that differ only after training (an int8 or trimmed row
    # and its twin; trainables.trial.students); None: every trial trains its own.
    student_cache: str | None = None

    # Pruning: PruningConfig's fields of the same name, with its defaults (their meaning is
    # documented there), except min_density: the study guards where PruningConfig does not.
    method: str = PruningConfig.method  # topk | sigmoid_threshold
    target_density: float = PruningConfig.target_density  # final kept fraction (topk)
    regularization_lambda: float = PruningConfig.regularization_lambda  # L1 (sigmoid_threshold)
    final_threshold: float = PruningConfig.final_threshold  # sigmoid cut-off at the end
    block_rows: int = PruningConfig.block_shape[0]  # PruningConfig.block_shape, flat
    block_cols: int = PruningConfig.block_shape[1]
    initial_warmup: float = PruningConfig.initial_warmup  # fraction of steps before it moves
    final_warmup: float = PruningConfig.final_warmup  # fraction of steps at the final threshold
    min_density: float = PruningConfig.STUDY_MIN_DENSITY  # least kept fraction per score tensor
    attention_block: str = PruningConfig.attention_block  # block | head (heads go whole)

    # Depth (trainables.compress.depth): the student starts as the teacher minus some encoder
    # layers (prune trials only). Give a count or a share, not both.
    drop_layers: int = 0  # how many encoder layers the student drops
    # the share of the teacher's encoder layers to drop, in [0, 1): round(share x depth) at the
    # trial's start (one grid for a 4-layer and a 12-layer teacher; rounding to 0 drops none)
    drop_layer_share: float = 0.0
    layer_selection: str = "top"  # which: top | bottom | middle | alternate | learned

    # Distillation (see trainables.compress.distillation.distillation_loss).
    distil: bool = False
    temperature: float = 2.0
    alpha_distil: float = 0.9

    # Training.
    # auto (fp16 autocast + GradScaler on CUDA, fp32 on CPU) | fp32 | fp16 (CUDA) | bf16; a
    # trial runs in the precision this resolves to on its device and reports it
    precision: str = "auto"
    learning_rate: float = 1e-4  # the weights
    score_learning_rate: float = PruningConfig.score_learning_rate  # the mask scores
    # sigmoid_threshold: the scores' rate is raised so a score could move this many logits over
    # the run, however few its steps
    score_travel: float = PruningConfig.score_travel
    warmup_fraction: float = 0.1  # linear learning-rate warm-up, then linear decay
    weight_decay: float = 0.01
    epochs: int = 4
    batch_size: int = 32
    eval_batch_size: int = 64
    seed: int = 42  # the student's: initial scores, data order, dropout (not the splits)

    # After training: "int8" quantises the compact model's Linear layers (dynamic int8, CPU
    # only); accuracy, timing and energy are then the quantised model's.
    quantize: str = "none"
    # After training: keep only the vocabulary rows the training texts use (plus special
    # tokens), in the tokenizer and the embedding matrix; measured and saved that way.
    vocab_trim: bool = False

    # Measurement.
    timing_repeats: int = 5
    # CPU threads while timing (0: leave torch's setting). One thread gives stable ratios: with
    # every core busy, any other process (Ray, CodeCarbon) stalls the whole parallel matmul.
    timing_threads: int = 1
    # The timing budget per model and round: the test batches per round are chosen once, from
    # a warm-up, so that the slowest model's round lasts about this long (at least one batch,
    # the same batches for every model); when one batch overruns it, the rounds are cut towards
    # timing_repeats x timing_seconds in all, never below 3 (trainables.measure.budget).
    # 0: no budget, timing_batches batches and timing_repeats rounds.
    timing_seconds: float = 3.0
    timing_batches: int = 8  # the most test batches timed per round (0: no cap)
    country_iso_code: str = "IND"
    measure_energy: bool = True
    # Inference energy is metered in the timing rounds (a CodeCarbon window around each timed
    # pass); when a model's windows add up to less than this, extra windows of the same passes
    # make up the rest: a CodeCarbon sample per second, so ~10 samples at least.
    energy_seconds: float = 10.0
    # CodeCarbon's tracking mode. "process": this trial's process (and children) only, CPU power
    # linear in the CPU time it used: what its predictions cost, whatever else the machine does.
    # "machine": the whole machine, CPU power TDP x (0.1 + 0.9 load^3) of the machine's load, so
    # a reading rises with any other work on the machine (another trial, a test run).
    energy_tracking: str = "process"
    # Set by the study when trials run side by side on one machine: CodeCarbon then counts the
    # others' power too, and the summary says so.
    machine_shared: bool = False

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrialConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown trial config key(s) {', '.join(unknown)}; known keys: "
                f"{', '.join(sorted(known))}"
            )
        values = dict(values)
        if isinstance(values.get("data"), dict):
            values["data"] = DataSpec.from_dict(values["data"])
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Check every setting; ``teacher`` and ``data`` may still be unset (the study adds them
        once the data is loaded and the teacher prepared; a trial needs both)."""
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        check_precision(self.precision)
        if self.data is not None and not isinstance(self.data, DataSpec):
            raise ValueError(
                f"data must be a DataSpec (or a dict of its fields) naming data_dir or dataset, "
                f"got {self.data!r}"
            )
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.alpha_distil <= 1.0:
            raise ValueError(f"alpha_distil must lie in [0, 1], got {self.alpha_distil}")
        if not isinstance(self.vocab_trim, bool):
            raise ValueError(f"vocab_trim must be true or false, got {self.vocab_trim!r}")
        if self.quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {self.quantize!r}")
        if self.quantize != "none" and self.precision not in ("auto", "fp32"):
            raise ValueError(
                f"quantize={self.quantize} runs the model in int8 on the CPU, not in "
                f"{self.precision}: use precision auto or fp32 with it"
            )
        if self.energy_tracking not in TRACKING_MODES:
            raise ValueError(
                f"energy_tracking must be one of {TRACKING_MODES}, got {self.energy_tracking!r}"
            )
        if self.energy_seconds < 0:
            raise ValueError(f"energy_seconds must be >= 0, got {self.energy_seconds}")
        if not self.timing_seconds >= 0:
            raise ValueError(
                f"timing_seconds must be >= 0 (seconds per model and timing round; 0: no "
                f"budget, timing_batches batches per round), got {self.timing_seconds}"
            )
        if self.timing_batches < 0:
            raise ValueError(
                f"timing_batches must be >= 0 (the most test batches timed per round; 0: no "
                f"cap), got {self.timing_batches}"
            )
        for name in ("epochs", "batch_size", "eval_batch_size", "timing_repeats"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self._validate_depth()
        self.pruning()  # block shape, warm-ups, thresholds: fail now, not inside the trial
        if self.learning_rate <= 0 or self.score_learning_rate <= 0:
            raise ValueError(
                f"learning rates must be > 0, got learning_rate={self.learning_rate}, "
                f"score_learning_rate={self.score_learning_rate}"
            )

    def _validate_depth(self) -> None:
        """The depth keys (the teacher's depth is checked at the trial's start)."""
        check_selection(self.layer_selection)
        whole = isinstance(self.drop_layers, numbers.Real) and float(self.drop_layers).is_integer()
        if isinstance(self.drop_layers, bool) or not whole:
            raise ValueError(f"drop_layers must be a whole number, got {self.drop_layers!r}")
        self.drop_layers = int(self.drop_layers)  # 3.0 read back from a table is 3
        if self.drop_layers < 0:
            raise ValueError(f"drop_layers must be >= 0 (layers to drop), got {self.drop_layers}")
        share = self.drop_layer_share
        if not (isinstance(share, numbers.Real) and 0.0 <= share < 1.0):
            raise ValueError(
                f"drop_layer_share must lie in [0, 1) (a share of the teacher's layers), got "
                f"{self.drop_layer_share}"
            )
        if self.drop_layers > 0 and self.drop_layer_share > 0:
            raise ValueError(
                f"set drop_layers ({self.drop_layers}) or drop_layer_share "
                f"({self.drop_layer_share}), not both"
            )
        if self.kind != M.KIND_PRUNE and (self.drop_layers or self.drop_layer_share):
            raise ValueError(
                f"a {self.kind} trial keeps the teacher's layers: drop_layers and "
                f"drop_layer_share are for prune trials, got drop_layers={self.drop_layers}, "
                f"drop_layer_share={self.drop_layer_share}"
            )

    @property
    def block_shape(self) -> tuple[int, int]:
        return (self.block_rows, self.block_cols)

    def pruning(self) -> PruningConfig:
        """The pruning settings of this trial (validated by PruningConfig itself): every field
        the two share, the block shape, and no L1 penalty for topk (its density is fixed)."""
        shared = {name: getattr(self, name) for name in PRUNING_KEYS}
        if self.method == "topk":
            shared["regularization_lambda"] = 0.0
        return PruningConfig(**shared, block_shape=self.block_shape)


# The trial keys that are PruningConfig fields too (block_shape is block_rows x block_cols).
PRUNING_KEYS = tuple(
    f.name for f in fields(TrialConfig) if f.name in PruningConfig.__dataclass_fields__
)
