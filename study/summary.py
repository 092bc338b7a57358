"""The study's summary: one row per trial, written as ``summary.csv`` and ``summary.md``.

Columns are the trainable's metric names (``trainables.metrics``), then ``name``, ``status``,
``trial_id``, ``wall_seconds``, ``error`` and the trial's config keys (the data spec flattened as
``data/<key>``). ``target_density`` is the parameter a trial was given, ``density`` the kept
fraction its compact model has. Where the study compares like with like (MahaNews data) the
paper's Table I numbers stand next to ours as ``paper_*`` columns (accuracy as a fraction, like
ours). ``payback_predictions`` is computed here, against the finished baseline row(s).
Replicates (``--seeds``, ``--confirm``) are summarised per configuration in ``configs.csv``
(:func:`analysis.config_table`) and in a second table of ``summary.md``. No Ray
needed: records are plain data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.configurations import config_table
from analysis.labels import levers
from analysis.readers import flatten_config
from analysis.statistics import payback_column
from search_spaces.paper import PAPER_BASELINE, PAPER_COLUMNS, PAPER_TABLE
from trainables import metrics as M

FINISHED = "TERMINATED"
FAILED = "ERROR"
UNFINISHED = "PENDING"

# Metrics besides FINAL_METRICS worth a column, in table order.
EXTRA_METRICS = (
    M.PAYBACK_PREDICTIONS,
    M.ENERGY_METHOD,
    M.MACHINE_SHARED,
    M.PREDICTIONS_FILE,
    M.PRECISION_USED,
    M.HEADS,
    M.FFN_NEURONS,
    M.VOCAB_SIZE,
    M.VOCAB_COVERAGE,
    M.NODE_ID,
    M.RESUMED_FROM_EPOCH,
    M.ENCODER_PARAMETERS,
    M.TEACHER_NUM_PARAMETERS,
    M.INFERENCE_SECONDS,
    M.TEACHER_INFERENCE_SECONDS,
    M.EPOCH,
)
# Text-valued metrics: empty, not NaN, when a trial did not report them.
_TEXT_METRICS = (M.ENERGY_METHOD, M.PREDICTIONS_FILE, M.PRECISION_USED, M.NODE_ID)
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
            missing = "" if metric in _TEXT_METRICS else math.nan
            row[metric] = record.metrics.get(metric, missing)
        if M.MACHINE_SHARED not in record.metrics:  # the study's flag, when the trial lacks it
            row[M.MACHINE_SHARED] = record.config.get(M.MACHINE_SHARED, math.nan)
        row[WALL_SECONDS] = record.metrics.get("time_total_s", math.nan)
        row["model_dir"] = record.metrics.get("model_dir", "")
        row["error"] = record.error
        for key, value in flatten_config(record.config).items():
            if key != "name":
                row[f"config/{key}" if key in row else key] = value
        if M.SEED not in row and M.SEED in record.metrics:  # a config without its seed
            row[M.SEED] = record.metrics[M.SEED]
        # a search's trials leave `kind` to TrialConfig's default; the configurations (and a
        # --confirm run's explicit "prune") need it spelt out to group with them
        if "kind" not in row:
            row["kind"] = record.metrics.get("kind") or M.KIND_PRUNE
        if paper:
            row.update(_paper_columns(row["name"]))
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    # A trial cannot know the baseline's emissions; the study has every row.
    table[M.PAYBACK_PREDICTIONS] = payback_column(table)
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
    """The trial's searched settings in a few characters: ``d=0.75 KD T=2 α=0.9 heads int8``."""
    if row.get("kind") == "baseline":
        return "teacher"
    if row.get("kind") == M.KIND_CLASSICAL:  # trains none of the BERT settings
        return "char 2-5-gram TF-IDF, C on validation"
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
    return " ".join([*parts, *levers(row)])


# (header, column, format, scale). Every quality header names its split.
_MARKDOWN_COLUMNS: tuple[tuple[str, str, str, float], ...] = (
    ("params (M)", M.NUM_PARAMETERS, ".3g", 1e-6),
    ("reduction %", M.PARAM_REDUCTION, ".1f", 100.0),
    ("speedup ×", M.SPEEDUP, ".2f", 1.0),
    ("test accuracy %", M.ACCURACY, ".2f", 100.0),
    ("emissions / test pass (mg CO₂eq)", M.EMISSIONS_KG, ".3g", 1e6),
    ("test macro-F1", M.MACRO_F1, ".3f", 1.0),
    ("val accuracy %", M.VAL_ACCURACY, ".2f", 100.0),
    ("density", M.DENSITY, ".3f", 1.0),
    ("ideal ×", M.SPEEDUP_IDEAL, ".2f", 1.0),
    ("energy (Wh)", M.ENERGY_KWH, ".3g", 1e3),
    ("wall s", WALL_SECONDS, ".0f", 1.0),
)
_PAPER_MARKDOWN: tuple[tuple[str, str, str, float], ...] = (
    ("paper params (M)", "paper_num_parameters", ".0f", 1e-6),
    ("paper reduction %", "paper_param_reduction", ".1f", 100.0),
    ("paper speedup ×", "paper_speedup", ".2f", 1.0),
    ("paper test accuracy %", "paper_accuracy", ".2f", 100.0),
)
CONFIGS_HEADING = "## Configurations (mean over seeds)"
# Marks a difference to the baseline whose 95% interval excludes 0.
SIGNIFICANT = "*"


def _row_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _mean_sd(row: Mapping[str, Any], metric: str, spec: str, scale: float = 1.0) -> str:
    """``91.20 ± 0.45``; the mean alone for one seed."""
    mean = _fmt(row.get(f"{metric}_mean"), spec, scale)
    sd = _fmt(row.get(f"{metric}_sd"), spec, scale)
    return f"{mean} ± {sd}" if mean and sd else mean


def _delta_text(row: Mapping[str, Any]) -> str:
    """``+1.20 [+0.40, +2.05]*`` in accuracy points; the baseline reads ``0 (reference)``."""
    mean = _fmt(row.get("delta_accuracy_mean"), "+.2f", 100.0)
    if not mean:
        return ""
    low = _fmt(row.get("delta_accuracy_ci_low"), "+.2f", 100.0)
    high = _fmt(row.get("delta_accuracy_ci_high"), "+.2f", 100.0)
    if not (low and high):
        return "0 (reference)" if row.get("kind") == M.KIND_BASELINE else mean
    mark = SIGNIFICANT if bool(row.get("ci_excludes_zero")) else ""
    return f"{mean} [{low}, {high}]{mark}"


def _payback_text(value: Any) -> str:
    """Predictions with thousands separators; ``never`` when nothing is saved per prediction."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "never"
    return f"{number:,.0f}" if number < 1e12 else f"{number:.3g}"


def configs_markdown(configs: pd.DataFrame, table: pd.DataFrame | None = None) -> str:
    """The configuration table of ``summary.md`` (rows of :func:`config_table`) and its notes;
    ``table`` (the per-trial summary) supplies the energy method(s) and the shared-machine
    warning. Empty when there are no configurations.
    """
    if configs.empty:
        return ""
    header = [
        "configuration",
        "n seeds",
        "test accuracy % (mean ± sd)",
        "Δ test accuracy vs baseline (points, 95% CI)",
        "McNemar p (test)",
        "val accuracy % (mean ± sd)",
        "speedup × (mean ± sd)",
        "emissions / 1,000 predictions (mg CO₂eq)",
        "energy ratio × (teacher / model, same trial)",
        "payback (predictions)",
        "settings",
    ]
    lines = [
        CONFIGS_HEADING,
        "",
        _row_line(header),
        "|" + "|".join(["---", *["---:"] * (len(header) - 2), "---"]) + "|",
    ]
    for _, config in configs.iterrows():
        row = config.to_dict()
        lines.append(
            _row_line(
                [
                    str(row["configuration"]),
                    str(row["n_seeds"]),
                    _mean_sd(row, M.ACCURACY, ".2f", 100.0),
                    _delta_text(row),
                    _fmt(row.get("mcnemar_p"), ".3g"),
                    _mean_sd(row, M.VAL_ACCURACY, ".2f", 100.0),
                    _mean_sd(row, M.SPEEDUP, ".2f"),
                    _fmt(row.get(f"{M.EMISSIONS_KG_PER_1K}_mean"), ".3g", 1e6),
                    _fmt(row.get(f"{M.ENERGY_RATIO}_mean"), ".2f"),
                    _payback_text(row.get(f"{M.PAYBACK_PREDICTIONS}_mean")),
                    _config_text(row),
                ]
            )
        )
    lines += [
        "",
        f"\\{SIGNIFICANT} the 95% interval of the difference excludes 0. Δ is test accuracy minus "
        "the baseline's, in points, paired on the same test examples; the interval is a "
        "percentile bootstrap over test examples and seeds. McNemar p: exact two-sided test "
        "against the baseline, single-seed configurations only. Energy ratio: the teacher's "
        "inference energy over the model's, metered in the same trial in alternating windows "
        "(the energy counterpart of the speedup). Payback: training emissions / emissions "
        "saved per prediction against the teacher metered in the same trial (never: it saves "
        "nothing).",
    ]
    lines += _energy_notes(configs if table is None else table)
    return "\n".join(lines) + "\n"


def _energy_notes(table: pd.DataFrame) -> list[str]:
    """The energy method(s) the rows report, and a warning when a trial shared its machine."""
    notes: list[str] = []
    if M.ENERGY_METHOD in table.columns:
        methods = [str(m).strip() for m in table[M.ENERGY_METHOD].dropna()]
        methods = list(dict.fromkeys(m for m in methods if m and m.lower() != "nan"))
        if methods:
            notes += ["", "Energy method: " + " | ".join(methods) + "."]
    if M.MACHINE_SHARED in table.columns:
        shared = table[M.MACHINE_SHARED].map(lambda v: str(v).strip().lower() == "true")
        methods = table.get(M.ENERGY_METHOD, pd.Series("", index=table.index)).astype(str)
        # rows from before the method named its tracking mode were measured machine-wide
        whole_machine = shared & ~methods.str.contains("process tracking", regex=False)
        if shared.any():
            energy = (
                f"the energy of {int(whole_machine.sum())} of them (machine tracking) includes "
                "the others' power; "
                if whole_machine.any()
                else ""
            )
            notes += [
                "",
                f"**Warning:** {int(shared.sum())} of {len(table)} trial(s) ran while other "
                f"trials shared the machine (machine_shared): {energy}their timings may be "
                "slowed.",
            ]
    return notes


def _with_payback(table: pd.DataFrame) -> pd.DataFrame:
    """``payback_predictions`` against this table's baseline: a table joined from two runs (a
    search and its confirmation) may have its baseline in the other run's rows."""
    if table.empty:
        return table
    return table.assign(**{M.PAYBACK_PREDICTIONS: payback_column(table)})


def summary_markdown(
    table: pd.DataFrame, *, title: str = "Study summary", configs: pd.DataFrame | None = None
) -> str:
    """A readable table: the paper's Table I columns, then ours, then the paper's numbers; then
    the configurations over their seeds (``configs``, computed with :func:`config_table` when
    not given).

    Emissions are the CodeCarbon estimate for inference over the test split, as in the paper.
    """
    table = _with_payback(table)
    columns = [c for c in _MARKDOWN_COLUMNS if c[1] in table.columns]
    if "paper_speedup" in table.columns:
        columns += [c for c in _PAPER_MARKDOWN if c[1] in table.columns]
    header = ["trial", "status", *(c[0] for c in columns), "payback (predictions)", "config"]
    lines = [
        f"# {title}",
        "",
        _row_line(header),
        "|" + "|".join(["---", "---", *["---:"] * (len(columns) + 1), "---"]) + "|",
    ]
    for _, row in table.iterrows():
        cells = [str(row["name"]), str(row["status"])]
        cells += [_fmt(row.get(col), spec, scale) for _, col, spec, scale in columns]
        cells.append(_payback_text(row.get(M.PAYBACK_PREDICTIONS)))
        cells.append(_config_text(row))
        lines.append(_row_line(cells))
    failed = table[table["status"] == FAILED] if "status" in table.columns else table.iloc[:0]
    for _, row in failed.iterrows():
        lines.append("")
        lines.append(f"- {row['name']} failed: {row.get('error', '')}")
    text = "\n".join(lines) + "\n"
    configs = config_table(table) if configs is None else configs
    if not configs.empty:
        text += "\n" + configs_markdown(configs, table)
    return text


def front_models(table: pd.DataFrame) -> pd.DataFrame:
    """The finished trials with a saved model on the validation Pareto front (the study's
    objectives, minus any no trial measured, e.g. emissions with energy off): name, seed,
    validation and test accuracy, speedup, ``model_dir``. Empty when there is none."""
    from analysis.front import pareto_front

    columns = ["name", M.SEED, M.VAL_ACCURACY, M.ACCURACY, M.SPEEDUP, "model_dir"]
    if "model_dir" not in table.columns:
        return pd.DataFrame(columns=columns)
    with_models = table[table["model_dir"].fillna("").astype(str) != ""]
    objectives = {
        name: direction
        for name, direction in M.OBJECTIVES.items()
        if name in with_models.columns
        and pd.to_numeric(with_models[name], errors="coerce").notna().any()
    }
    if with_models.empty or len(objectives) < 2:
        return pd.DataFrame(columns=columns)
    front = pareto_front(with_models, objectives)
    return front[[c for c in columns if c in front.columns]].reset_index(drop=True)


def _front_markdown(front: pd.DataFrame) -> str:
    lines = [
        "## Models on the validation front",
        "",
        "Chosen on validation accuracy, speedup and emissions; test accuracy reported. Each "
        "folder loads with `AutoModelForSequenceClassification.from_pretrained` after "
        "`import trainables`, or `python -m trainables.commands.predict FOLDER --text ...`.",
        "",
        "| trial | seed | val accuracy % | test accuracy % | speedup × | folder |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for _, row in front.iterrows():
        lines.append(
            _row_line(
                [
                    str(row["name"]),
                    _fmt(row.get(M.SEED), ".0f"),
                    _fmt(row.get(M.VAL_ACCURACY), ".2f", 100),
                    _fmt(row.get(M.ACCURACY), ".2f", 100),
                    _fmt(row.get(M.SPEEDUP), ".2f"),
                    f"`{row['model_dir']}`",
                ]
            )
        )
    return "\n".join(lines) + "\n"


def write_summary(
    table: pd.DataFrame, directory: str | Path, *, title: str = "Study summary"
) -> dict[str, Path]:
    """Write ``summary.csv``, ``configs.csv`` (:func:`config_table`) and ``summary.md`` into
    ``directory``; return their paths under ``csv``, ``configs`` and ``md``."""
    table = _with_payback(table)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv, md = directory / "summary.csv", directory / "summary.md"
    configs_csv = directory / "configs.csv"
    table.to_csv(csv, index=False)
    configs = config_table(table)
    configs.to_csv(configs_csv, index=False)
    text = summary_markdown(table, title=title, configs=configs)
    front = front_models(table)
    if not front.empty:
        text += "\n" + _front_markdown(front)
    md.write_text(text, encoding="utf-8")
    return {"csv": csv, "configs": configs_csv, "md": md}


def count_by_status(records: Sequence[TrialRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts
