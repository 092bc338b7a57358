"""The study's summary: one row per trial, written as ``summary.csv`` and ``summary.md``.

Columns are the trainable's metric names (``trainables.metrics``), then ``name``, ``status``,
``trial_id``, ``wall_seconds``, ``error`` and the trial's config keys (the data spec flattened as
``data/<key>``). ``target_density`` is the parameter a trial was given, ``density`` the kept
fraction its compact model has. Where the study compares like with like (MahaNews data) the
paper's Table I numbers stand next to ours as ``paper_*`` columns (accuracy as a fraction, like
ours). No Ray needed: records are plain data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.readers import flatten_config
from search_spaces.paper import PAPER_BASELINE, PAPER_COLUMNS, PAPER_TABLE
from trainables import metrics as M

FINISHED = "TERMINATED"
FAILED = "ERROR"
UNFINISHED = "PENDING"

# Metrics besides FINAL_METRICS worth a column, in table order.
EXTRA_METRICS = (
    M.ENCODER_PARAMETERS,
    M.TEACHER_NUM_PARAMETERS,
    M.INFERENCE_SECONDS,
    M.TEACHER_INFERENCE_SECONDS,
    M.EPOCH,
)
WALL_SECONDS = "wall_seconds"
# Config keys first in the table; any other key the trials had follows in sorted order.
CONFIG_ORDER = (
    "kind",
    "target_density",
    "distil",
    "temperature",
    "alpha_distil",
    "method",
    "regularization_lambda",
    "learning_rate",
    "epochs",
    "batch_size",
    "seed",
    "preset",
    "teacher",
    "data/data_dir",
    "data/dataset",
    "data/variant",
    "data/text_column",
    "data/label_column",
    "data/max_rows",
    "data/split_seed",
    "max_length",
)


@dataclass
class TrialRecord:
    """What the study knows about one trial when it ends: status, last report, config."""

    trial_id: str
    status: str  # TERMINATED | ERROR | PENDING (an interrupted study's unfinished trial)
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    path: str = ""


def status_of(metrics: Mapping[str, Any], error: object | None) -> str:
    """TERMINATED once the final report is in, ERROR if the trial failed, else PENDING."""
    if error is not None:
        return FAILED
    return FINISHED if all(name in metrics for name in M.FINAL_METRICS) else UNFINISHED


def summary_table(records: Iterable[TrialRecord], *, paper: bool = False) -> pd.DataFrame:
    """One row per trial; ``paper=True`` adds the paper's Table I row of the same name.

    >>> record = TrialRecord("t1", "TERMINATED", {"accuracy": 0.8, "density": 0.76},
    ...                      {"name": "25% pruning", "target_density": 0.75})
    >>> row = summary_table([record], paper=True).iloc[0]
    >>> [float(row[c]) for c in ("density", "target_density", "paper_accuracy")]
    [0.76, 0.75, 0.9229]
    """
    rows = []
    for record in records:
        row: dict[str, Any] = {
            "name": record.config.get("name") or record.metrics.get("name") or record.trial_id,
            "status": record.status,
            "trial_id": record.trial_id,
        }
        for metric in (*M.FINAL_METRICS, *EXTRA_METRICS):
            row[metric] = record.metrics.get(metric, math.nan)
        row[WALL_SECONDS] = record.metrics.get("time_total_s", math.nan)
        row["model_dir"] = record.metrics.get("model_dir", "")
        row["error"] = record.error
        for key, value in flatten_config(record.config).items():
            if key != "name":
                row[f"config/{key}" if key in row else key] = value
        if paper:
            row.update(_paper_columns(row["name"]))
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    head = ["name", "status", "trial_id", *M.FINAL_METRICS, *EXTRA_METRICS, WALL_SECONDS]
    config = [c for c in CONFIG_ORDER if c in table.columns]
    paper_cols = [c for c in PAPER_COLUMNS if c in table.columns]
    rest = sorted(set(table.columns) - {*head, *config, *paper_cols, "model_dir", "error"})
    return table[[*head, *paper_cols, *config, *rest, "model_dir", "error"]]


def _paper_columns(name: str) -> dict[str, float]:
    row = next((r for r in PAPER_TABLE if r.name == name), None)
    if row is None:
        return dict.fromkeys(PAPER_COLUMNS, math.nan)
    return {
        "paper_num_parameters": row.num_parameters,
        "paper_param_reduction": 1.0 - row.num_parameters / PAPER_BASELINE.num_parameters,
        "paper_speedup": row.speedup,
        "paper_accuracy": round(row.accuracy / 100.0, 6),
    }


# --------------------------------------------------------------------------------------------
# Markdown


def _fmt(value: Any, spec: str, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, str) and not value):
        return ""
    try:
        number = float(value) * scale
    except (TypeError, ValueError):
        return str(value)
    return "" if math.isnan(number) else format(number, spec)


def _config_text(row: Mapping[str, Any]) -> str:
    """The trial's searched settings in a few characters: ``d=0.75 KD T=2 α=0.9``."""
    if row.get("kind") == "baseline":
        return "teacher"
    parts = []
    density = row.get("target_density")
    if density is not None and not (isinstance(density, float) and math.isnan(density)):
        parts.append(f"d={float(density):.3g}")
    if row.get("method") == "sigmoid_threshold":
        parts.append(f"λ={_fmt(row.get('regularization_lambda'), '.3g')}")
    if row.get("distil") is True or str(row.get("distil")).lower() == "true":
        temperature = _fmt(row.get("temperature"), ".3g")
        alpha = _fmt(row.get("alpha_distil"), ".2g")
        parts.append(f"KD T={temperature} α={alpha}")
    if "learning_rate" in row and not pd.isna(row.get("learning_rate")):
        parts.append(f"lr={float(row['learning_rate']):.2g}")
    return " ".join(parts)


# (header, column, format, scale)
_MARKDOWN_COLUMNS: tuple[tuple[str, str, str, float], ...] = (
    ("params (M)", M.NUM_PARAMETERS, ".3g", 1e-6),
    ("reduction %", M.PARAM_REDUCTION, ".1f", 100.0),
    ("speedup ×", M.SPEEDUP, ".2f", 1.0),
    ("accuracy %", M.ACCURACY, ".2f", 100.0),
    ("emissions (mg CO₂eq)", M.EMISSIONS_KG, ".3g", 1e6),
    ("macro-F1", M.MACRO_F1, ".3f", 1.0),
    ("density", M.DENSITY, ".3f", 1.0),
    ("ideal ×", M.SPEEDUP_IDEAL, ".2f", 1.0),
    ("energy (Wh)", M.ENERGY_KWH, ".3g", 1e3),
    ("wall s", WALL_SECONDS, ".0f", 1.0),
)
_PAPER_MARKDOWN: tuple[tuple[str, str, str, float], ...] = (
    ("paper params (M)", "paper_num_parameters", ".0f", 1e-6),
    ("paper reduction %", "paper_param_reduction", ".1f", 100.0),
    ("paper speedup ×", "paper_speedup", ".2f", 1.0),
    ("paper accuracy %", "paper_accuracy", ".2f", 100.0),
)


def summary_markdown(table: pd.DataFrame, *, title: str = "Study summary") -> str:
    """A readable table: the paper's Table I columns, then ours, then the paper's numbers.

    Emissions are the CodeCarbon estimate for inference over the test split, as in the paper.
    """
    columns = [c for c in _MARKDOWN_COLUMNS if c[1] in table.columns]
    if "paper_speedup" in table.columns:
        columns += [c for c in _PAPER_MARKDOWN if c[1] in table.columns]
    header = ["trial", "status", *(c[0] for c in columns), "config"]
    lines = [
        f"# {title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---", *["---:"] * len(columns), "---"]) + "|",
    ]
    for _, row in table.iterrows():
        cells = [str(row["name"]), str(row["status"])]
        cells += [_fmt(row.get(col), spec, scale) for _, col, spec, scale in columns]
        cells.append(_config_text(row))
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    failed = table[table["status"] == FAILED] if "status" in table.columns else table.iloc[:0]
    for _, row in failed.iterrows():
        lines.append("")
        lines.append(f"- {row['name']} failed: {row.get('error', '')}")
    return "\n".join(lines) + "\n"


def write_summary(
    table: pd.DataFrame, directory: str | Path, *, title: str = "Study summary"
) -> dict[str, Path]:
    """Write ``summary.csv`` and ``summary.md`` into ``directory``; return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv, md = directory / "summary.csv", directory / "summary.md"
    table.to_csv(csv, index=False)
    md.write_text(summary_markdown(table, title=title), encoding="utf-8")
    return {"csv": csv, "md": md}


def count_by_status(records: Sequence[TrialRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts
