"""The multi-objective search space around the paper's grid, and its seed points (pure data).

Ranges are plain dataclasses so this module needs neither Ray nor Optuna; ``study.tuner`` turns
them into Optuna distributions. The six compression runs of Table I are the search's
``points_to_evaluate``: the sampler starts from what the paper measured.

>>> space = optuna_space()
>>> sorted(space)
['alpha_distil', 'distil', 'target_density', 'temperature']
>>> paper_points(space)[0]
{'target_density': 0.75, 'distil': False, 'temperature': 2.0, 'alpha_distil': 0.9}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from search_spaces.extended import LAYER_SELECTIONS, extended_grid
from search_spaces.paper import paper_grid


@dataclass(frozen=True)
class FloatRange:
    """A float between ``low`` and ``high`` (both included), sampled on a log scale if ``log``."""

    low: float
    high: float
    log: bool = False

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high


@dataclass(frozen=True)
class Choice:
    """One of a few values."""

    choices: tuple[object, ...]

    def __contains__(self, value: object) -> bool:
        return value in self.choices


Param = FloatRange | Choice

# Around the grid: kept density from near-dense to near-empty, the distillation switch, its
# temperature on a log scale (2.0 is the block-pruning reference's) and the soft-target weight.
SPACE: dict[str, Param] = {
    "target_density": FloatRange(0.05, 0.95),
    "distil": Choice((False, True)),
    "temperature": FloatRange(1.0, 10.0, log=True),
    "alpha_distil": FloatRange(0.0, 1.0),
}
# Searched only when asked for (``--also-search``).
EXTRA: dict[str, Param] = {
    # the weights' learning rate; the seed points keep the study's own value
    "learning_rate": FloatRange(1e-5, 1e-3, log=True),
    # L1 strength of sigmoid_threshold pruning; it sets the density in place of `target_density`
    "regularization_lambda": FloatRange(0.1, 100.0, log=True),
    # pruning granularity of attention: blocks, or whole heads
    "attention_block": Choice(("block", "head")),
    # dynamic int8 of the compact model (CPU studies)
    "quantize": Choice(("none", "int8")),
    # the vocabulary trimmed to the pieces the training texts use
    "vocab_trim": Choice((False, True)),
    # depth: the share of the teacher's layers dropped (whole layers of a 4- or 12-layer
    # teacher) and which ones
    "drop_layer_share": Choice((0.0, 0.25, 0.5, 0.75)),
    "layer_selection": Choice(LAYER_SELECTIONS),
}
_UNSET = object()
# With depth in the space, width may stay whole (density 1.0: the grid's depth-only rows).
DEPTH_DENSITY = FloatRange(0.05, 1.0)
# ``--also-search levers``: every lever beyond the paper's, in one search.
LEVER_NAMES = ("attention_block", "quantize", "vocab_trim", "drop_layer_share", "layer_selection")
# A parameter searched only when its parent's value is truthy (distillation on, layers
# dropped); otherwise the trial keeps the study's value and the sampler spends nothing on it.
PARENTS = {
    "temperature": "distil",
    "alpha_distil": "distil",
    "layer_selection": "drop_layer_share",
}
# A lambda search prunes by sigmoid threshold, so the target density leaves the space.
REPLACES = {"regularization_lambda": "target_density"}


def optuna_space(extra: tuple[str, ...] | list[str] = ()) -> dict[str, Param]:
    """The search space: :data:`SPACE` plus the named :data:`EXTRA` parameters.

    >>> sorted(optuna_space(["regularization_lambda"]))
    ['alpha_distil', 'distil', 'regularization_lambda', 'temperature']
    """
    extra = [n for name in extra for n in (LEVER_NAMES if name == "levers" else (name,))]
    unknown = [name for name in extra if name not in EXTRA]
    if unknown:
        raise ValueError(
            f"cannot search {', '.join(unknown)}; searchable besides the paper's parameters: "
            f"{', '.join(EXTRA)}, or levers (all of {', '.join(LEVER_NAMES)})"
        )
    space = dict(SPACE)
    for name in extra:
        space.pop(REPLACES.get(name, ""), None)
        space[name] = EXTRA[name]
    if "drop_layer_share" in space and "target_density" in space:
        space["target_density"] = DEPTH_DENSITY  # depth alone keeps every block
    return space


def paper_points(
    space: Mapping[str, Param], defaults: Mapping[str, object] | None = None
) -> list[dict[str, object]]:
    """The paper's six compression runs as points of ``space``, in Table I order.

    A point needs a value for every parameter of the space: parameters the paper's grid does not
    set come from ``defaults`` (e.g. the study's learning rate). With no way to express the
    paper's runs (a lambda search has no target density) there are no points.

    >>> paper_points(optuna_space(["learning_rate"]), {"learning_rate": 1e-4})[3]["learning_rate"]
    0.0001
    """
    defaults = dict(defaults or {})
    points = []
    for run in paper_grid():
        if run["kind"] == "baseline":
            continue  # the teacher itself: nothing to search
        values = {**defaults, **run}
        if any(name not in values for name in space):
            return []
        point = {name: values[name] for name in space}
        outside = [f"{n}={v}" for n, v in point.items() if v not in space[n]]
        if outside:
            raise ValueError(f"paper point {run['name']!r} lies outside the space: {outside}")
        points.append(point)
    return points


def seed_points(
    space: Mapping[str, Param],
    defaults: Mapping[str, object] | None = None,
    *,
    grid: str = "paper",
) -> list[dict[str, object]]:
    """The search's first points: the paper's six runs (:func:`paper_points`), then with
    ``grid="extended"`` every other compression row of the extended grid that ``space`` can
    express (a row setting a parameter the space lacks to another value than the study's is left
    out), without repeats.

    >>> space = optuna_space(["levers"])
    >>> points = seed_points(space, {"attention_block": "block", "quantize": "none",
    ...                              "vocab_trim": False, "drop_layer_share": 0.0,
    ...                              "layer_selection": "top"}, grid="extended")
    >>> len(points), points[-1]["drop_layer_share"], points[-1]["quantize"]
    (27, 0.5, 'int8')
    >>> len(seed_points(optuna_space(), grid="extended"))  # width only: the paper's six
    6
    """
    if grid not in ("paper", "extended"):
        raise ValueError(f"seed points come from the paper or the extended grid, got {grid!r}")
    defaults = dict(defaults or {})
    points = paper_points(space, defaults)
    for row in extended_grid() if grid == "extended" and points else []:
        values = {**defaults, **row}
        point = {name: values[name] for name in space if name in values}
        expressible = len(point) == len(space) and all(v in space[n] for n, v in point.items())
        if row["kind"] == "baseline" or not expressible:
            continue
        if all(
            defaults.get(k, _UNSET) == v
            for k, v in row.items()
            if k not in (*space, "name", "kind")
        ):
            points.append(point)
    unique = {tuple(sorted(point.items())): point for point in points}
    return list(unique.values())


def active_parameters(
    space: Mapping[str, Param],
    point: Mapping[str, object],
    base: Mapping[str, object] | None = None,
) -> list[str]:
    """The parameters of ``space`` a point sets: each one whose parent (:data:`PARENTS`), as the
    point has it or else ``base``, is truthy.

    >>> active_parameters(optuna_space(), {"target_density": 0.5, "distil": False})
    ['target_density', 'distil']
    """
    base = dict(base or {})
    names: list[str] = []
    for name in space:
        parent = PARENTS.get(name)
        if parent is None or point.get(parent, base.get(parent)):
            names.append(name)
    return names
