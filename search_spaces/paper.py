"""The paper's grid and its reported Table I: one source of truth for both.

Mirashi et al. 2024 (L3Cube-IndicNews / MahaNews), model ``l3cube-pune/marathi-topic-all-doc-v2``.
"25% pruning" means a target (final kept) density of 0.75. The paper does not state its distillation
settings; temperature 2.0 and alpha 0.9 are the block-pruning reference's (Lagunas et al. 2021).
Speedup in the paper is baseline GPU inference time / model time.
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER_MODEL = "l3cube-pune/marathi-topic-all-doc-v2"
PAPER_TEMPERATURE = 2.0
PAPER_ALPHA_DISTIL = 0.9
# The settings that keep the baseline the unmodified teacher, whatever the study's base config
# sets (``--set quantize=int8`` or ``vocab_trim=true`` make a "baseline + ..." row of their own;
# a dropped layer needs training, so no row that trains no student has depth: study.points).
TEACHER_AS_IS: dict[str, object] = {"quantize": "none", "vocab_trim": False}
# A study on the paper's data (MahaNews) writes Table I beside its own numbers in these columns.
PAPER_ACCURACY = "paper_accuracy"  # a fraction, like ours
PAPER_COLUMNS = ("paper_num_parameters", "paper_param_reduction", "paper_speedup", PAPER_ACCURACY)


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Table I."""

    name: str
    target_density: float  # kept fraction of encoder weights; 1.0 for the baseline
    distil: bool
    num_parameters: float  # as printed in the paper (rounded to millions)
    speedup: float
    accuracy: float  # percent

    @property
    def is_baseline(self) -> bool:
        return self.target_density >= 1.0 and not self.distil


PAPER_TABLE: tuple[PaperRow, ...] = (
    PaperRow("baseline", 1.00, False, 238e6, 1.00, 92.43),
    PaperRow("25% pruning", 0.75, False, 223e6, 1.43, 92.29),
    PaperRow("50% pruning", 0.50, False, 209e6, 1.67, 91.81),
    PaperRow("75% pruning", 0.25, False, 195e6, 2.25, 90.11),
    PaperRow("25% pruning + KD", 0.75, True, 223e6, 2.56, 92.18),
    PaperRow("50% pruning + KD", 0.50, True, 209e6, 2.32, 91.49),
    PaperRow("75% pruning + KD", 0.25, True, 195e6, 2.25, 90.55),
)

PAPER_BASELINE: PaperRow = PAPER_TABLE[0]


def paper_grid() -> list[dict[str, object]]:
    """The baseline and the six compression runs as trial-config overrides, in Table I order.

    Each dict holds only the keys that differ between runs; everything else comes from the preset.

    >>> [g["name"] for g in paper_grid()][:2]
    ['baseline', '25% pruning']
    """
    grid: list[dict[str, object]] = []
    for row in PAPER_TABLE:
        if row.is_baseline:
            grid.append({"name": row.name, "kind": "baseline", **TEACHER_AS_IS})
            continue
        grid.append(
            {
                "name": row.name,
                "kind": "prune",
                "target_density": row.target_density,
                "distil": row.distil,
                "temperature": PAPER_TEMPERATURE,
                "alpha_distil": PAPER_ALPHA_DISTIL,
            }
        )
    return grid
