"""``python -m study.run``: parse -> check inputs -> prepare the teacher -> tune -> summarise.

    python -m study.run --grid paper --data-dir ../shared/data/mahanews --variant lpc
    python -m study.run --search optuna -n 64 --sampler nsga2 --data-dir ...
    python -m study.run --resume --storage-path results --name paper

Every problem found before Ray starts (a bad flag, missing data, an unreachable hub, no GPU
for ``--gpus-per-trial``) is one line on stderr and exit code 2. An interrupted study (Ctrl+C)
keeps its state and exits with 130; ``--resume`` continues it. A study whose every trial failed
exits with 1; otherwise failed trials are rows with status ERROR and the exit code is 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from search_spaces.optuna_space import EXTRA, optuna_space, paper_points
from search_spaces.paper import paper_grid
from study.summary import FAILED, FINISHED, count_by_status, summary_markdown, summary_table

STUDY_FILE = "study.json"  # what was asked for: a resumed study reads it back
_TEACHER_PENDING = "(prepared after every check)"
GRIDS = {"paper": paper_grid}
SEARCHES = ("optuna",)
SAMPLERS = ("tpe", "nsga2")
DEFAULT_NAMES = {"grid": "paper", "search": "sweep"}
EXIT_USAGE = 2
EXIT_ALL_FAILED = 1
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A problem the user can fix before anything runs; its message is the one line shown."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m study.run",
        description="Run the paper's compression grid or a multi-objective Optuna search "
        "(maximise accuracy and speedup, minimise emissions) as a Ray Tune study.",
        epilog="Results: STORAGE_PATH/NAME/summary.csv and summary.md (one row per trial), "
        "pareto.png/.html, and for a search the Optuna study (optuna-dashboard URL). "
        "Ray's dashboard (--dashboard) asks for the token in ~/.ray/auth_token.",
    )
    what = p.add_argument_group("what to run (one of)")
    one = what.add_mutually_exclusive_group()
    one.add_argument("--grid", choices=sorted(GRIDS), help="the paper's baseline + six runs")
    one.add_argument("--search", choices=SEARCHES, help="a multi-objective search")
    what.add_argument("-n", "--num-samples", type=int, default=16, help="trials of a search")
    what.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="Optuna sampler")
    what.add_argument(
        "--also-search",
        default="",
        metavar="NAMES",
        help=f"comma-separated extra parameters to search: {', '.join(EXTRA)} "
        "(regularization_lambda prunes by sigmoid threshold instead of a target density)",
    )
    what.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted study STORAGE_PATH/NAME with its own settings: "
        "finished trials are kept, unfinished ones resume from their last epoch, failed ones "
        "stay failed, nothing is queued twice",
    )

    data = p.add_argument_group("data and model")
    data.add_argument("--preset", choices=("tiny", "paper"), default="tiny")
    data.add_argument("--data-dir", help="folder of CSV/parquet files (../shared/data/mahanews)")
    data.add_argument("--dataset", help="mahanews-lpc|mahanews-shc|mahanews-ldc or a HF dataset id")
    data.add_argument("--variant", help="MahaNews variant in --data-dir: lpc, shc or ldc")
    data.add_argument("--model", help="teacher: hub id or local folder (default: the preset's)")
    data.add_argument("--max-rows", type=int, help="stratified subset of each split (quick runs)")
    data.add_argument("--epochs", type=int, help="training epochs per trial (default: preset's)")
    data.add_argument("--seed", type=int, default=42)
    data.add_argument(
        "--teacher-epochs", type=int, help="tiny preset: fine-tuning epochs of the teacher"
    )
    data.add_argument(
        "--teacher-mlm-epochs", type=int, help="tiny preset: MLM pre-training epochs (0: none)"
    )
    data.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other trial config key (trainables/config.py), e.g. --set timing_repeats=3",
    )
    data.add_argument(
        "--cache-dir",
        help="teacher, tokens and teacher logits (default $LOWRES_CACHE or "
        "~/.cache/lowres-study); on a multi-node cluster a folder every node can read",
    )

    where = p.add_argument_group("where and how")
    where.add_argument(
        "--storage-path",
        default="results",
        help="experiment folder root (absolute path, NFS or s3://...; default ./results)",
    )
    where.add_argument("--name", help="study name (default: paper for a grid, sweep for a search)")
    where.add_argument(
        "--optuna-storage",
        help="database URL of the Optuna study (default sqlite:///STORAGE_PATH/NAME/optuna.db; "
        "with ray:// the search runs on the cluster: give a database it reaches)",
    )
    where.add_argument(
        "--address",
        help="existing Ray cluster: auto or ray://HOST:PORT; its nodes need this project "
        "installed and must reach --storage-path and --cache-dir (NFS, s3://)",
    )
    where.add_argument(
        "--dashboard", action="store_true", help="keep Ray's dashboard on 127.0.0.1:8265"
    )
    where.add_argument("--cpus-per-trial", type=float, help="default: all CPUs / --max-concurrent")
    where.add_argument("--gpus-per-trial", type=float, help="default: 1 where GPUs exist, else 0")
    where.add_argument(
        "--max-concurrent", type=int, help="trials at once (default: 1 on CPU, one per GPU)"
    )
    where.add_argument(
        "--max-failures", type=int, default=2, help="retries of a crashing trial (default 2)"
    )
    return p


# --------------------------------------------------------------------------------------------
# Checking inputs (before Ray)


def _parse_set(items: list[str]) -> dict[str, Any]:
    from trainables.config import TrialConfig

    known = set(TrialConfig.__dataclass_fields__)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {item!r}: write KEY=VALUE, e.g. --set timing_repeats=3")
        if key not in known:
            raise UsageError(
                f"--set {key}: not a trial config key; known keys: {', '.join(sorted(known))}"
            )
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _storage_path(raw: str) -> str:
    """Tune needs an absolute path; URIs (s3://, gs://) stay as they are."""
    if "://" in raw:
        return raw.rstrip("/")
    return str(Path(raw).expanduser().resolve())


def _results_dir(storage_path: str, name: str) -> Path:
    """Where this machine writes the summary, plots, study file and default Optuna database."""
    if "://" in storage_path:
        return Path("results").resolve() / name
    return Path(storage_path) / name


def _check_positive(args: argparse.Namespace) -> None:
    for flag in ("num_samples", "max_rows", "epochs", "max_concurrent", "teacher_epochs"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    for flag in ("cpus_per_trial", "gpus_per_trial", "max_failures", "teacher_mlm_epochs"):
        value = getattr(args, flag)
        if value is not None and value < 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 0, got {value}")
    if args.cpus_per_trial == 0 and not args.gpus_per_trial:
        raise UsageError("--cpus-per-trial 0 leaves a CPU trial nothing to run on")


def _local_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _trial_points(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    """The grid's points or the search's space and seed points."""
    from trainables.config import TrialConfig

    if args.grid:
        points = GRIDS[args.grid]()
        for point in points:
            try:
                TrialConfig.from_dict({**base, **point})
            except ValueError as exc:
                raise UsageError(f"trial {point.get('name')!r}: {exc}") from None
        return {"points": points}
    extra = [n.strip() for n in args.also_search.split(",") if n.strip()]
    try:
        space = optuna_space(extra)
    except ValueError as exc:
        raise UsageError(f"--also-search: {exc}") from None
    if "regularization_lambda" in space:
        base["method"] = "sigmoid_threshold"
    # the paper's runs first; fewer trials than points: only as many as there are trials
    points = paper_points(space, TrialConfig.from_dict(base).to_dict())[: args.num_samples]
    for point in points:
        try:
            TrialConfig.from_dict({**base, **point})
        except ValueError as exc:
            raise UsageError(f"paper point {point}: {exc}") from None
    return {"space": space, "points": points}


def _base_config(args: argparse.Namespace, teacher: str, cache_dir: Path) -> dict[str, Any]:
    """The keys every trial shares: data, teacher, preset scale; flags override the preset."""
    from trainables.config import TrialConfig
    from trainables.presets import get_preset

    preset = get_preset(args.preset)
    base: dict[str, Any] = {
        "preset": preset.name,
        "teacher": teacher,
        "data_dir": str(Path(args.data_dir).resolve()) if args.data_dir else None,
        "dataset": args.dataset,
        "variant": args.variant,
        "max_rows": args.max_rows,
        "max_length": preset.max_length,
        "cache_dir": str(cache_dir),
        "epochs": args.epochs or preset.epochs,
        "batch_size": preset.batch_size,
        "eval_batch_size": preset.eval_batch_size,
        "learning_rate": preset.learning_rate,
        "seed": args.seed,
        **_parse_set(args.set),
    }
    base = {k: v for k, v in base.items() if v is not None}
    try:
        TrialConfig.from_dict(base)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return base


def _load_data(args: argparse.Namespace, cache_dir: Path) -> Any:
    from trainables.data import load_splits

    splits = load_splits(
        args.data_dir,
        variant=args.variant,
        dataset=args.dataset,
        seed=args.seed,
        cache_dir=cache_dir,
        max_rows=args.max_rows,
    )
    print(splits.summary(), flush=True)
    return splits


def _prepare_teacher(args: argparse.Namespace, splits: Any, cache_dir: Path) -> str:
    """The teacher, once per study (the tiny preset trains it; later studies read the cache)."""
    from trainables.teacher import prepare_teacher

    overrides = {
        "epochs": args.teacher_epochs,
        "mlm_epochs": args.teacher_mlm_epochs,
        "seed": args.seed,
    }
    teacher = prepare_teacher(
        args.preset,
        splits=splits,
        model=args.model,
        cache_dir=cache_dir,
        progress=True,
        tiny_overrides=overrides,
    )
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in teacher.metrics.items())
    print(f"teacher: {teacher.path}" + (f" ({metrics})" if metrics else ""), flush=True)
    return teacher.path


# --------------------------------------------------------------------------------------------
# The study


def _new_study(
    args: argparse.Namespace, storage_path: str, name: str
) -> tuple[dict[str, Any], Any]:
    """Check everything, prepare the teacher; return the study file's contents and searcher."""
    from trainables.data import default_cache_dir

    if not (args.grid or args.search):
        raise UsageError("say what to run: --grid paper or --search optuna")
    if args.sampler != "tpe" and not args.search:
        raise UsageError("--sampler applies to --search optuna only")
    if args.also_search and not args.search:
        raise UsageError("--also-search applies to --search optuna only")
    if args.gpus_per_trial and not args.address and not _local_gpus():
        raise UsageError(
            f"--gpus-per-trial {args.gpus_per_trial:g} but this machine has no CUDA GPU; "
            "leave it out to train on CPUs, or pass --address of a cluster with GPUs"
        )
    results_dir = _results_dir(storage_path, name)
    if _has_experiment(storage_path, name):
        raise UsageError(
            f"{results_dir} already holds a study; continue it with --resume, or choose "
            "another --name"
        )
    cache_dir = Path(args.cache_dir).expanduser().resolve() if args.cache_dir else None
    cache_dir = cache_dir or default_cache_dir().expanduser().resolve()
    # Every config is checked (and the Optuna storage opened) before the teacher is trained.
    base = _base_config(args, _TEACHER_PENDING, cache_dir)
    plan = _trial_points(args, base)
    space = plan.pop("space", None)
    study: dict[str, Any] = {
        "mode": "grid" if args.grid else "search",
        "grid": args.grid,
        "search": args.search,
        "num_samples": len(plan["points"]) if args.grid else args.num_samples,
        "sampler": args.sampler,
        "base_config": base,
        **plan,
        "optuna_storage": None,
        "argv": sys.argv[1:],
    }
    if args.search:
        study["optuna_storage"] = args.optuna_storage or f"sqlite:///{results_dir / 'optuna.db'}"
        study["space"] = {k: {"type": type(v).__name__, **asdict(v)} for k, v in space.items()}
    splits = _load_data(args, cache_dir)
    storage = _optuna_storage(study["optuna_storage"]) if args.search else None
    # The teacher once per study: every trial reads it by path.
    base["teacher"] = _prepare_teacher(args, splits, cache_dir)
    return study, _searcher(study, space, storage, name)


def _has_experiment(storage_path: str, name: str) -> bool:
    """Whether Tune saved this experiment's state: a study stopped before that starts afresh."""
    if "://" in storage_path:
        return False  # a new experiment at a URI overwrites nothing Tune needs
    return any((Path(storage_path) / name).glob("experiment_state-*.json"))


def _resources(args: argparse.Namespace, saved: dict[str, Any] | None):
    """Per-trial CPUs/GPUs and the concurrency cap, from flags, the saved study or the cluster."""
    import ray

    from study.tuner import Resources, cluster_gpus

    if saved is not None:
        return Resources(**saved)
    gpus = cluster_gpus()
    cpus = float(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
    gpus_per_trial = args.gpus_per_trial if args.gpus_per_trial is not None else float(gpus > 0)
    if gpus_per_trial > gpus:
        raise UsageError(
            f"--gpus-per-trial {gpus_per_trial:g} but the cluster has {gpus:g} GPU(s); "
            "leave it out to train on CPUs"
        )
    if args.max_concurrent:
        concurrent = args.max_concurrent
    elif gpus_per_trial:
        concurrent = max(1, int(gpus // gpus_per_trial))
    else:
        concurrent = 1
    cpus_per_trial = args.cpus_per_trial
    if cpus_per_trial is None:
        cpus_per_trial = max(1.0, float(int(cpus // concurrent)))
        if gpus_per_trial:
            cpus_per_trial = min(cpus_per_trial, 8.0)  # data loading only; leave the rest
    if cpus_per_trial > cpus:
        raise UsageError(f"--cpus-per-trial {cpus_per_trial:g} but the cluster has {cpus:g} CPUs")
    return Resources(cpus=cpus_per_trial, gpus=gpus_per_trial, max_concurrent=concurrent)


def _optuna_storage(url: str) -> Any:
    """Open (and for SQLite create) the Optuna database before the long teacher step."""
    from study import tuner

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        return tuner.optuna_storage(url)
    except Exception as exc:  # sqlalchemy's and the drivers' errors have no common base
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise UsageError(f"cannot open the Optuna storage {url}: {lines[0]}") from None


def _searcher(study: dict[str, Any], space: dict[str, Any] | None, storage: Any, name: str):
    """The grid's fixed points, or the Optuna searcher seeded with the paper's points."""
    from study import tuner

    if study["mode"] == "grid":
        return tuner.grid_searcher(study["points"])
    return tuner.optuna_searcher(
        space=space or {},
        points=study["points"],
        storage=storage,
        study_name=name,
        sampler=study["sampler"],
        seed=study["base_config"]["seed"],
    )


def _print_dashboard() -> None:
    from study.tuner import DASHBOARD_HOST, DASHBOARD_PORT

    url = f"http://{DASHBOARD_HOST}:{DASHBOARD_PORT}"
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        print(f"Ray dashboard: {url} (token auth disabled by RAY_AUTH_MODE)", flush=True)
        return
    token = os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token"
    print(
        f"Ray dashboard: {url} (token auth on: paste the token from {token} into the login "
        "page; `ray get-auth-token` prints it)",
        flush=True,
    )


def _summarise(
    results: Any, study: dict[str, Any], name: str, results_dir: Path
) -> tuple[dict[str, int], dict[str, Path]]:
    from study.summary import write_summary
    from study.tuner import trial_records

    records = trial_records(results)
    table = summary_table(records, paper=study["mode"] == "grid")
    title = f"{name}: " + (
        f"the {study['grid']} grid" if study["mode"] == "grid" else f"{study['sampler']} search"
    )
    print("\n" + summary_markdown(table, title=title), flush=True)
    paths = write_summary(table, results_dir, title=title)
    try:
        from analysis import write_plots

        finished = table[table["status"] == FINISHED]
        if len(finished) >= 2:
            paths.update(write_plots(finished, results_dir))
    except (ValueError, KeyError) as exc:  # e.g. a search without a baseline row
        print(f"plots skipped: {exc}", file=sys.stderr)
    return count_by_status(records), paths


def run(args: argparse.Namespace) -> int:
    _check_positive(args)
    mode = "grid" if args.grid else "search" if args.search else None
    if not args.name and mode is None:
        raise UsageError("say what to run: --grid paper, --search optuna, or --resume --name NAME")
    name = args.name or DEFAULT_NAMES[mode or ""]
    storage_path = _storage_path(args.storage_path)
    results_dir = _results_dir(storage_path, name)
    experiment = f"{storage_path}/{name}"

    if args.resume:
        study, searcher = _saved_study(results_dir, mode), None
    else:
        study, searcher = _new_study(args, storage_path, name)

    from study import tuner

    tuner.start_ray(args.address, dashboard=args.dashboard)
    try:
        if args.dashboard and not args.address:
            _print_dashboard()
        resources = _resources(args, study.get("resources"))
        if args.resume:
            if not tuner.can_restore(experiment):
                raise UsageError(
                    f"nothing to resume: {experiment} holds no Tune experiment state; "
                    "start the study again without --resume"
                )
            print(f"resuming {experiment}", flush=True)
            study_tuner = tuner.restore_tuner(experiment, resources)
        else:
            study_tuner = tuner.build_tuner(
                param_space=study["base_config"],
                searcher=searcher,
                num_samples=study["num_samples"],
                resources=resources,
                storage_path=storage_path,
                name=name,
                max_failures=args.max_failures,
            )
            study["resources"] = asdict(resources)
            results_dir.mkdir(parents=True, exist_ok=True)
            (results_dir / STUDY_FILE).write_text(json.dumps(study, indent=2))
        print(
            f"study {name}: {study['num_samples']} trials, {resources.cpus:g} CPU + "
            f"{resources.gpus:g} GPU each, at most {resources.max_concurrent} at once; "
            f"experiment {experiment}",
            flush=True,
        )
        if study["optuna_storage"]:
            print(f"Optuna study {name!r}: optuna-dashboard {study['optuna_storage']}", flush=True)
        results = study_tuner.fit()
        counts, paths = _summarise(results, study, name, results_dir)
    finally:
        tuner.stop_ray()

    return _report_end(study, counts, paths, storage_path, name)


def _saved_study(results_dir: Path, mode: str | None) -> dict[str, Any]:
    """The study file of the study to resume; its teacher must still be there."""
    study_file = results_dir / STUDY_FILE
    if not study_file.exists():
        raise UsageError(f"nothing to resume: {study_file} does not exist")
    study = json.loads(study_file.read_text())
    if mode and mode != study["mode"]:
        raise UsageError(f"{results_dir} holds a {study['mode']} study, not a {mode}")
    teacher = study["base_config"]["teacher"]
    if Path(teacher).is_absolute() and not Path(teacher).exists():
        raise UsageError(f"the study's teacher {teacher} is gone; start a new study")
    return study


def _report_end(
    study: dict[str, Any], counts: dict[str, int], paths: dict[str, Path], storage_path: str,
    name: str,
) -> int:  # fmt: skip
    """The counts, the paths (the summary's last), how to resume; the exit code."""
    done = counts.get(FINISHED, 0) + counts.get(FAILED, 0)
    print(
        f"trials: {counts.get(FINISHED, 0)} finished, {counts.get(FAILED, 0)} failed"
        + (f", {study['num_samples'] - done} not finished" if done < study["num_samples"] else ""),
        flush=True,
    )
    if study["optuna_storage"]:
        print(f"optuna-dashboard {study['optuna_storage']}")
    for key in ("png", "html", "csv", "md"):  # the summary's own paths last
        if key in paths:
            print(paths[key])
    if done < study["num_samples"]:
        print(
            "interrupted; continue with: python -m study.run --resume "
            f"--storage-path {storage_path} --name {name}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_ALL_FAILED if counts.get(FINISHED, 0) == 0 else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from trainables.data import DataError
    from trainables.teacher import TeacherError

    try:
        return run(args)
    except (UsageError, DataError, TeacherError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
