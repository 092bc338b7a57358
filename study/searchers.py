"""The searchers a study's Tuner runs: the grid's fixed points (or a confirmation's), and the
multi-objective Optuna search over a conditional space, seeded with the paper's points.

The searcher sees only a trial's final report: per-epoch reports carry no objectives, and
Ray's ``OptunaSearch`` ignores intermediate results of a multi-objective study.
"""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from search_spaces.optuna_space import PARENTS, Choice, FloatRange, Param
from trainables import metrics as M


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

    A trial no better on validation than always answering the most common label (a model
    pruned past collapse) is marked infeasible (:data:`MAJORITY_CONSTRAINT`): the fastest of
    all, it would otherwise sit on the sampler's front and draw the search towards collapse.
    """

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if result and any(result.get(name) is None for name in self.metric):
            result, error = None, True  # ended without its final report: a failed trial
        trial = self._ot_trials.get(trial_id)
        if trial is not None and result and not error and trial_id not in self._completed_trials:
            trial.set_user_attr("trial_id", trial_id)
            for key in (
                *M.FINAL_METRICS,
                M.VAL_MAJORITY,
                *M.FINAL_DETAILS,
                "name",
                "kind",
                "model_dir",
            ):
                value = result.get(key)
                if value in ("", None):
                    continue
                if isinstance(value, int | float | str) and _finite(value):
                    trial.set_user_attr(key, value)
            violation = majority_violation(result)
            if violation is not None:
                trial.set_constraint(MAJORITY_CONSTRAINT, violation)
        super().on_trial_complete(trial_id, result=result, error=error)


# The Optuna constraint on a search's trials (feasible at <= 0): see majority_violation.
MAJORITY_CONSTRAINT = "above_majority"


def majority_violation(result: Mapping[str, Any]) -> float | None:
    """How far a trial's validation accuracy falls short of beating the validation's most
    common label (``val_majority - val_accuracy``; the smallest positive float where they are
    equal, since a tie is no better): an Optuna constraint, feasible at <= 0. None where the
    result lacks either number.

    >>> majority_violation({"val_accuracy": 0.8, "val_majority": 0.15})
    -0.65...
    >>> majority_violation({"val_accuracy": 0.15, "val_majority": 0.15}) > 0
    True
    """
    accuracy, majority = result.get(M.VAL_ACCURACY), result.get(M.VAL_MAJORITY)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (accuracy, majority)):
        return None
    gap = float(majority) - float(accuracy)
    return gap if gap != 0 else math.ulp(0.0)


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
