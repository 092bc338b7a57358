"""The study plan: what a study runs, resolved once and saved as ``study.json``.

A new study builds its plan from the command line (:func:`new_plan`: check every input, load the
data once, prepare the teacher, then the base config every trial shares); ``--resume`` reads the
same plan back (:meth:`StudyPlan.from_json`), so a resumed study runs exactly what was asked for.

>>> plan = StudyPlan(name="paper", mode="grid", grid="paper", num_samples=7)
>>> StudyPlan.from_json(plan.to_json()) == plan
True
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from search_spaces.optuna_space import Choice, FloatRange, Param, optuna_space, seed_points
from search_spaces.paper import TEACHER_AS_IS
from study.cli import UsageError, parse_objectives, parse_set
from study.disk import STUDENTS_DIR
from study.points import grid_points, levered_baseline, replicate
from trainables import metrics as M

STUDY_FILE = "study.json"
DATA_FILE = "data.json"
CONFIRM_DIR = "confirm"


@dataclass
class StudyPlan:
    """Everything a study needs to run or resume, as plain JSON-able data."""

    name: str
    mode: str  # "grid" | "search" | "confirm" (a search's front re-run with more seeds)
    grid: str | None = None
    sampler: str = "tpe"
    num_samples: int = 0
    # The keys every trial shares (trainables.config.TrialConfig), data spec and teacher included.
    base_config: dict[str, Any] = field(default_factory=dict)
    # The grid's points, or the search's seed points (the paper's runs), in order.
    points: list[dict[str, Any]] = field(default_factory=list)
    # The search space as {name: {"type": "FloatRange"|"Choice", ...}}; empty for a grid.
    space: dict[str, dict[str, Any]] = field(default_factory=dict)
    optuna_storage: str | None = None
    # Per-trial CPUs/GPUs and the concurrency cap, fixed when the study first starts.
    resources: dict[str, Any] | None = None
    # Whether the paper's Table I stands beside our numbers (MahaNews data, or asked for).
    compare_paper: bool = False
    # What a search optimises and a front is chosen on: name -> "max" | "min".
    objectives: dict[str, str] = field(default_factory=lambda: dict(M.OBJECTIVES))
    seeds: int = 1
    argv: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> StudyPlan:
        values = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @staticmethod
    def encode_space(space: dict[str, Param]) -> dict[str, dict[str, Any]]:
        """A search space as the plain data of :attr:`space` (the inverse of
        :meth:`search_space`).

        >>> StudyPlan.encode_space({"seed": Choice((1, 2))})
        {'seed': {'type': 'Choice', 'choices': (1, 2)}}
        """
        return {
            name: {"type": type(param).__name__, **asdict(param)} for name, param in space.items()
        }

    def search_space(self) -> dict[str, Param]:
        """The search space as the pure-data ranges of ``search_spaces``."""
        kinds = {"FloatRange": FloatRange, "Choice": Choice}
        out: dict[str, Param] = {}
        for name, spec in self.space.items():
            spec = dict(spec)
            kind = kinds[spec.pop("type")]
            if kind is Choice:
                spec["choices"] = tuple(spec["choices"])
            out[name] = kind(**spec)
        return out


# --------------------------------------------------------------------------------------------
# A new plan from the command line


def new_plan(args: argparse.Namespace, name: str, results_dir: Path) -> StudyPlan:
    """Check every input, load the data, prepare the teacher; return the plan.

    Everything cheap is checked first (flags, trial settings, grid points, data, the Optuna
    storage), so a mistake costs seconds, not a teacher's training.
    """
    from trainables.data import MAHANEWS_LABELS, data_spec, default_cache_dir, load_splits
    from trainables.teachers.prepare import prepare_teacher

    mode = "grid" if args.grid else "search"
    cache_dir = Path(args.cache_dir or default_cache_dir()).expanduser().resolve()
    settings = _trial_settings(args, cache_dir)
    plan = StudyPlan(
        name=name,
        mode=mode,
        grid=args.grid,
        sampler=args.sampler,
        seeds=args.seeds,
        argv=sys.argv[1:],
    )
    if args.grid:
        plan.points = grid_points(
            args.grid,
            seeds=args.seeds,
            first_seed=settings["seed"],
            classical=not args.no_classical,
            rows=args.rows.split(",") if args.rows else None,
            levered_baseline=levered_baseline(settings),
        )
        plan.num_samples = len(plan.points)
    else:
        space = _search_space(args, settings)
        plan.space = StudyPlan.encode_space(space)
        # the paper's runs first; fewer trials than points: only as many as there are trials
        defaults = _checked(settings).to_dict()
        points = seed_points(space, defaults, grid=args.seed_points)
        plan.points = points[: args.num_samples]
        plan.num_samples = args.num_samples
        plan.optuna_storage = args.optuna_storage or f"sqlite:///{results_dir / 'optuna.db'}"
    for point in plan.points:
        _checked({**settings, **point}, where=f"trial {point.get('name') or point}")

    spec = data_spec(args)
    splits = load_splits(spec, cache_dir=cache_dir)
    print(splits.summary(), flush=True)
    for line in splits.report.lines():
        print("  " + line, flush=True)
    write_data_json(results_dir / DATA_FILE, splits, spec)
    if plan.optuna_storage:
        _open_optuna_storage(plan.optuna_storage)
    plan.compare_paper = {"yes": True, "no": False}.get(
        args.paper, set(splits.labels) <= set(MAHANEWS_LABELS)
    )

    # Known before any trial runs: whether emissions are measured here, and so an objective.
    plan.objectives = study_objectives(
        settings, energy=_expected_energy(args, settings), forced=parse_objectives(args.objectives)
    )

    # The teacher once per study (the tiny preset trains it, cached): every trial reads its path.
    teacher = prepare_teacher(
        args.preset,
        splits,
        model=args.model,
        cache_dir=cache_dir,
        progress=True,
        tiny_overrides={
            "family": args.teacher_family,
            "epochs": args.teacher_epochs,
            "mlm_epochs": args.teacher_mlm_epochs,
            "seed": args.seed,
            "precision": args.precision,
        },
    )
    scores = ", ".join(f"{k} {v:.4g}" for k, v in teacher.metrics.items())
    print(f"teacher: {teacher.path}" + (f" ({scores})" if scores else ""), flush=True)
    plan.base_config = {
        # the study's own student cache: an int8 or trimmed row reuses its twin's training
        # (`--set student_cache=` turns it off)
        "student_cache": str(results_dir / STUDENTS_DIR),
        **settings,
        "teacher": teacher.path,
        "data": spec.to_dict(),
    }
    _checked(plan.base_config)
    return plan


def study_objectives(
    settings: dict[str, Any], *, energy: str, forced: dict[str, str] | None = None
) -> dict[str, str]:
    """The objectives a search optimises and a front is chosen on: validation accuracy, speedup
    and emissions, or ``forced`` (``--objectives``) as given.

    ``energy`` is what CodeCarbon will do on the trials' machine
    (:func:`trainables.measure.energy.expected_energy_source`). Emissions are dropped, with one
    warning line saying why, when energy is off (``measure_energy=false``) or only estimated from
    time: without a power counter, E = P x t makes emissions a noisier copy of 1 / speedup, not
    a third objective. ``--objectives`` can force them back (not with energy off).

    >>> study_objectives({}, energy="measured")
    {'val_accuracy': 'max', 'speedup': 'max', 'emissions_kg': 'min'}
    """
    energy_off = settings.get("measure_energy") is False
    if forced is not None:
        unmeasured = [name for name in forced if name in M.ENERGY_METRICS]
        if energy_off and unmeasured:
            raise UsageError(
                f"--objectives {','.join(unmeasured)}: measure_energy is off, so no trial "
                "measures them; drop them or the --set measure_energy=false"
            )
        return dict(forced)
    objectives = dict(M.OBJECTIVES)
    if energy_off:
        why = "measure_energy is off"
    elif energy == M.ENERGY_ESTIMATED:
        why = (
            "this machine has no power counter CodeCarbon reads (RAPL, NVML), so energy is "
            "estimated from time and adds nothing to speedup"
        )
    else:
        return objectives
    objectives.pop(M.EMISSIONS_KG)
    force = ",".join(f"{name}:{direction}" for name, direction in M.OBJECTIVES.items())
    print(
        f"warning: {why}: {M.EMISSIONS_KG} is no objective, the study optimises "
        f"{', '.join(objectives)} only" + ("" if energy_off else f" (--objectives {force})"),
        file=sys.stderr,
        flush=True,
    )
    return objectives


def _expected_energy(args: argparse.Namespace, settings: dict[str, Any]) -> str:
    """Whether CodeCarbon will measure or estimate the trials' energy on this machine: CPU
    trials (int8 runs on the CPU) read RAPL, GPU trials NVML."""
    from trainables.measure.energy import expected_energy_source

    gpus = args.gpus_per_trial
    gpu_trials = None if gpus is None else gpus > 0
    if settings.get("quantize") == "int8":
        gpu_trials = False
    return expected_energy_source(gpu_trials=gpu_trials)


def write_data_json(path: Path, splits: Any, spec: Any) -> None:
    """``data.json``: the data spec, what cleaning removed per split, each split's fingerprint."""
    from trainables.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps({"spec": spec.to_dict(), **splits.data_json()}, indent=2))


def _trial_settings(args: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    """The trial settings every trial shares besides data and teacher: the preset's scale,
    then the flags, then ``--set``; checked before anything slow runs."""
    from trainables.presets import get_preset

    preset = get_preset(args.preset)
    settings: dict[str, Any] = {
        "preset": preset.name,
        "max_length": preset.max_length,
        "cache_dir": str(cache_dir),
        "epochs": args.epochs or preset.epochs,
        "batch_size": preset.batch_size,
        "eval_batch_size": preset.eval_batch_size,
        "learning_rate": preset.learning_rate,
        "seed": args.seed,
        "precision": args.precision,
        **parse_set(args.set),
    }
    for key in ("data", "teacher"):
        if key in settings:
            raise UsageError(
                f"--set {key}=...: the study sets {key} itself; use --data-dir/--dataset/--variant/"
                "--text-column/--label-column/--max-rows for data, --model for the teacher"
            )
    _checked(settings)
    return settings


def _search_space(args: argparse.Namespace, settings: dict[str, Any]) -> dict[str, Param]:
    extra = [n.strip() for n in args.also_search.split(",") if n.strip()]
    try:
        space = optuna_space(extra)
    except ValueError as exc:
        raise UsageError(f"--also-search: {exc}") from None
    if "regularization_lambda" in space:
        settings["method"] = "sigmoid_threshold"
    return space


def _checked(values: dict[str, Any], where: str = "") -> Any:
    """The values as a TrialConfig, or a UsageError naming what is wrong (and where)."""
    from trainables.config import TrialConfig

    try:
        return TrialConfig.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}" if where else str(exc)) from None


def _open_optuna_storage(url: str) -> None:
    """Open (and for SQLite create) the Optuna database before the long teacher step."""
    import optuna

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        optuna.storages.RDBStorage(url)
    except Exception as exc:  # sqlalchemy's and the drivers' errors have no common base
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise UsageError(f"cannot open the Optuna storage {url}: {lines[0]}") from None


# --------------------------------------------------------------------------------------------
# A confirmation plan from a finished search


def confirm_plan(args: argparse.Namespace, search_dir: Path) -> StudyPlan:
    """The validation-front configurations of the finished search in ``search_dir``, each with
    ``--seeds`` fresh student seeds, plus the baseline (for the paired comparisons).

    The fresh seeds start after the search's own seed: the replicates that confirm a front are
    not the runs that put it there, and the confirmation's summary reports each configuration
    over these seeds only, with the search run beside them
    (:func:`study.summary.confirmation_table`).
    """
    import pandas as pd

    from analysis.front import pareto_front
    from analysis.readers import read_summary
    from study.records import FINISHED

    study_file, summary_file = search_dir / STUDY_FILE, search_dir / "summary.csv"
    if not study_file.exists() or not summary_file.exists():
        raise UsageError(
            f"nothing to confirm: {search_dir} has no finished search ({STUDY_FILE} and "
            "summary.csv); run --search optuna --name NAME first"
        )
    search = StudyPlan.from_json(study_file.read_text())
    if search.mode != "search":
        raise UsageError(f"{search_dir} holds a {search.mode} study; --confirm needs a search")
    table = read_summary(summary_file)
    kind = table["kind"].fillna(M.KIND_PRUNE) if "kind" in table else M.KIND_PRUNE
    finished = table[(table["status"] == FINISHED) & (kind == M.KIND_PRUNE)]
    missing = [name for name in search.objectives if name not in finished.columns]
    if finished.empty or missing:
        raise UsageError(
            f"{summary_file} has no finished trial with the objectives "
            f"{', '.join(search.objectives)} (missing: {', '.join(missing) or 'none'}); "
            "a search from before validation metrics cannot be confirmed"
        )
    front = pareto_front(finished, search.objectives)
    parameters = list(search.space)
    # a parameter a trial did not sample (temperature without KD: a conditional space) keeps
    # the study's value, and has no cell (or an empty one) in the summary
    configurations = [
        {
            "kind": M.KIND_PRUNE,
            **{n: _plain(row[n]) for n in parameters if n in row and not pd.isna(row[n])},
        }
        for _, row in front.iterrows()
    ]
    configurations = [
        dict(c) for c in {tuple(sorted(c.items())): c for c in configurations}.values()
    ]
    points = [{"name": "baseline", "kind": M.KIND_BASELINE, **TEACHER_AS_IS}, *configurations]
    first_seed = int(search.base_config.get(M.SEED, 42)) + 1
    plan = StudyPlan(
        name=search.name,
        mode="confirm",
        sampler=search.sampler,
        base_config={
            **search.base_config,
            "student_cache": str(search_dir / CONFIRM_DIR / STUDENTS_DIR),
        },
        points=replicate(points, args.seeds, first_seed=first_seed),
        compare_paper=search.compare_paper,
        objectives=dict(search.objectives),
        seeds=args.seeds,
        argv=sys.argv[1:],
    )
    plan.num_samples = len(plan.points)
    for point in plan.points:
        _checked({**plan.base_config, **point}, where=f"confirm point {point}")
    print(
        f"confirming {len(configurations)} front configuration(s) of {search.name} with "
        f"{args.seeds} fresh seed(s) from {first_seed}, plus the baseline",
        flush=True,
    )
    return plan


def _plain(value: Any) -> Any:
    """A pandas cell as the JSON value a trial config holds (numpy scalars -> Python)."""
    return value.item() if hasattr(value, "item") else value
