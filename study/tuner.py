"""Ray Tune wiring: Ray itself, resources, the grid and Optuna searchers, the Tuner and its resume.

Everything that imports Ray lives here; ``study.run`` decides *what* to run, this module *how*.
The searcher sees only a trial's final report: per-epoch reports carry no objectives, and
Ray's ``OptunaSearch`` ignores intermediate results of a multi-objective study.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import ray
from ray import tune
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from analysis.rows import finished_report
from search_spaces.optuna_space import PARENTS, Choice, FloatRange, Param
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
# Searchers


class _GridSearcher(Searcher):
    """Suggests a fixed list of configs once each, in order, then says it has finished.

    Unlike ``BasicVariantGenerator(points_to_evaluate=...)`` it needs no placeholder for every
    key in the param space, and its position is saved with the experiment, so a resumed study
    queues no point twice.
    """

    def __init__(self, points: Sequence[Mapping[str, Any]]):
        super().__init__()
        self._points = [dict(p) for p in points]
        self._next = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._next >= len(self._points):
            return self.FINISHED
        point = self._points[self._next]
        self._next += 1
        return dict(point)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_bytes(pickle.dumps((self._points, self._next)))

    def restore(self, checkpoint_path: str) -> None:
        self._points, self._next = pickle.loads(Path(checkpoint_path).read_bytes())


def grid_searcher(points: Sequence[Mapping[str, Any]]):
    return _GridSearcher(points)


class _RecordingOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that also stores a finished trial's metrics as Optuna user attributes.

    Then ``optuna-dashboard`` and ``analysis.read_results("sqlite:///...")`` see every metric,
    the trial's name and its Tune trial id, not only the objective values.
    """

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if result and any(result.get(name) is None for name in self.metric):
            result, error = None, True  # ended without its final report: a failed trial
        trial = self._ot_trials.get(trial_id)
        if trial is not None and result and not error and trial_id not in self._completed_trials:
            trial.set_user_attr("trial_id", trial_id)
            for key in (*M.FINAL_METRICS, *M.FINAL_DETAILS, "name", "kind", "model_dir"):
                value = result.get(key)
                if value in ("", None):
                    continue
                if isinstance(value, int | float | str) and _finite(value):
                    trial.set_user_attr(key, value)
        super().on_trial_complete(trial_id, result=result, error=error)


def _finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


class ConditionalSpace:
    """The search space as Optuna's define-by-run function: every parameter in order, except one
    whose parent (:data:`search_spaces.optuna_space.PARENTS`: the temperature and alpha under
    distillation, the layer selection under a dropped share) is falsy in this trial, or, when the
    parent is not searched, in the study's ``base`` config. An unsampled parameter keeps the
    study's value; the sampler models only what matters to the trial. A plain class (not a
    closure) so the searcher pickles with the study for ``--resume``.

    >>> class Ask:  # what Optuna's trial offers, recording the calls
    ...     def suggest_categorical(self, name, choices): return choices[0]
    ...     def suggest_float(self, name, low, high, log=False): return low
    >>> ConditionalSpace({"distil": Choice((False, True)),
    ...                   "temperature": FloatRange(1.0, 10.0)}, {})(Ask())
    {'distil': False}
    """

    def __init__(self, space: Mapping[str, Param], base: Mapping[str, Any]):
        self.space, self.base = dict(space), dict(base)

    def __call__(self, trial: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, param in self.space.items():
            parent = PARENTS.get(name)
            if parent is not None and not values.get(parent, self.base.get(parent)):
                continue
            if isinstance(param, FloatRange):
                values[name] = trial.suggest_float(name, param.low, param.high, log=param.log)
            elif isinstance(param, Choice):
                values[name] = trial.suggest_categorical(name, list(param.choices))
            else:
                raise TypeError(f"unknown parameter type for {name}: {param!r}")
        return values


def optuna_sampler(name: str, seed: int):
    if name == "tpe":
        # multivariate TPE models the parameters jointly: distil, temperature and alpha interact
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}; use tpe or nsga2")


def optuna_storage(url: str) -> optuna.storages.RDBStorage:
    """The database of an Optuna study (``sqlite:///...``, ``postgresql://...``)."""
    return optuna.storages.RDBStorage(url)


def optuna_searcher(
    *,
    space: Mapping[str, Param],
    points: Sequence[Mapping[str, Any]],
    storage: optuna.storages.RDBStorage,
    study_name: str,
    sampler: str,
    seed: int,
    objectives: Mapping[str, str] = M.OBJECTIVES,
    base: Mapping[str, Any] | None = None,
):
    """A multi-objective ``OptunaSearch`` whose study lives in ``storage``, over ``space`` as a
    :class:`ConditionalSpace` (``base``: the study's trial config, for parents not searched).

    The metric and mode lists go to the searcher only: a single metric/mode in ``TuneConfig``
    as well would silently make the study single-objective. The seed ``points`` are enqueued
    in the stored study (``skip_if_exists``: a restarted study does not run them again);
    Optuna's ``ask`` hands them out first.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names, modes = list(objectives), list(objectives.values())
    # Create (or load) the study first to name its objectives; OptunaSearch then loads it.
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        directions=["maximize" if m == "max" else "minimize" for m in modes],
        load_if_exists=True,
    )
    if study.metric_names != names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)
    for point in points:
        study.enqueue_trial(dict(point), skip_if_exists=True)
    return _RecordingOptunaSearch(
        space=ConditionalSpace(space, base or {}),
        metric=names,
        mode=modes,
        sampler=optuna_sampler(sampler, seed),
        study_name=study_name,
        storage=storage,
    )


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
