"""Presets: the scale a study runs at. ``tiny`` runs on a laptop CPU, ``paper`` is the real model.

A preset fixes what the teacher is and the sequence length; trial hyperparameters that a search
may change live in :mod:`trainables.config`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from search_spaces.paper import PAPER_MODEL

# The encoder families the tiny teacher can be built in (trainables.teachers.tiny_family).
TINY_FAMILIES = ("bert", "distilbert", "electra", "roberta", "xlm-roberta")


@dataclass(frozen=True)
class TinyTeacherConfig:
    """A small BERT trained here: WordPiece vocabulary, MLM pre-training, then fine-tuning."""

    # The encoder family and its tokenizer kind (trainables.teachers.tiny_family): bert,
    # electra, distilbert (WordPiece), roberta (byte-level BPE), xlm-roberta (Unigram).
    family: str = "bert"
    vocab_size: int = 8000
    num_hidden_layers: int = 4
    hidden_size: int = 256
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    max_length: int = 128
    batch_size: int = 32
    # "ppmi_svd": word embeddings start from co-occurrence statistics of the training texts.
    embedding_init: str = "ppmi_svd"
    # Weight of the KL term towards cross-fitted char n-gram logistic-regression probabilities.
    ngram_distillation: float = 0.5
    # Masked-LM pre-training; off by default: on ~2k paragraphs its loss stays near the unigram
    # entropy (~8.0 after 300 steps) and it cost more than it gave.
    mlm_epochs: int = 0
    mlm_learning_rate: float = 1e-3
    mlm_probability: float = 0.15
    epochs: int = 10
    learning_rate: float = 5e-4
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    dropout: float = 0.1
    seed: int = 42
    # auto: fp16 autocast + GradScaler on CUDA, fp32 on CPU (trainables.precision)
    precision: str = "auto"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Preset:
    name: str
    # Hub id or local path of a fine-tuned teacher; None: build the tiny teacher from the data.
    model: str | None
    max_length: int
    batch_size: int
    eval_batch_size: int
    epochs: int
    learning_rate: float  # of the student's weights (the mask scores have their own)
    tiny: TinyTeacherConfig | None = field(default=None)


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        "tiny",
        model=None,
        max_length=128,
        batch_size=32,
        eval_batch_size=64,
        epochs=4,
        # The tiny teacher was trained from scratch at 5e-4; pruning damage needs a similar rate.
        learning_rate=3e-4,
        tiny=TinyTeacherConfig(),
    ),
    "paper": Preset(
        "paper",
        model=PAPER_MODEL,
        max_length=256,
        batch_size=16,
        eval_batch_size=64,
        epochs=3,
        learning_rate=5e-5,
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(
            f"unknown preset {name!r}; use one of {', '.join(PRESETS)} (--preset)"
        ) from None
