"""``summary.md``: the per-trial table, the configurations over their seeds, where the trials'
time went, the front's models.

Numbers are formatted for reading (accuracy in percent, emissions in mg); the tables themselves
come from :func:`study.summary_table` and :func:`analysis.config_table`.

>>> print(trials_markdown(pd.DataFrame({"name": ["baseline"], "status": ["TERMINATED"],
...                                     "kind": ["baseline"], "accuracy": [0.9123]})), end="")
# Study summary
<BLANKLINE>
| trial | status | test accuracy % | payback (predictions) | config |
|---|---|---:|---:|---|
| baseline | TERMINATED | 91.23 |  | teacher |
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from analysis.labels import depth_label, energy_estimated, levers
from analysis.replicates import SEARCH_PREFIX
from analysis.rows import GSD_SUFFIX, SD_SUFFIX
from study.records import FAILED, FINISHED, WALL_SECONDS
from trainables import metrics as M


def _fmt(value: Any, spec: str, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, str) and not value):
        return ""
    try:
        number = float(value) * scale
    except (TypeError, ValueError):
        return str(value)
    return "" if math.isnan(number) else format(number, spec)


def _config_text(row: Mapping[str, Any]) -> str:
    """The trial's searched settings in a few characters:
    ``drop 50% layers (middle) d=0.75 KD T=2 α=0.9 heads int8``.

    >>> _config_text({"kind": "prune", "target_density": 0.75, "drop_layer_share": 0.5,
    ...               "layer_selection": "middle", "quantize": "int8"})
    'drop 50% layers (middle) d=0.75 int8'
    """
    if row.get("kind") == M.KIND_BASELINE:  # as it is, or int8 / trimmed ("baseline + int8")
        return " ".join(["teacher", *levers(row)])
    if row.get("kind") == M.KIND_CLASSICAL:  # trains none of the BERT settings
        return "char 2-5-gram TF-IDF, C on validation"
    parts = [depth_label(row)] if depth_label(row) else []
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
    ("forward-only ×", M.SPEEDUP_FORWARD, ".2f", 1.0),
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
# Marks a difference to the baseline whose Holm-adjusted p-value (p_holm) is below ALPHA.
SIGNIFICANT = "*"
ALPHA = 0.05


def _row_line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _mean_sd(row: Mapping[str, Any], metric: str, spec: str, scale: float = 1.0) -> str:
    """``91.20 ± 0.45``; a ratio's geometric mean and sd ``2.00 ×/÷ 1.05``; the mean alone for
    one seed."""
    mean = _fmt(row.get(f"{metric}_mean"), spec, scale)
    gsd = _fmt(row.get(metric + GSD_SUFFIX), ".2f")
    if gsd:
        return f"{mean} ×/÷ {gsd}" if mean else mean
    sd = _fmt(row.get(metric + SD_SUFFIX), spec, scale)
    return f"{mean} ± {sd}" if mean and sd else mean


def _search_text(row: Mapping[str, Any]) -> str:
    """The search run that selected a confirmed configuration: ``90.00 / 4.00×``."""
    val = _fmt(row.get(SEARCH_PREFIX + M.VAL_ACCURACY), ".2f", 100.0)
    speed = _fmt(row.get(SEARCH_PREFIX + M.SPEEDUP), ".2f")
    return f"{val} / {speed}×" if val and speed else val


def _delta_text(row: Mapping[str, Any]) -> str:
    """``+1.20 [+0.40, +2.05]*`` in accuracy points; the baseline reads ``0 (reference)``."""
    mean = _fmt(row.get("delta_accuracy_mean"), "+.2f", 100.0)
    if not mean:
        return ""
    low = _fmt(row.get("delta_accuracy_ci_low"), "+.2f", 100.0)
    high = _fmt(row.get("delta_accuracy_ci_high"), "+.2f", 100.0)
    if not (low and high):
        return "0 (reference)" if row.get("kind") == M.KIND_BASELINE else mean
    return f"{mean} [{low}, {high}]{SIGNIFICANT if _significant(row) else ''}"


def _significant(row: Mapping[str, Any]) -> bool:
    try:
        return float(row.get("p_holm", math.nan)) < ALPHA
    except (TypeError, ValueError):
        return False


def _unit_text(configs: pd.DataFrame) -> str:
    """What the intervals and tests resample and count, from the table's ``test_texts`` and
    ``test_rows``: ``4 distinct test texts (5 rows)``, or rows when the files name no texts."""
    texts = pd.to_numeric(configs.get("test_texts", pd.Series(dtype=float)), errors="coerce")
    rows = pd.to_numeric(configs.get("test_rows", pd.Series(dtype=float)), errors="coerce")
    grouped = [(int(t), int(r)) for t, r in zip(texts, rows, strict=True) if t == t and r == r]
    if grouped:
        units = dict.fromkeys(f"{t:,} distinct test texts ({r:,} rows)" for t, r in grouped)
        return " / ".join(units)
    counted = dict.fromkeys(f"{int(r):,} test rows" for r in rows.dropna())
    if not counted:
        return "test texts"
    return (
        " / ".join(counted) + " (the prediction files name no texts: copies of a text count "
        "apart, which makes intervals too narrow)"
    )


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


SPEED_HEADERS = {
    M.SPEEDUP_FORWARD: "forward-only speedup × (geometric mean)",
    M.SPEEDUP_IDEAL: "FLOP-ideal × (timed widths)",
}


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
        "p (Holm)",
        "val accuracy % (mean ± sd)",
        "speedup × (geometric mean ×/÷ sd)",
        _estimated("emissions / 1,000 predictions (mg CO₂eq)", configs if table is None else table),
        "energy ratio × (teacher / model, same trial; geometric mean)",
        "payback (predictions)",
        "settings",
    ]
    confirmed = SEARCH_PREFIX + M.VAL_ACCURACY in configs.columns
    if confirmed:  # a confirmation: the run that selected each configuration, beside it
        header.insert(-1, "selecting search run: val accuracy % / speedup ×")
    # beside the speedup from raw text: the forward passes alone, the FLOP ideal, the depth
    speeds = [m for m in (M.SPEEDUP_FORWARD, M.SPEEDUP_IDEAL) if f"{m}_mean" in configs]
    encoders = configs.get("kind", pd.Series("", index=configs.index)) != M.KIND_CLASSICAL
    depth = f"{M.LAYERS}_mean" in configs and configs[f"{M.LAYERS}_mean"][encoders].nunique() > 1
    at = header.index("speedup × (geometric mean ×/÷ sd)") + 1
    header[at:at] = [SPEED_HEADERS[m] for m in speeds] + (["layers"] if depth else [])
    lines = [
        CONFIGS_HEADING,
        "",
        _row_line(header),
        "|" + "|".join(["---", *["---:"] * (len(header) - 2), "---"]) + "|",
    ]
    for _, config in configs.iterrows():
        row = config.to_dict()
        search = [_search_text(row)] if confirmed else []
        lines.append(
            _row_line(
                [
                    str(row["configuration"]),
                    str(row["n_seeds"]),
                    _mean_sd(row, M.ACCURACY, ".2f", 100.0),
                    _delta_text(row),
                    _fmt(row.get("mcnemar_p"), ".3g"),
                    _fmt(row.get("p_holm"), ".3g"),
                    _mean_sd(row, M.VAL_ACCURACY, ".2f", 100.0),
                    _mean_sd(row, M.SPEEDUP, ".2f"),
                    *[_fmt(row.get(f"{m}_mean"), ".2f") for m in speeds],
                    *([_layers_text(row)] if depth else []),
                    _fmt(row.get(f"{M.EMISSIONS_KG_PER_1K}_mean"), ".3g", 1e6),
                    _fmt(row.get(f"{M.ENERGY_RATIO}_mean"), ".2f"),
                    _payback_text(row.get(f"{M.PAYBACK_PREDICTIONS}_mean")),
                    *search,
                    _config_text(row),
                ]
            )
        )
    p_values = configs.get("p_value", pd.Series(dtype=float))
    family = int(pd.to_numeric(p_values, errors="coerce").notna().sum())
    lines += [
        "",
        f"\\{SIGNIFICANT} the difference to the baseline is significant after Holm's "
        f"adjustment over the {family} configuration(s) compared with it (family size "
        f"{family}): adjusted p < {ALPHA:g}. Each p is the exact McNemar test on distinct test "
        "texts for a single seed against a single baseline, otherwise the bootstrap's two-sided "
        "p from the same draws as the interval (configs.csv: p_value, p_holm; ci_excludes_zero "
        "is the unadjusted interval).",
        "",
        f"Δ is test accuracy minus the baseline's, in points, paired on the same test examples; "
        f"95% bootstrap over {_unit_text(configs)} and seeds (all copies of a text resampled "
        "together). McNemar p: exact two-sided test against the baseline, each text once (texts "
        "whose copies carry conflicting labels left out), single-seed configurations only. "
        "Speedup: from raw text to label (tokenising included), timed interleaved with the "
        "teacher; forward-only: the same calls less their tokenising. "
        "Energy ratio: the teacher's inference energy over the model's, metered in the same "
        "trial in alternating windows (the energy counterpart of the speedup). Speedups and "
        "energy ratios are ratios: their mean over seeds is geometric, ×/÷ the geometric sd. "
        "Payback: mean training emissions / mean emissions saved per prediction against the "
        "teacher metered in the same trial (never: the mean saving is ≤ 0).",
    ]
    if confirmed:
        lines += [
            "",
            "Confirmation: each configuration's numbers come from its confirmation seeds only; "
            "the search run that selected it (chosen partly on its own noise) is shown beside "
            "them, not averaged in.",
        ]
    lines += _energy_notes(configs if table is None else table)
    return "\n".join(lines) + "\n"


def _layers_text(row: dict) -> str:
    """The encoder layers a configuration kept; none for the classical reference."""
    return "" if row.get("kind") == M.KIND_CLASSICAL else _fmt(row.get(f"{M.LAYERS}_mean"), ".0f")


def _estimated(header: str, table: pd.DataFrame) -> str:
    """An emissions or energy header, marked when the readings are estimates from time."""
    if energy_estimated(table) and header.startswith(("emissions", "energy (")):
        return header.replace(" (", ", estimated from time (", 1)
    return header


def _energy_notes(table: pd.DataFrame) -> list[str]:
    """The energy method(s) the rows report, what an estimate means, and a warning when a trial
    shared its machine."""
    notes: list[str] = []
    if M.ENERGY_METHOD in table.columns:
        methods = [str(m).strip() for m in table[M.ENERGY_METHOD].dropna()]
        methods = list(dict.fromkeys(m for m in methods if m and m.lower() != "nan"))
        if methods:
            notes += ["", "Energy method: " + " | ".join(methods) + "."]
    if energy_estimated(table):
        notes += [
            "",
            "Emissions and energy are estimated from time: CodeCarbon read no power counter "
            "(RAPL, NVML), so its power is a TDP x load model plus RAM by size, and energy = "
            "power x time follows 1 / speedup. A search here does not optimise them unless "
            "--objectives asks.",
        ]
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


def trials_markdown(table: pd.DataFrame, *, title: str = "Study summary") -> str:
    """The per-trial table of ``summary.md`` under ``# title``: the paper's Table I columns, then
    ours, then the paper's numbers; a line for each failed trial's error.

    Emissions are the CodeCarbon estimate for inference over the test split, as in the paper.
    """
    columns = [c for c in _MARKDOWN_COLUMNS if c[1] in table.columns]
    if "paper_speedup" in table.columns:
        columns += [c for c in _PAPER_MARKDOWN if c[1] in table.columns]
    header = ["trial", "status", *(_estimated(c[0], table) for c in columns)]
    header += ["payback (predictions)", "config"]
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
    return "\n".join(lines) + "\n"


# The phases of a trial (trainables.metrics.PHASES, then the rest) as a reader says them.
PHASE_WORDS: dict[str, str] = {
    M.PHASE_DATA: "data loading",
    M.PHASE_TEACHER: "teacher loading",
    M.PHASE_TOKENISE: "tokenising",
    M.PHASE_TEACHER_LOGITS: "teacher logits",
    M.PHASE_TRAIN: "training",
    M.PHASE_COMPACT: "compaction (masks, vocabulary, int8)",
    M.PHASE_EVAL: "evaluation",
    M.PHASE_TIMING: "timing",
    M.PHASE_ENERGY: "energy",
    M.PHASE_SAVE: "saving",
    M.PHASE_OTHER: "other",
}
# What measuring a model costs, besides training it.
MEASURING_PHASES = (M.PHASE_EVAL, M.PHASE_TIMING, M.PHASE_ENERGY)


def phases_markdown(table: pd.DataFrame) -> str:
    """Where the finished trials' wall time went: each phase's total over them, in minutes and
    as a share of their ``trial_seconds``. Empty when no finished trial reported its phases.

    >>> row = {"status": FINISHED, M.TRIAL_SECONDS: 600.0, M.PHASE_TRAIN: 450.0,
    ...        M.PHASE_TIMING: 90.0, M.PHASE_OTHER: 60.0}
    >>> print(phases_markdown(pd.DataFrame([row])), end="")
    ## Where the time went
    <BLANKLINE>
    1 finished trial(s), 10.0 trial-minutes (a resumed trial's last run only).
    Measuring (evaluation, timing, energy): 15.0% of them.
    <BLANKLINE>
    | phase | minutes | share % |
    |---|---:|---:|
    | training | 7.5 | 75.0 |
    | timing | 1.5 | 15.0 |
    | other | 1.0 | 10.0 |
    | total | 10.0 | 100.0 |
    """
    if M.TRIAL_SECONDS not in table.columns or "status" not in table.columns:
        return ""
    finished = table[(table["status"] == FINISHED) & table[M.TRIAL_SECONDS].notna()]
    total = float(finished[M.TRIAL_SECONDS].sum()) if len(finished) else 0.0
    if total <= 0:
        return ""
    seconds = {
        name: float(pd.to_numeric(finished[name], errors="coerce").sum())
        for name in PHASE_WORDS
        if name in finished.columns
    }
    measuring = sum(seconds.get(name, 0.0) for name in MEASURING_PHASES) / total
    lines = [
        "## Where the time went",
        "",
        f"{len(finished)} finished trial(s), {total / 60:.1f} trial-minutes (a resumed trial's "
        "last run only).",
        f"Measuring (evaluation, timing, energy): {100 * measuring:.1f}% of them.",
        "",
        "| phase | minutes | share % |",
        "|---|---:|---:|",
    ]
    for name, spent in seconds.items():
        if spent > 0:
            lines.append(f"| {PHASE_WORDS[name]} | {spent / 60:.1f} | {100 * spent / total:.1f} |")
    lines.append(f"| total | {total / 60:.1f} | 100.0 |")
    return "\n".join(lines) + "\n"


def front_markdown(front: pd.DataFrame, objectives: Mapping[str, str] | None = None) -> str:
    """The models on the validation front (rows of :func:`study.summary.front_models`), chosen
    on ``objectives`` (default: validation accuracy, speedup, emissions)."""
    words = {M.VAL_ACCURACY: "validation accuracy", M.EMISSIONS_KG: "emissions"}
    names = [words.get(name, name) for name in (objectives or M.OBJECTIVES)]
    chosen = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    lines = [
        "## Models on the validation front",
        "",
        f"Chosen on {chosen}; test accuracy reported. Each "
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
