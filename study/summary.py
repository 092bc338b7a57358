"""The study's summary: one row per trial, written as ``summary.csv`` and ``summary.md``.

Columns are the trainable's metric names (``trainables.metrics``), then ``name``, ``status``,
``trial_id``, ``wall_seconds``, ``error`` and the trial's config keys (the data spec flattened as
``data/<key>``). ``target_density`` is the parameter a trial was given, ``density`` the kept
fraction its compact model has. Where the study compares like with like (MahaNews data) the
paper's Table I numbers stand next to ours as ``paper_*`` columns (accuracy as a fraction, like
ours). ``payback_predictions`` is computed here, against the finished baseline row(s).
Replicates (``--seeds``, ``--confirm``) are summarised per configuration in ``configs.csv``
(:func:`analysis.config_table`) and in a second table of ``summary.md``; a confirmation's table
(:func:`confirmation_table`) keeps the search's rows apart from the confirmation's, so that a
configuration's numbers are its fresh seeds' and the selecting run is shown beside them. No Ray
needed: records are plain data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.configurations import config_table
from analysis.front import pareto_front
from analysis.readers import flatten_config
from analysis.rows import PHASE, PHASE_CONFIRM, PHASE_SEARCH
from analysis.statistics import payback_column
from search_spaces.paper import PAPER_BASELINE, PAPER_COLUMNS, PAPER_TABLE
from study.markdown import configs_markdown, front_markdown, phases_markdown, trials_markdown
from study.records import WALL_SECONDS, TrialRecord
from trainables import metrics as M

# Metrics besides FINAL_METRICS worth a column, in table order.
EXTRA_METRICS = (
    M.VAL_MAJORITY,
    M.SPEEDUP_FORWARD,
    M.TOKENISE_SHARE,
    M.TIMED_BATCHES,
    M.TIMED_ROWS,
    M.TIMING_ROUNDS,
    M.PAYBACK_PREDICTIONS,
    M.ENERGY_METHOD,
    M.MACHINE_SHARED,
    M.PREDICTIONS_FILE,
    M.PRECISION_USED,
    M.HEADS,
    M.FFN_NEURONS,
    M.LAYERS,
    M.LAYERS_DROPPED,
    M.VOCAB_SIZE,
    M.VOCAB_COVERAGE,
    M.NODE_ID,
    M.RESUMED_FROM_EPOCH,
    M.STUDENT_REUSED,
    M.ENCODER_PARAMETERS,
    M.TEACHER_NUM_PARAMETERS,
    M.INFERENCE_SECONDS,
    M.TEACHER_INFERENCE_SECONDS,
    M.EPOCH,
    # where each trial's wall time went (its last run), and that time
    *M.PHASES,
    M.PHASE_OTHER,
    M.TRIAL_SECONDS,
)
# Text-valued metrics: empty, not NaN, when a trial did not report them.
_TEXT_METRICS = (M.ENERGY_METHOD, M.PREDICTIONS_FILE, M.PRECISION_USED, M.NODE_ID)
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


def confirmation_table(search: pd.DataFrame, confirm: pd.DataFrame) -> pd.DataFrame:
    """The search's trials (its ``summary.csv``) and their confirmation's in one table, each row
    with its ``phase`` (``search`` / ``confirm``): :func:`analysis.config_table` summarises a
    confirmed configuration over its confirmation seeds only and shows the search run that
    selected it beside them (``search_*`` columns), never pooled.

    >>> search = pd.DataFrame({"name": ["a"], "status": ["TERMINATED"]})
    >>> table = confirmation_table(search, search.assign(name="b"))
    >>> table[["name", "phase", "kind"]].values.tolist()
    [['a', 'search', 'prune'], ['b', 'confirm', 'prune']]
    """
    search = search.assign(**{PHASE: PHASE_SEARCH})
    if "kind" not in search:  # written before summaries spelt out TrialConfig's default
        search["kind"] = M.KIND_PRUNE
    table = pd.concat([search, confirm.assign(**{PHASE: PHASE_CONFIRM})], ignore_index=True)
    table["kind"] = table["kind"].fillna(M.KIND_PRUNE)
    return table


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


def _with_payback(table: pd.DataFrame) -> pd.DataFrame:
    """``payback_predictions`` against this table's baseline: a table joined from two runs (a
    search and its confirmation) may have its baseline in the other run's rows."""
    if table.empty:
        return table
    return table.assign(**{M.PAYBACK_PREDICTIONS: payback_column(table)})


def summary_markdown(
    table: pd.DataFrame, *, title: str = "Study summary", configs: pd.DataFrame | None = None
) -> str:
    """A readable table (:func:`study.markdown.trials_markdown`); then the configurations over
    their seeds (``configs``, computed with :func:`config_table` when not given); then where the
    finished trials' time went (:func:`study.markdown.phases_markdown`).

    Emissions are the CodeCarbon estimate for inference over the test split, as in the paper.
    """
    return _markdown(_with_payback(table), title, configs)


def _markdown(table: pd.DataFrame, title: str, configs: pd.DataFrame | None) -> str:
    """:func:`summary_markdown` of a table whose payback is already computed."""
    text = trials_markdown(table, title=title)
    configs = config_table(table) if configs is None else configs
    if not configs.empty:
        text += "\n" + configs_markdown(configs, table)
    phases = phases_markdown(table)
    return text + ("\n" + phases if phases else "")


def front_models(table: pd.DataFrame, objectives: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The finished trials with a saved model on the validation Pareto front (the study's
    ``objectives``, by default validation accuracy, speedup and emissions; minus any no trial
    measured, e.g. emissions with energy off): name, seed, validation and test accuracy,
    speedup, ``model_dir``. Empty when there is none."""
    columns = ["name", M.SEED, M.VAL_ACCURACY, M.ACCURACY, M.SPEEDUP, "model_dir"]
    if "model_dir" not in table.columns:
        return pd.DataFrame(columns=columns)
    with_models = table[table["model_dir"].fillna("").astype(str) != ""]
    objectives = {
        name: direction
        for name, direction in (M.OBJECTIVES if objectives is None else objectives).items()
        if name in with_models.columns
        and pd.to_numeric(with_models[name], errors="coerce").notna().any()
    }
    if with_models.empty or len(objectives) < 2:
        return pd.DataFrame(columns=columns)
    front = pareto_front(with_models, objectives)
    return front[[c for c in columns if c in front.columns]].reset_index(drop=True)


def write_summary(
    table: pd.DataFrame,
    directory: str | Path,
    *,
    title: str = "Study summary",
    objectives: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write ``summary.csv``, ``configs.csv`` (:func:`config_table`) and ``summary.md`` into
    ``directory``; return their paths under ``csv``, ``configs`` and ``md``. The front's models
    are chosen on ``objectives`` (the study's; :func:`front_models`)."""
    table = _with_payback(table)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    csv, md = directory / "summary.csv", directory / "summary.md"
    configs_csv = directory / "configs.csv"
    table.to_csv(csv, index=False)
    configs = config_table(table)
    configs.to_csv(configs_csv, index=False)
    text = _markdown(table, title, configs)
    front = front_models(table, objectives)
    if not front.empty:
        text += "\n" + front_markdown(front, objectives)
    md.write_text(text, encoding="utf-8")
    return {"csv": csv, "configs": configs_csv, "md": md}
