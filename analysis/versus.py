"""``python -m analysis.versus GRID SEARCH``: a search against a grid at equal budget.

GRID and SEARCH are study folders (``results/NAME``) run on the same teacher and splits: GRID a
``--grid`` study, SEARCH a ``--search optuna`` study of as many trials, best confirmed
(``--confirm --name SEARCH --seeds N``; its configurations then come from
``SEARCH/confirm/summary.csv``, summarised over the confirmation seeds only). For each side:

- the front, chosen on validation among its configurations (means over seeds), reported on test;
- its hypervolume over the test-reported objectives (test accuracy for validation accuracy),
  both against one reference point: the worst value of each objective over the two fronts, a
  tenth of its range beyond (``--reference`` to give one, e.g. the accuracy a user can lose),
  so each front is measured on the same ruler;
- for every compression configuration of the grid, whether a search configuration dominates it
  within the intervals: at least as fast (geometric mean speedup) and as good in any other
  objective, with the grid configuration's mean accuracy change against the teacher no higher
  than the top of the search configuration's 95% interval (over distinct test texts and seeds).

It prints a Markdown report and writes ``versus.md``, ``versus.csv`` (every configuration of both
sides, its front membership and, for the grid's, what dominates it) and ``versus.png`` (both
fronts, test accuracy against speedup on a log axis) into ``--out`` (default: SEARCH).

    python -m analysis.versus results/grid-lpc results/search-lpc
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import PairingWarning
from analysis.front import hypervolume, pareto_front, per_configuration
from analysis.readers import read_summary
from analysis.rows import (
    MAJORITY_REASON,
    PHASE,
    PHASE_SEARCH,
    baseline_rows,
    finished_rows,
    majority_mask,
)
from trainables import metrics as M

SIDE, ON_FRONT, DOMINATED_BY = "side", "on_front", "dominated_by"
# Why a configuration is off every front and dominates nothing, whatever its speed ("" if not):
# no better on validation than always answering the most common label.
LEFT_OFF = "left_off"
DELTA, DELTA_HIGH = "delta_accuracy_mean", "delta_accuracy_ci_high"
# The objective a front is chosen on, and the one it is reported with.
REPORTED = {M.VAL_ACCURACY: M.ACCURACY, M.VAL_MACRO_F1: M.MACRO_F1}


def summaries(grid_dir: Path, search_dir: Path) -> dict[str, pd.DataFrame | None]:
    """Each side's ``summary.csv``, read once: ``grid``, ``search`` and ``confirmation`` (the
    search's ``confirm/summary.csv``; None when it was not confirmed)."""
    paths = {
        "grid": grid_dir / "summary.csv",
        "search": search_dir / "summary.csv",
        "confirmation": search_dir / "confirm" / "summary.csv",
    }
    for side in ("grid", "search"):
        if not paths[side].exists():
            raise ValueError(
                f"{paths[side].parent} has no summary.csv: give the folder of a finished study"
            )
    return {side: read_summary(p) if p.exists() else None for side, p in paths.items()}


def finished(table: pd.DataFrame, side: str) -> pd.DataFrame:
    """The finished trials of one side's summary (:func:`summaries`) without the classical
    reference."""
    table = finished_rows(table)
    if "kind" in table:
        table = table[table["kind"].fillna(M.KIND_PRUNE) != M.KIND_CLASSICAL]
    if table.empty:
        raise ValueError(f"the {side} summary has no finished trial")
    return table.reset_index(drop=True)


def with_baseline(rows: pd.DataFrame, lender: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """``rows`` with a baseline to pair against: their own, else ``lender``'s (a search runs
    none until it is confirmed; the grid's teacher, on the same test texts, is the same
    reference), and whether it was borrowed. Refused when the two name different teachers.

    >>> search = pd.DataFrame({"kind": ["prune"], "teacher": ["t"], "accuracy": [0.8]})
    >>> grid = pd.DataFrame({"kind": ["baseline", "prune"], "teacher": ["t", "t"]})
    >>> rows, borrowed = with_baseline(search, grid)
    >>> rows["kind"].tolist(), borrowed
    (['baseline', 'prune'], True)
    >>> with_baseline(search, grid.assign(teacher="u"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the search ran no baseline and the grid's teacher is another (['u'], not ['t']): ...
    """
    if not baseline_rows(rows).empty:
        return rows, False
    lent = baseline_rows(lender)
    if lent.empty:
        return rows, False
    if "teacher" in rows and "teacher" in lent:
        theirs, mine = (
            sorted(set(lent["teacher"].astype(str))),
            sorted(set(rows["teacher"].astype(str))),
        )
        if theirs != mine:
            raise ValueError(
                f"the search ran no baseline and the grid's teacher is another ({theirs}, not "
                f"{mine}): compare studies of one teacher, or confirm the search (--confirm) "
                "first"
            )
    return pd.concat([lent, rows], ignore_index=True), True


def summarised(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration, means over seeds, with the paired intervals."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PairingWarning)
        return per_configuration(rows, always=True)


def budget(table: pd.DataFrame | None) -> tuple[int, float]:
    """What the compression trials of a summary cost: how many ran, and the sum of their
    ``trial_seconds`` in minutes (NaN where the summary has no such column); ``(0, NaN)``
    without a summary (a search not confirmed). Of a confirmation's summary, only its own
    trials count, not the search rows it shows beside them.

    >>> budget(pd.DataFrame({"kind": ["baseline", "prune", "prune"],
    ...                      "trial_seconds": [60.0, 120.0, 240.0]}))
    (2, 6.0)
    """
    if table is None:
        return 0, math.nan
    if PHASE in table:
        table = table[table[PHASE] != PHASE_SEARCH]
    kind = table["kind"].fillna(M.KIND_PRUNE) if "kind" in table else M.KIND_PRUNE
    rows = table[kind == M.KIND_PRUNE]
    if M.TRIAL_SECONDS not in rows:
        return len(rows), math.nan
    return len(rows), float(pd.to_numeric(rows[M.TRIAL_SECONDS], errors="coerce").sum()) / 60.0


def objectives_of(folder: Path) -> dict[str, str]:
    """What the study chose its front on (its ``study.json``), else validation accuracy and
    speedup."""
    plan = folder / "study.json"
    if plan.exists():
        saved = json.loads(plan.read_text()).get("objectives")
        if saved:
            return dict(saved)
    return {M.VAL_ACCURACY: "max", M.SPEEDUP: "max"}


def reported(objectives: dict[str, str]) -> dict[str, str]:
    """The objectives as reported on test: validation accuracy (F1) becomes test accuracy (F1).

    >>> reported({"val_accuracy": "max", "speedup": "max"})
    {'accuracy': 'max', 'speedup': 'max'}
    """
    return {REPORTED.get(name, name): mode for name, mode in objectives.items()}


# How far beyond the worst value of the two fronts the default reference point lies, as a share
# of each objective's range over them: at the worst value itself a front's extreme points (its
# fastest, its most accurate) add no volume (Ishibuchi et al. 2018 on choosing the point).
NADIR_MARGIN = 0.1


def nadir(fronts: Sequence[pd.DataFrame], objectives: dict[str, str]) -> dict[str, float]:
    """A reference point both fronts are measured against: the worst value of each objective
    over the fronts' rows, moved outward by :data:`NADIR_MARGIN` of its range over them.

    >>> a = pd.DataFrame({"accuracy": [0.9, 0.8], "speedup": [1.0, 3.0]})
    >>> nadir([a, a.assign(accuracy=[0.85, 0.7])], {"accuracy": "max", "speedup": "max"})
    {'accuracy': 0.68, 'speedup': 0.8}
    """
    union = pd.concat([front[list(objectives)] for front in fronts], ignore_index=True)
    point = {}
    for name, mode in objectives.items():
        values = pd.to_numeric(union[name], errors="coerce")
        worst, best = (
            (values.min(), values.max()) if mode == "max" else (values.max(), values.min())
        )
        point[name] = round(float(worst - NADIR_MARGIN * (best - worst)), 12)
    return point


def dominates(search: pd.Series, grid: pd.Series, objectives: dict[str, str]) -> bool:
    """Whether the ``search`` configuration dominates the ``grid`` one within the intervals:
    at least as good in every objective but accuracy (by its mean), and the grid's mean
    accuracy change no higher than the top of the search's 95% interval.

    >>> s = pd.Series({"speedup": 3.0, "delta_accuracy_mean": -0.004,
    ...                "delta_accuracy_ci_high": 0.002})
    >>> g = pd.Series({"speedup": 2.5, "delta_accuracy_mean": 0.001})
    >>> dominates(s, g, {"val_accuracy": "max", "speedup": "max"})
    True
    >>> dominates(s, pd.Series({"speedup": 3.5, "delta_accuracy_mean": 0.001}),
    ...           {"val_accuracy": "max", "speedup": "max"})  # the grid's is faster
    False
    """
    for name, mode in objectives.items():
        if name in REPORTED:
            continue
        mine, theirs = float(search[name]), float(grid[name])
        if not (mine >= theirs if mode == "max" else mine <= theirs):
            return False
    high, delta = float(search.get(DELTA_HIGH, math.nan)), float(grid.get(DELTA, math.nan))
    return not math.isnan(high) and not math.isnan(delta) and delta <= high


def compare(grid_dir: Path, search_dir: Path, reference: dict[str, float] | None = None) -> dict:
    """Everything the report says: both sides' configurations, fronts, hypervolumes and the
    grid configurations' dominance."""
    objectives = objectives_of(search_dir)
    tables = summaries(grid_dir, search_dir)
    confirmed = tables["confirmation"] is not None
    grid_rows = finished(tables["grid"], "grid")
    side = "confirmation" if confirmed else "search"
    search_rows = finished(tables[side], side)
    search_rows, borrowed = with_baseline(search_rows, grid_rows)
    grid, search = summarised(grid_rows), summarised(search_rows)
    tested = reported(objectives)
    for name, table in (("grid", grid), ("search", search)):
        missing = [n for n in {**objectives, **tested} if n not in table.columns]
        if missing:
            raise ValueError(f"the {name} study has no {', '.join(missing)} column")
    fronts = {
        "grid": pareto_front(grid, objectives),
        "search": pareto_front(search, objectives),
    }
    reference = reference or nadir(list(fronts.values()), tested)
    volumes = {side: hypervolume(front, tested, reference) for side, front in fronts.items()}
    rows = []
    for side, table in (("grid", grid), ("search", search)):
        table = table.assign(**{SIDE: side, ON_FRONT: table.index.isin(fronts[side].index)})
        rows.append(table)
    both = pd.concat(rows, ignore_index=True)
    both[LEFT_OFF] = np.where(majority_mask(both), MAJORITY_REASON, "")
    kind = search["kind"].fillna(M.KIND_PRUNE)
    candidates = search[(kind == M.KIND_PRUNE).to_numpy() & ~majority_mask(search)]
    dominated: list[str] = []
    for _, row in both.iterrows():
        if row[SIDE] != "grid" or row.get("kind", M.KIND_PRUNE) != M.KIND_PRUNE:
            dominated.append("")
            continue
        winners = [s for _, s in candidates.iterrows() if dominates(s, row, objectives)]
        best = max(winners, key=lambda s: float(s[M.ACCURACY]), default=None)
        dominated.append("" if best is None else str(best.get("configuration", "?")))
    both[DOMINATED_BY] = dominated
    grid_rows = both[(both[SIDE] == "grid") & (both["kind"].fillna(M.KIND_PRUNE) == M.KIND_PRUNE)]
    budgets = {side: budget(table) for side, table in tables.items()}
    return {
        "objectives": objectives,
        "reported": tested,
        "reference": reference,
        "hypervolume": volumes,
        "trials": {side: budgets[side][0] for side in ("grid", "search")},
        "minutes": {side: minutes for side, (_, minutes) in budgets.items()},
        "confirmed": confirmed,
        "borrowed_baseline": borrowed,
        "table": both,
        "all_dominated": bool(len(grid_rows)) and bool((grid_rows[DOMINATED_BY] != "").all()),
    }


def markdown(result: dict) -> str:
    """The report: budgets, hypervolumes, the reference point and the grid's dominance."""
    tested, table = result["reported"], result["table"]
    lines = [
        "# Search vs grid at equal budget",
        "",
        f"- Trials (compression): grid {result['trials']['grid']}, search "
        f"{result['trials']['search']}"
        + ("" if len(set(result["trials"].values())) == 1 else " (NOT equal budgets)"),
        "- Compression trial-minutes (sum of `trial_seconds`): "
        + ", ".join(f"{side} {_minutes(value)}" for side, value in result["minutes"].items()),
        f"- Fronts chosen on {', '.join(result['objectives'])}; reported on "
        f"{', '.join(tested)}. Search configurations: "
        + ("its confirmation's seeds only" if result["confirmed"] else "NOT confirmed")
        + (
            " (it ran no baseline: its accuracy changes pair it with the grid's)"
            if result["borrowed_baseline"]
            else ""
        ),
        "- Reference point: " + ", ".join(f"{k} {v:.4g}" for k, v in result["reference"].items()),
        "- Hypervolume: "
        + ", ".join(f"{side} {volume:.4g}" for side, volume in result["hypervolume"].items()),
        "- Every grid compression configuration dominated within intervals by a search "
        f"configuration: {'yes' if result['all_dominated'] else 'no'}",
        f"- Left off both fronts, dominating nothing ({MAJORITY_REASON}, `{LEFT_OFF}`): "
        + ", ".join(f"{side} {n}" for side, n in _left_off(table).items()),
        "",
    ]
    columns = ["configuration", *tested, DELTA, DELTA_HIGH, ON_FRONT, DOMINATED_BY, LEFT_OFF]
    for side in ("grid", "search"):
        rows = table[table[SIDE] == side]
        shown = [c for c in columns if c in rows.columns]
        lines += [f"## {side}", "", _table(rows[shown]), ""]
    return "\n".join(lines)


def _left_off(table: pd.DataFrame) -> dict[str, int]:
    """How many configurations of each side are left off (:data:`LEFT_OFF`)."""
    return {
        side: int((table[table[SIDE] == side][LEFT_OFF] != "").sum()) for side in ("grid", "search")
    }


def _minutes(value: float) -> str:
    """
    >>> _minutes(12.345), _minutes(math.nan)
    ('12.3', 'unknown')
    """
    return "unknown" if math.isnan(value) else f"{value:.1f}"


def _table(rows: pd.DataFrame) -> str:
    """A Markdown table of ``rows``, numbers to four significant digits.

    >>> print(_table(pd.DataFrame({"a": ["x|y"], "b": [0.123456]})))
    | a | b |
    |---|---|
    | x\\|y | 0.1235 |
    """

    def cell(value: object) -> str:
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(rows.columns) + " |", "|" + "---|" * len(rows.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in rows.itertuples(index=False)
    ]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> Path:
    """Both fronts: test accuracy against speedup (log axis), every configuration faint but the
    ones left off (:data:`LEFT_OFF`: collapsed models would stretch the accuracy axis down to a
    region no user wants; the title counts them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for side, colour in (("grid", "tab:blue"), ("search", "tab:orange")):
        rows = result["table"][result["table"][SIDE] == side]
        rows = rows[rows[LEFT_OFF] == ""]
        front = rows[rows[ON_FRONT]].sort_values(M.SPEEDUP)
        axes.scatter(rows[M.SPEEDUP], rows[M.ACCURACY], color=colour, alpha=0.25, s=18)
        label = f"{side} front (hypervolume {result['hypervolume'][side]:.3g})"
        axes.plot(front[M.SPEEDUP], front[M.ACCURACY], "o-", color=colour, label=label)
    axes.set_xscale("log")
    axes.set_xlabel("speedup over the teacher (log scale)")
    axes.set_ylabel("test accuracy")
    left_off = sum(_left_off(result["table"]).values())
    if left_off:
        axes.set_title(f"not drawn: {left_off} configuration(s) {MAJORITY_REASON}", fontsize=9)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.versus", description=__doc__)
    parser.add_argument("grid", type=Path, help="the grid study's folder (results/NAME)")
    parser.add_argument("search", type=Path, help="the search study's folder (results/NAME)")
    parser.add_argument("--out", type=Path, help="where the report goes (default: SEARCH)")
    parser.add_argument(
        "--reference",
        metavar="NAME=VALUE,...",
        help="the hypervolume reference point on the reported objectives, e.g. "
        "accuracy=0.8,speedup=1 (default: the worst value over both fronts, a tenth of the range "
        "beyond)",
    )
    args = parser.parse_args(argv)
    try:
        reference = None
        if args.reference:
            pairs = (item.split("=", 1) for item in args.reference.split(",") if item)
            reference = {name.strip(): float(value) for name, value in pairs}
        result = compare(args.grid, args.search, reference)
    except (ValueError, KeyError) as error:
        print(f"analysis.versus: {error}", file=sys.stderr)
        return 2
    out = args.out or args.search
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(result)
    (out / "versus.md").write_text(text + "\n", encoding="utf-8")
    result["table"].to_csv(out / "versus.csv", index=False)
    plot(result, out / "versus.png")
    print(text)
    print(f"wrote {out / 'versus.md'}, versus.csv, versus.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
