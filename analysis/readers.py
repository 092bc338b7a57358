"""Read a study's results into one table (one row per trial) without starting Ray.

Three sources: the study's ``summary.csv`` / ``.parquet``; a Ray Tune experiment directory
(``EXP/<trial>/params.json`` + ``result.json``, read as plain JSON); an Optuna storage URL.
Every reader returns the same schema: metric columns (``trainables.metrics``), config columns,
``name``, ``status`` and ``trial_id``. ``status`` is ``TERMINATED`` for a finished trial by the
one rule of :func:`analysis.rows.finished_report` (the summary's statuses were written by it; a
Tune trial's last ``result.json`` line must be its final report, not an epoch's); an Optuna
storage holds the objectives only, so there a trial Optuna calls COMPLETE is finished.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.predictions import val_majority
from analysis.rows import FAILED, FINISHED, STATUS, UNFINISHED, finished_report
from trainables.errors import first_line
from trainables.metrics import FINAL_METRICS, PREDICTIONS_FILE, VAL_MAJORITY

if TYPE_CHECKING:
    import optuna

SUMMARY_NAMES = ("summary.csv", "summary.parquet")
_TUNE_PARAMS = "params.json"
_TUNE_RESULT = "result.json"
_TUNE_ERRORS = ("error.txt", "error.pkl")
_OPTUNA_STATUS = {"COMPLETE": FINISHED, "FAIL": FAILED, "WAITING": UNFINISHED}


def is_storage_url(source: str | Path) -> bool:
    """Whether ``source`` is a database URL (``sqlite:///...``, ``postgresql://...``), not a path.

    >>> is_storage_url("sqlite:///study.db"), is_storage_url("results/paper")
    (True, False)
    """
    return "://" in str(source)


def read_summary(path: str | Path) -> pd.DataFrame:
    """Read a study's summary table (``.csv`` or ``.parquet``).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "summary.csv"
    ...     _ = path.write_text("name,status,accuracy\\nbaseline,TERMINATED,0.9\\n")
    ...     read_summary(path)["accuracy"].tolist()
    [0.9]
    """
    path = Path(path)
    if path.suffix not in (".csv", ".parquet"):
        raise ValueError(f"{path} is neither .csv nor .parquet; give a summary table of the study")
    try:
        table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError) as error:  # not a table, empty, unreadable
        reason = first_line(error)
        raise ValueError(f"cannot read {path} as a table: {reason}") from error
    return fill_val_majority(table)


def fill_val_majority(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with :data:`~trainables.metrics.VAL_MAJORITY` filled in, from each row's
    prediction file, where the trial did not report it (results written before it existed).

    >>> import tempfile, numpy as np
    >>> path = tempfile.mkdtemp() + "/p.npz"
    >>> np.savez(path, val_gold=np.array([0, 1, 1, 1]))
    >>> table = pd.DataFrame({"predictions_file": [path, ""]})
    >>> fill_val_majority(table)["val_majority"].tolist()
    [0.75, nan]
    """
    if PREDICTIONS_FILE not in table.columns or table.empty:
        return table
    column = table.get(VAL_MAJORITY, pd.Series(float("nan"), index=table.index))
    known = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, copy=True)
    files = table[PREDICTIONS_FILE].to_numpy()
    for row in np.flatnonzero(np.isnan(known)):
        if isinstance(files[row], str) and files[row]:
            known[row] = val_majority(files[row])
    table = table.copy()
    table[VAL_MAJORITY] = known
    return table


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config dicts (the data spec) as ``data/<key>`` columns, as Tune's tables do.

    >>> flatten_config({"seed": 1, "data": {"variant": "shc"}})
    {'seed': 1, 'data/variant': 'shc'}
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


def _last_result(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    for line in reversed(lines):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue  # a trial killed mid-write leaves a torn last line
    return {}


def _tune_trial(trial_dir: Path) -> dict[str, Any]:
    result = _last_result(trial_dir / _TUNE_RESULT)
    params_path = trial_dir / _TUNE_PARAMS
    config = json.loads(params_path.read_text()) if params_path.is_file() else {}
    config = config or result.get("config", {})
    row = {k: v for k, v in result.items() if k != "config"}
    # A config key that is also a reported metric keeps the metric's column; the config value
    # goes to `config/<key>`, as in Tune's own tables.
    for key, value in flatten_config(config).items():
        row[f"config/{key}" if key in row or key in FINAL_METRICS else key] = value
    if any((trial_dir / name).exists() for name in _TUNE_ERRORS):
        row[STATUS] = FAILED
    else:  # an interrupted trial's last line is an epoch report: its numbers are not final
        row[STATUS] = FINISHED if finished_report(result) else UNFINISHED
    row.setdefault("trial_id", trial_dir.name)
    row.setdefault("name", row["trial_id"])
    row["trial_dir"] = str(trial_dir)
    return row


def _tune_trial_dirs(directory: Path) -> list[Path]:
    return sorted(
        {p.parent for p in directory.rglob(_TUNE_PARAMS)}
        | {p.parent for p in directory.rglob(_TUNE_RESULT)}
    )


def read_tune_experiment(directory: str | Path) -> pd.DataFrame:
    """Read a Ray Tune experiment directory: the last ``result.json`` line of every trial.

    Trials are found at any depth (``<storage>/<experiment>/<trial>/params.json``). A trial with
    ``error.txt`` gets status ``ERROR``; one whose last line is its final report (every final
    metric, :func:`analysis.rows.finished_report`) ``TERMINATED``; any other (no results, or
    stopped after an epoch report) ``PENDING``. Ray is not imported.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     trial = Path(folder) / "paper" / "train_trial_00000"
    ...     trial.mkdir(parents=True)
    ...     _ = (trial / "params.json").write_text('{"name": "baseline", "kind": "baseline"}')
    ...     _ = (trial / "result.json").write_text('{"val_accuracy": 0.9, "epoch": 1}\\n')
    ...     table = read_tune_experiment(folder)
    >>> table.loc[0, "name"], float(table.loc[0, "val_accuracy"]), table.loc[0, "status"]
    ('baseline', 0.9, 'PENDING')
    """
    directory = Path(directory).expanduser()
    trial_dirs = _tune_trial_dirs(directory)
    if not trial_dirs:
        raise ValueError(
            f"{directory} holds no Tune trials (no */{_TUNE_PARAMS} or */{_TUNE_RESULT})"
        )
    return fill_val_majority(pd.DataFrame([_tune_trial(d) for d in trial_dirs]))


def _optuna_study_name(storage: str, study_name: str | None) -> str:
    import optuna

    names = optuna.study.get_all_study_names(storage=storage)
    if study_name is not None:
        if study_name not in names:
            raise ValueError(f"no study {study_name!r} in {storage}; studies there: {names}")
        return study_name
    if len(names) == 1:
        return names[0]
    if not names:
        raise ValueError(f"{storage} holds no Optuna study")
    raise ValueError(f"{storage} holds {len(names)} studies {names}; choose one with --study-name")


def load_optuna_study(storage: str, study_name: str | None = None) -> optuna.Study:
    """Open an existing Optuna study; any failure to open the storage is a one-line ValueError.

    A ``sqlite:///`` file that does not exist is refused rather than created. With one study in
    the storage ``study_name`` may be omitted.

    >>> load_optuna_study("foo://bar")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot open the Optuna storage 'foo://bar' (NoSuchModuleError: ...); give ...
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage.startswith("sqlite:///") and not Path(storage.removeprefix("sqlite:///")).is_file():
        raise ValueError(f"{storage}: the database file does not exist")
    try:
        name = _optuna_study_name(storage, study_name)
        return optuna.load_study(study_name=name, storage=storage)
    except ValueError:
        raise
    except Exception as error:  # SQLAlchemy, a missing database driver, a refused connection
        reason = f"{type(error).__name__}: {first_line(error)}"
        raise ValueError(
            f"cannot open the Optuna storage {storage!r} ({reason}); give a database URL "
            "such as sqlite:///results/sweep/optuna.db"
        ) from error


def read_optuna(storage: str, study_name: str | None = None) -> pd.DataFrame:
    """Read every trial of an Optuna study: objective values, params and user attributes.

    Objective values are named by ``study.metric_names`` when set, else ``values_0``, ...
    (``value`` for one objective). With one study in the storage ``study_name`` may be omitted.

    >>> read_optuna("sqlite:///results/sweep/optuna.db")  # doctest: +SKIP
    """
    study = load_optuna_study(storage, study_name)
    n_objectives = len(study.directions)
    names = study.metric_names or (
        ["value"] if n_objectives == 1 else [f"values_{i}" for i in range(n_objectives)]
    )
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"name": f"trial {trial.number}", "trial_id": str(trial.number)}
        row.update(flatten_config(trial.params))
        row.update(flatten_config(trial.user_attrs))
        if trial.values is not None:
            row.update(zip(names, trial.values, strict=True))
        row[STATUS] = _OPTUNA_STATUS.get(trial.state.name, trial.state.name)
        rows.append(row)
    return pd.DataFrame(rows)


def find_results(source: str | Path) -> tuple[str, Path | str]:
    """Decide what ``source`` is: ``("summary", file)``, ``("tune", dir)`` or ``("optuna", url)``.

    A directory is read through its ``summary.csv`` (or ``.parquet``) if it has one, else through
    the single ``*/summary.csv`` below it, else as a Tune experiment.

    >>> find_results("sqlite:///study.db")
    ('optuna', 'sqlite:///study.db')
    """
    if is_storage_url(source):
        return "optuna", str(source)
    path = Path(source).expanduser()
    if path.is_file():
        return "summary", path
    if not path.is_dir():
        raise ValueError(
            f"{path} does not exist; give a summary.csv/.parquet, a study directory, "
            "a Tune experiment directory or a storage URL such as sqlite:///optuna.db"
        )
    for name in SUMMARY_NAMES:
        if (path / name).is_file():
            return "summary", path / name
    below = sorted(p for name in SUMMARY_NAMES for p in path.glob(f"*/{name}"))
    if len({p.parent for p in below}) > 1:
        listed = ", ".join(str(p) for p in below)
        raise ValueError(f"{path} holds several studies ({listed}); give one of them")
    if below:
        return "summary", below[0]
    if _tune_trial_dirs(path):
        return "tune", path
    raise ValueError(
        f"{path} has no summary.csv, summary.parquet or Tune trials (*/params.json); "
        "give the study's directory or its summary table"
    )


def read_results(source: str | Path, study_name: str | None = None) -> pd.DataFrame:
    """Read results from a summary CSV/parquet, a study or Tune directory, or an Optuna URL.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = (Path(folder) / "summary.csv").write_text("name,status\\nbaseline,TERMINATED\\n")
    ...     read_results(folder)["status"].tolist()
    ['TERMINATED']
    """
    kind, where = find_results(source)
    if kind == "optuna":
        return read_optuna(str(where), study_name)
    if kind == "tune":
        return read_tune_experiment(where)
    return read_summary(where)
