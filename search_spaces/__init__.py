"""Configurations of the study: the paper's grid and the Optuna space around it (pure data)."""

from search_spaces.optuna_space import Choice, FloatRange, optuna_space, paper_points
from search_spaces.paper import (
    PAPER_ALPHA_DISTIL,
    PAPER_BASELINE,
    PAPER_MODEL,
    PAPER_TABLE,
    PAPER_TEMPERATURE,
    PaperRow,
    paper_grid,
)

__all__ = [
    "PAPER_ALPHA_DISTIL",
    "PAPER_BASELINE",
    "PAPER_MODEL",
    "PAPER_TABLE",
    "PAPER_TEMPERATURE",
    "Choice",
    "FloatRange",
    "PaperRow",
    "optuna_space",
    "paper_grid",
    "paper_points",
]
