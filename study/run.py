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
import os
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

from study.cli import EXIT_USAGE, build_parser, check_flags
from study.disk import disk_line, remove_students
from study.errors import UsageError
from study.plan import CONFIRM_DIR, STUDY_FILE, StudyPlan, confirm_plan, new_plan
from study.records import FAILED, FINISHED, count_by_status
from study.summary import confirmation_table, summary_table
from trainables.atomic import atomic_write
from trainables.errors import TrainablesError

DEFAULT_NAMES = {"grid": "paper", "search": "sweep"}
EXIT_ALL_FAILED = 1
EXIT_INTERRUPTED = 130


def run(args: argparse.Namespace) -> int:
    check_flags(args)
    mode = "grid" if args.grid else "search" if args.search else None
    if not args.name and mode is None:
        raise UsageError("say what to run: --grid paper, --search optuna, or --resume --name NAME")
    name = args.name or DEFAULT_NAMES[mode or ""]
    storage_path = _storage_path(args.storage_path)
    results_dir = _results_dir(storage_path, name)
    # Where Tune keeps this run: STORAGE/NAME, or STORAGE/NAME/confirm for a confirmation.
    tune_storage, tune_name = storage_path, name
    if args.confirm:
        mode = "confirm"
        tune_storage, tune_name = f"{storage_path}/{name}", CONFIRM_DIR
        search_dir, results_dir = results_dir, results_dir / CONFIRM_DIR
    experiment = f"{tune_storage}/{tune_name}"

    if args.resume:
        plan = _saved_plan(results_dir, mode)
    elif args.confirm:
        if _has_experiment(tune_storage, tune_name):
            raise UsageError(
                f"{results_dir} already holds a confirmation; continue it with --confirm "
                "--resume, or remove that folder to confirm afresh"
            )
        plan = confirm_plan(args, search_dir)
    else:
        _check_new_study(args, storage_path, name)
        plan = new_plan(args, name, results_dir)

    from study import tuner

    tuner.start_ray(args.address, dashboard=args.dashboard)
    try:
        if args.dashboard and not args.address:
            _print_dashboard()
        if args.address:
            _check_cluster(plan, tune_storage)
        resources = _resources(args, plan.resources)
        if args.resume:
            if not tuner.can_restore(experiment):
                raise UsageError(
                    f"nothing to resume: {experiment} holds no Tune experiment state; "
                    "start the study again without --resume"
                )
            print(f"resuming {experiment}", flush=True)
            study_tuner = tuner.restore_tuner(experiment, resources)
        else:
            # Trials side by side on one node share its CPU and RAM power in CodeCarbon's count.
            plan.base_config["machine_shared"] = resources.max_concurrent > resources.hosts
            study_tuner = tuner.build_tuner(
                param_space=plan.base_config,
                searcher=_searcher(plan),
                num_samples=plan.num_samples,
                resources=resources,
                storage_path=tune_storage,
                name=tune_name,
                max_failures=args.max_failures,
            )
            plan.resources = asdict(resources)
            with atomic_write(results_dir / STUDY_FILE) as tmp:
                tmp.write_text(plan.to_json())
        print(
            f"study {name}: {plan.num_samples} trials, {resources.cpus:g} CPU + "
            f"{resources.gpus:g} GPU each, at most {resources.max_concurrent} at once; "
            f"experiment {experiment}",
            flush=True,
        )
        if plan.optuna_storage:
            print(f"Optuna study {name!r}: optuna-dashboard {plan.optuna_storage}", flush=True)
        results = study_tuner.fit()
        counts, paths = _summarise(results, plan, results_dir)
        remove_students(results_dir)
    finally:
        tuner.stop_ray()

    # the size of what stays: a finished trial's model and results, an unfinished one's checkpoint
    disk = disk_line(results_dir) if "://" not in storage_path else ""
    return _report_end(plan, counts, paths, storage_path, disk)


# --------------------------------------------------------------------------------------------
# Before Ray


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


def _check_new_study(args: argparse.Namespace, storage_path: str, name: str) -> None:
    if args.gpus_per_trial and not args.address and not _local_gpus():
        raise UsageError(
            f"--gpus-per-trial {args.gpus_per_trial:g} but this machine has no CUDA GPU; "
            "leave it out to train on CPUs, or pass --address of a cluster with GPUs"
        )
    if _has_experiment(storage_path, name):
        raise UsageError(
            f"{_results_dir(storage_path, name)} already holds a study; continue it with "
            "--resume, or choose another --name"
        )


def _local_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _has_experiment(storage_path: str, name: str) -> bool:
    """Whether Tune saved this experiment's state: a study stopped before that starts afresh."""
    if "://" in storage_path:
        return False  # a new experiment at a URI overwrites nothing Tune needs
    return any((Path(storage_path) / name).glob("experiment_state-*.json"))


def _saved_plan(results_dir: Path, mode: str | None) -> StudyPlan:
    """The plan of the study to resume; its teacher must still be there."""
    study_file = results_dir / STUDY_FILE
    if not study_file.exists():
        raise UsageError(f"nothing to resume: {study_file} does not exist")
    plan = StudyPlan.from_json(study_file.read_text())
    if mode and mode != plan.mode:
        raise UsageError(f"{results_dir} holds a {plan.mode} study, not a {mode}")
    teacher = plan.base_config.get("teacher", "")
    if Path(teacher).is_absolute() and not Path(teacher).exists():
        raise UsageError(f"the study's teacher {teacher} is gone; start a new study")
    return plan


# --------------------------------------------------------------------------------------------
# With Ray


def _check_cluster(plan: StudyPlan, storage_path: str) -> None:
    """Every node of the cluster can run this study's trials, or one error listing why not."""
    from study.cluster import check_nodes, node_needs, require_ready

    checks = check_nodes(node_needs(plan.base_config, storage_path))
    require_ready(checks)
    print(f"cluster: {len(checks)} node(s) ready for this study's trials", flush=True)


def _resources(args: argparse.Namespace, saved: dict[str, Any] | None):
    """Per-trial CPUs/GPUs and the concurrency cap, from flags, the saved study or the cluster.

    CPU trials run one at a time on one machine; on a cluster one per node (each with the
    smallest node's CPUs), so no two share a node's power unless asked to.
    """
    import ray

    from study.tuner import Resources, cluster_gpus, node_cpus, node_hosts

    if saved is not None:
        return Resources(**{"hosts": 1, **saved})
    gpus = cluster_gpus()
    cpus = float(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
    per_node = node_cpus() if args.address else {}
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
        concurrent = max(1, len(per_node))
    cpus_per_trial = args.cpus_per_trial
    if cpus_per_trial is None and per_node and not gpus_per_trial:
        cpus_per_trial = max(1.0, float(int(min(per_node.values()))))
    if cpus_per_trial is None:
        cpus_per_trial = max(1.0, float(int(cpus // concurrent)))
        if gpus_per_trial:
            cpus_per_trial = min(cpus_per_trial, 8.0)  # data loading only; leave the rest
    if cpus_per_trial > cpus:
        raise UsageError(f"--cpus-per-trial {cpus_per_trial:g} but the cluster has {cpus:g} CPUs")
    return Resources(
        cpus=cpus_per_trial,
        gpus=gpus_per_trial,
        max_concurrent=concurrent,
        hosts=node_hosts(list(per_node)) if per_node else 1,
    )


def _searcher(plan: StudyPlan):
    """The grid's fixed points, or the Optuna searcher seeded with the paper's points."""
    from study import searchers

    if plan.mode in ("grid", "confirm"):
        return searchers.grid_searcher(plan.points)
    assert plan.optuna_storage is not None
    return searchers.optuna_searcher(
        space=plan.search_space(),
        points=plan.points,
        storage=searchers.optuna_storage(plan.optuna_storage),
        study_name=plan.name,
        sampler=plan.sampler,
        seed=plan.base_config["seed"],
        objectives=plan.objectives,
        base=plan.base_config,
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


# --------------------------------------------------------------------------------------------
# After the trials


def _summarise(
    results: Any, plan: StudyPlan, results_dir: Path
) -> tuple[dict[str, int], dict[str, Path]]:
    from study.summary import write_summary
    from study.tuner import trial_records

    records = trial_records(results)
    table = summary_table(records, paper=plan.compare_paper)
    what = {
        "grid": f"the {plan.grid} grid",
        "search": f"{plan.sampler} search",
        "confirm": f"the {plan.sampler} search's front, confirmed with {plan.seeds} seed(s)",
    }[plan.mode]
    if plan.mode == "confirm":
        # One table over the search's trials and their confirmation's, told apart by phase: a
        # configuration's numbers are its confirmation seeds', the search run shown beside.
        import pandas as pd

        table = confirmation_table(pd.read_csv(results_dir.parent / "summary.csv"), table)
    title = f"{plan.name}: {what}"
    paths = write_summary(table, results_dir, title=title, objectives=plan.objectives)
    # what was written, configurations and the validation front's model folders included
    print("\n" + paths["md"].read_text(encoding="utf-8"), flush=True)
    from analysis import write_optuna_plots, write_plots

    finished = table[table["status"] == FINISHED] if len(table) else table
    try:
        if len(finished) >= 2:
            paths.update(
                write_plots(
                    finished, results_dir, paper=plan.compare_paper, objectives=plan.objectives
                )
            )
        if plan.optuna_storage:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                optuna_paths = write_optuna_plots(plan.optuna_storage, plan.name, results_dir)
            for warning in caught:
                if str(warning.message).startswith("no Optuna plots"):
                    print(warning.message, file=sys.stderr)
            paths.update({f"optuna_{key}": path for key, path in optuna_paths.items()})
    except ValueError as exc:  # the plots are a view: the summary is already written
        print(f"plots skipped: {exc}", file=sys.stderr)
    return count_by_status(records), paths


def _report_end(
    plan: StudyPlan, counts: dict[str, int], paths: dict[str, Path], storage_path: str, disk: str
) -> int:
    """The counts, the disk used, the paths (the summary's last), how to resume; the exit code."""
    done = counts.get(FINISHED, 0) + counts.get(FAILED, 0)
    print(
        f"trials: {counts.get(FINISHED, 0)} finished, {counts.get(FAILED, 0)} failed"
        + (f", {plan.num_samples - done} not finished" if done < plan.num_samples else ""),
        flush=True,
    )
    if disk:
        print(disk, flush=True)
    if plan.optuna_storage:
        print(f"optuna-dashboard {plan.optuna_storage}")
    order = [k for k in paths if k not in ("csv", "md")] + ["csv", "md"]
    for key in order:  # the summary's own paths last
        if key in paths:
            print(paths[key])
    if done < plan.num_samples:
        confirm = " --confirm" if plan.mode == "confirm" else ""
        print(
            f"interrupted; continue with: python -m study.run --resume{confirm} "
            f"--storage-path {storage_path} --name {plan.name}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_ALL_FAILED if counts.get(FINISHED, 0) == 0 else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (UsageError, TrainablesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
