"""Ray Tune wiring: Ray itself, resources, the Tuner and its resume.

Everything that imports Ray lives here and in ``study.searchers`` (the grid and Optuna
searchers); ``study.run`` decides *what* to run, these modules *how*.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import tune

from analysis.rows import finished_report
from study.disk import remove_training_checkpoints
from study.records import TrialRecord, status_of
from trainables import metrics as M
from trainables.trial import train_trial

DASHBOARD_HOST = "127.0.0.1"
DASHBOARD_PORT = 8265
# What the terminal's progress table shows while trials run.
PROGRESS_METRICS = (
    M.EPOCH,
    M.TRAIN_SECONDS_LEFT,  # an estimate, in the epoch reports only (empty once finished)
    M.VAL_ACCURACY,
    M.MASK_DENSITY,
    M.DENSITY,
    M.ACCURACY,
    M.SPEEDUP,
    M.EMISSIONS_KG_PER_1K,
)
PROGRESS_PARAMETERS = {
    "target_density": "target density",
    "distil": "distil",
    "temperature": "temperature",
    "alpha_distil": "alpha_distil",
}
TUNE_ENV = {
    # Tune's CLIReporter table with our columns, not the newer output without them.
    "RAY_AIR_NEW_OUTPUT": "0",
    # Per-epoch reports carry no objectives (only the final report has them) and Tune would
    # reject the first one; the Optuna searcher checks the final report itself.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
    # A checkpoint per epoch with num_to_keep=1 snapshots the experiment each epoch, on purpose.
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}


@dataclass(frozen=True)
class Resources:
    """What one trial gets, and how many trials run at once."""

    cpus: float
    gpus: float
    max_concurrent: int
    hosts: int = 1  # machines the trials spread over: more trials than hosts share one


# --------------------------------------------------------------------------------------------
# Ray


def start_ray(address: str | None, *, dashboard: bool) -> None:
    """Connect to the cluster at ``address`` (``auto``, ``HOST:PORT``) or start a local Ray.

    A local Ray keeps token authentication on (Ray's default for new local clusters): the
    dashboard and its REST API need the token in ``~/.ray/auth_token``.
    """
    os.environ.update(TUNE_ENV)
    quiet = {"log_to_driver": True, "logging_level": "WARNING"}
    if address:
        # the trials' workers on other nodes need Tune's settings too
        ray.init(address=address, runtime_env={"env_vars": TUNE_ENV}, **quiet)
        return
    ray.init(
        include_dashboard=dashboard,
        dashboard_host=DASHBOARD_HOST,
        dashboard_port=DASHBOARD_PORT,
        **quiet,
    )


def cluster_gpus() -> float:
    return float(ray.cluster_resources().get("GPU", 0.0))


def node_cpus() -> dict[str, float]:
    """Node id -> CPUs, for each alive node that has any (a head started with ``--num-cpus 0``
    has none)."""
    nodes = (node for node in ray.nodes() if node.get("Alive"))
    cpus = {node["NodeID"]: float(node.get("Resources", {}).get("CPU", 0.0)) for node in nodes}
    return {node: count for node, count in cpus.items() if count > 0}


def node_hosts(node_ids: Sequence[str]) -> int:
    """How many machines ``node_ids`` are on (nodes simulated on one machine share it)."""
    hosts = {node["NodeManagerAddress"] for node in ray.nodes() if node["NodeID"] in node_ids}
    return max(1, len(hosts))


def stop_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()


# --------------------------------------------------------------------------------------------
# The Tuner


class _RemoveFinishedCheckpoints(tune.Callback):
    """Removes a trial's training checkpoints once Tune marks it complete with its final report
    in; an errored or interrupted trial keeps its checkpoint to resume from. On Ctrl+C Tune saves
    its experiment state, finished trials as TERMINATED, before ``fit`` returns, so a resumed
    study does not run them again; one that a crash left RUNNING in the saved state finds its
    checkpoint gone and its final metrics there, and reports them again (``train_trial``).
    """

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if finished_report(trial.last_result or {}):
            remove_training_checkpoints(trial.storage.storage_filesystem, trial.path)


def trainable(resources: Resources):
    """``train_trial`` with its resources: one GPU per trial where there are GPUs, else CPUs."""
    return tune.with_resources(train_trial, {"cpu": resources.cpus, "gpu": resources.gpus})


def progress_reporter(max_rows: int = 20):
    return tune.CLIReporter(
        metric_columns=list(PROGRESS_METRICS),
        parameter_columns=dict(PROGRESS_PARAMETERS),
        max_progress_rows=max_rows,
        max_report_frequency=10,
        sort_by_metric=False,
    )


def trial_name(trial: Any) -> str:
    """What the progress table and the dashboard call a trial: the grid's run name
    (``25% pruning + KD · seed 42``), or a search trial's configuration in the paper's words."""
    from analysis import config_label

    name = trial.config.get("name") or config_label(trial.config)
    name = name if trial.config.get("name") else f"{name} [{trial.trial_id}]"
    # Replicates differ only in the student's seed: the name says which one this is.
    return f"{name} · seed {trial.config[M.SEED]}" if M.SEED in trial.config else name


def trial_dirname(trial: Any) -> str:
    """``<n>_<trial id>[_<name>]``: short, in creation order, named for the grid's runs."""
    index = str(trial.experiment_tag).partition("_")[0]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", str(trial.config.get("name", ""))).strip("-")
    return "_".join(part for part in (index, trial.trial_id, slug) if part)


def _creation_order(path: str) -> int:
    head = Path(path).name.partition("_")[0]
    return int(head) if head.isdigit() else 1 << 30


def build_tuner(
    *,
    param_space: dict[str, Any],
    searcher: Any,
    num_samples: int,
    resources: Resources,
    storage_path: str,
    name: str,
    max_failures: int,
):
    """A Tuner over ``train_trial``: concurrency cap, actor reuse, retries, per-epoch checkpoints
    (one per trial, removed once it finishes).

    ``storage_path`` is an absolute path or a URI (``s3://``, ``gs://``) every node can reach.
    """
    return tune.Tuner(
        trainable(resources),
        param_space=param_space,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            trial_name_creator=trial_name,
            trial_dirname_creator=trial_dirname,
            num_samples=num_samples,
            max_concurrent_trials=resources.max_concurrent,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage_path,
            failure_config=tune.FailureConfig(max_failures=max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[_RemoveFinishedCheckpoints()],
            # the trial's own files (final_metrics.json, the compact model) go to storage too
            sync_config=tune.SyncConfig(sync_artifacts=True),
            progress_reporter=progress_reporter(max_rows=min(max(num_samples, 1), 20)),
            verbose=1,
        ),
    )


def restore_tuner(experiment_path: str, resources: Resources):
    """Continue an interrupted study: finished trials stay, unfinished ones resume from their
    last epoch checkpoint, failed ones (retries spent) stay failed, and the searcher continues
    from its saved state (the grid's position, the Optuna study), so nothing is queued twice.
    """
    return tune.Tuner.restore(
        experiment_path,
        trainable=trainable(resources),
        resume_unfinished=True,
        resume_errored=False,
        restart_errored=False,
    )


def can_restore(experiment_path: str) -> bool:
    return tune.Tuner.can_restore(experiment_path)


# --------------------------------------------------------------------------------------------
# Results


def trial_records(results: Any) -> list[TrialRecord]:
    """A ``ResultGrid`` as plain records: status, final (or last) report, config, error line."""
    records = []
    for result in sorted(results, key=lambda r: _creation_order(str(r.path))):
        metrics = dict(result.metrics or {})
        metrics.pop("config", None)
        trial_id = str(metrics.get("trial_id") or Path(result.path).name)
        for key in ("model_dir", M.PREDICTIONS_FILE):
            if metrics.get(key):
                metrics[key] = _in_storage(metrics[key], result.path)
        records.append(
            TrialRecord(
                trial_id=trial_id,
                status=status_of(metrics, result.error),
                metrics=metrics,
                config=dict(result.config or {}),
                error=_error_line(result.error) if result.error is not None else "",
                path=str(result.path),
            )
        )
    return records


def _in_storage(path: str, trial_path: str) -> str:
    """The synced copy of a file the trial wrote into its local working directory."""
    local = Path(path)
    if local.parent.name == Path(trial_path).name:
        return f"{trial_path}/{local.name}"
    return path


def _error_line(error: BaseException) -> str:
    """The exception's own message: the last line of Ray's wrapped traceback."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
