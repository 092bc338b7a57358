"""``python -m analysis.pareto RESULTS``: print the Pareto front, write the table and plots.

RESULTS is a summary CSV/parquet, a study directory holding ``summary.csv``, a Ray Tune
experiment directory, or an Optuna storage URL (``sqlite:///optuna.db``). The front is chosen on
validation accuracy, speedup and emissions (results without validation numbers: on test accuracy,
with a warning) and printed with its test numbers beside them. Where seeds replicate
configurations the front is chosen among configurations, on their means over seeds. The front
goes to stdout (a table, or JSON records with ``--format json``); notes (a selection on test,
excluded rows, configurations, the classical reference, the reference point, the hypervolume,
where the files went) go to stderr. Next to the results it writes ``pareto.png``,
``pareto.html`` (opens offline) and ``pareto.csv`` (every valid row with its rank).
The relative view shows the paper's Table I when the results carry the paper's numbers
(``--paper auto``), or as ``--paper yes|no`` says. Without a baseline row everything is still
computed except the hypervolume, which then needs ``--reference``. Every option's default is in
``--help``.

    python -m analysis.pareto results/paper
    python -m analysis.pareto results/paper/summary.csv --objectives val_accuracy:max,speedup:max
    python -m analysis.pareto sqlite:///results/sweep/optuna.db --study-name sweep --format json
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.front import (
    default_objectives,
    excluded_rows,
    hypervolume,
    pareto_front,
    parse_objectives,
    per_configuration,
    reference_point,
)
from analysis.labels import point_label
from analysis.plots import write_plots
from analysis.readers import find_results, read_results
from analysis.rows import (
    GSD_SUFFIX,
    N_SEEDS,
    RANK,
    REASON,
    REFERENCE_REASON,
    SD_SUFFIX,
    finished_rows,
    reference_rows,
)
from trainables.metrics import (
    ACCURACY,
    MACRO_F1,
    NUM_PARAMETERS,
    OBJECTIVES,
    PARAM_REDUCTION,
    TARGET_DENSITY,
    TEST_OF,
)

_DEFAULT_OBJECTIVES = ",".join(f"{n}:{d}" for n, d in OBJECTIVES.items())
# Printed headers of the test-split metrics: the table says which split each number is from.
_TEST_HEADERS = {ACCURACY: f"{ACCURACY} (test)", MACRO_F1: f"{MACRO_F1} (test)"}
# Shown in the printed table after the label and the objectives, when the results have them.
_TABLE_EXTRA = (
    TARGET_DENSITY,
    "distil",
    "temperature",
    "alpha_distil",
    NUM_PARAMETERS,
    PARAM_REDUCTION,
)
# --paper: None lets write_plots decide from the table (its paper_* columns).
_PAPER = {"auto": None, "yes": True, "no": False}


def parse_reference(spec: str) -> dict[str, float]:
    """Parse ``"accuracy=0.9,speedup=1,emissions_kg=0.001"`` into ``{name: value}``.

    >>> parse_reference("accuracy=0.9,speedup=1")
    {'accuracy': 0.9, 'speedup': 1.0}
    """
    reference: dict[str, float] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, sep, value = (s.strip() for s in item.partition("="))
        try:
            reference[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise ValueError(f"reference item {item!r} is not NAME=NUMBER, e.g. accuracy=0.9")
    return reference


def _output_directory(source: str) -> Path:
    kind, where = find_results(source)
    if kind == "summary":
        return Path(where).parent
    if kind == "tune":
        return Path(where)
    url = str(where)
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent
    return Path.cwd()


def _metrics(objectives: dict[str, str]) -> list[str]:
    """The objectives, then the test metric of each validation objective: what chose the front,
    then what it scores on the test split."""
    return list(dict.fromkeys([*objectives, *(TEST_OF[n] for n in objectives if n in TEST_OF)]))


def _table(front: pd.DataFrame, objectives: dict[str, str], with_rank: bool) -> str:
    shown = pd.DataFrame({"configuration": [point_label(r) for r in front.to_dict("records")]})
    for column in ("name", "trial_id", *([RANK] if with_rank else []), N_SEEDS):
        if column in front.columns:
            shown[column] = front[column].to_numpy()
    for metric in _metrics(objectives):
        for column in (metric, metric + SD_SUFFIX, metric + GSD_SUFFIX):
            if column in front.columns:
                shown[_TEST_HEADERS.get(column, column)] = front[column].to_numpy()
    for column in _TABLE_EXTRA:
        if column in front.columns and column not in shown.columns:
            shown[column] = front[column].to_numpy()
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def _reference_lines(table: pd.DataFrame, objectives: dict[str, str]) -> list[str]:
    """One line per classical reference with its numbers: drawn beside the front, never on it."""
    lines = []
    for row in finished_rows(reference_rows(table)).to_dict("records"):
        numbers = ", ".join(
            f"{_TEST_HEADERS.get(m, m)} {row[m]:.4g}"
            for m in _metrics(objectives)
            if pd.api.types.is_number(row.get(m))
        )
        lines.append(f"reference, not on the front: {point_label(row)} ({numbers})")
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.pareto",
        description="Pareto front of a compression study: table, hypervolume, PNG and HTML plots.",
    )
    parser.add_argument(
        "results",
        help="summary.csv/.parquet, a study or Ray Tune experiment directory, "
        "or an Optuna storage URL (sqlite:///optuna.db)",
    )
    parser.add_argument(
        "--objectives",
        help=f"comma-separated NAME:max|min (default: {_DEFAULT_OBJECTIVES}; for results "
        "without val_accuracy, accuracy:max in its place, with a warning)",
    )
    parser.add_argument(
        "--reference",
        help="hypervolume reference point NAME=VALUE,... for every objective, e.g. "
        "accuracy=0.7,speedup=1,emissions_kg=0.001 (default: the baseline's row; without a "
        "baseline row the hypervolume is left out)",
    )
    parser.add_argument(
        "--study-name",
        help="Optuna study to read when the storage holds several "
        "(default: the storage's only study)",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="how the front is printed on stdout (default: %(default)s)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="print every valid row with its rank (default: the front only)",
    )
    parser.add_argument(
        "--paper",
        choices=tuple(_PAPER),
        default="auto",
        help="draw the paper's Table I in the relative view; auto: when the results carry the "
        "paper's numbers (paper_accuracy, written by a study on the paper's data) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where the plots and pareto.csv go (default: next to RESULTS; for a storage URL "
        "other than sqlite, the current directory)",
    )
    return parser


def _one_line(error: Exception | str) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _reference(
    results: pd.DataFrame, objectives: dict[str, str], given: dict[str, float] | None
) -> dict[str, float] | None:
    """The hypervolume reference point; ``None`` when none is given and there is no baseline."""
    try:
        return reference_point(results, objectives, given)
    except ValueError:
        if given is not None:
            raise
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns 0. A bad input exits 2 with one line on stderr saying what was wrong."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        chosen = parse_objectives(args.objectives) if args.objectives else None
        given = parse_reference(args.reference) if args.reference else None
        results = read_results(args.results, args.study_name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            objectives = default_objectives(results) if chosen is None else chosen
        excluded = excluded_rows(results, objectives)
        # Fronts, the reference point and the hypervolume are over configurations when seeds
        # replicate them; what was excluded is said of the rows as read.
        table = per_configuration(results)
        reference = _reference(table, objectives, given)
        volume = None if reference is None else hypervolume(table, objectives, reference)
        ranked = pareto_front(table, objectives, max_rank=len(table))
        out = args.out or _output_directory(args.results)
    except (ValueError, OSError) as error:
        parser.exit(2, f"{parser.prog}: error: {_one_line(error)}\n")

    note = sys.stderr
    for warning in caught:
        print(f"warning: {_one_line(warning.message)}", file=note)
    try:
        written = write_plots(results, out, objectives, paper=_PAPER[args.paper])
    except ValueError as error:  # e.g. a single objective: the front is still worth printing
        written: dict[str, Path] = {}
        print(f"no plots: {error}", file=note)
    excluded = excluded[(excluded[REASON] != REFERENCE_REASON).to_numpy()]
    if len(excluded):
        counts = ", ".join(f"{n} {r}" for r, n in excluded[REASON].value_counts().items())
        print(
            f"excluded {len(excluded)} of {len(results)} rows from the front: {counts}", file=note
        )
    if N_SEEDS in table.columns and N_SEEDS not in results.columns:
        seeds = table[N_SEEDS]
        print(
            f"{int(seeds.sum())} finished rows are {len(table)} configurations with "
            f"{seeds.min()}-{seeds.max()} seeds each: the front is chosen on their means, "
            f"*{SD_SUFFIX} is the standard deviation over seeds (ratios such as the speedup: "
            f"geometric means, *{GSD_SUFFIX} the geometric sd)",
            file=note,
        )
    for line in _reference_lines(table, objectives):
        print(line, file=note)
    if volume is None:
        example = ",".join(f"{n}=..." for n in objectives)
        print(
            f"hypervolume: no finished baseline row; pass --reference {example} to compute it",
            file=note,
        )
    else:
        source = "given" if given else "the baseline's row"
        point = ", ".join(f"{n}={v:.4g}" for n, v in reference.items())
        print(f"hypervolume {volume:.6g} against {point} ({source})", file=note)
        if volume == 0.0 and not given:
            print(
                "  no row beats the baseline in every objective; pass --reference with a lower "
                "accuracy bound to measure the trade-off",
                file=note,
            )
    out.mkdir(parents=True, exist_ok=True)
    written["csv"] = out / "pareto.csv"
    ranked.to_csv(written["csv"], index=False)

    shown = ranked if args.all else ranked[ranked[RANK] == 0]
    if args.format == "json":
        print(shown.to_json(orient="records", indent=1))
    else:
        print(_table(shown, objectives, with_rank=args.all))
    print("wrote " + ", ".join(str(p) for p in written.values()), file=note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
