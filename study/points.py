"""A study's points: a grid's rows once per seed, with the baseline every comparison is paired
with, the study's own levers on the teacher as a row of their own, and the classical reference.

>>> [p["name"] for p in grid_points("paper", seeds=1, first_seed=42, classical=True)][-2:]
['75% pruning + KD', 'TF-IDF + LR']
"""

from __future__ import annotations

from typing import Any

from analysis.labels import CLASSICAL_LABEL
from search_spaces.extended import LEVERS
from search_spaces.paper import TEACHER_AS_IS
from study.cli import GRIDS, UsageError
from trainables import metrics as M

# The grid's reference outside BERT: same splits, same test set, seconds to train.
CLASSICAL_POINT: dict[str, Any] = {"name": CLASSICAL_LABEL, "kind": M.KIND_CLASSICAL}
# Dropping layers needs a student to train: a row of another kind (the baseline, its levered
# row, the classical reference) runs without depth, whatever the study's settings say.
NO_DEPTH: dict[str, Any] = {"drop_layers": 0, "drop_layer_share": 0.0}


def grid_points(
    grid: str,
    *,
    seeds: int,
    first_seed: int,
    classical: bool,
    rows: list[str] | None = None,
    levered_baseline: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The grid's points (and the classical reference), each once per seed; with ``rows`` only
    the rows of those names, and the baseline, which every comparison is paired with. Rows
    that add int8 or vocabulary trimming come after the others (:func:`twins_last`).
    ``levered_baseline`` (:func:`levered_baseline`) follows the baseline as a row of its own.

    >>> points = grid_points("paper", seeds=3, first_seed=42, classical=True)
    >>> len(points), points[7]["kind"], sorted({p["seed"] for p in points})
    (24, 'classical', [42, 43, 44])
    >>> [p["name"] for p in grid_points("paper", seeds=1, first_seed=42, classical=False,
    ...                                 rows=["50% pruning + KD"])]
    ['baseline', '50% pruning + KD']
    """
    points = GRIDS[grid]()
    if rows is not None:
        names = [str(point["name"]) for point in points]
        unknown = [row for row in rows if row not in names]
        if unknown:
            raise UsageError(
                f"--rows: no row {', '.join(map(repr, unknown))} in the {grid} grid; its rows: "
                f"{', '.join(names)}"
            )
        points = [p for p in points if p["name"] in rows or p.get("kind") == M.KIND_BASELINE]
    points = twins_last(points)
    if levered_baseline is not None:
        at = next(i for i, p in enumerate(points) if p.get("kind") == M.KIND_BASELINE) + 1
        points.insert(at, dict(levered_baseline))
    points += [dict(CLASSICAL_POINT)] if classical else []
    return replicate(points, seeds, first_seed=first_seed)


def twins_last(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows that add int8 or a trimmed vocabulary after training after every other row,
    each group in its order: by the time such a row starts, the twin that trains its student
    (the same row without the lever) has usually finished, and the row reuses the student
    (:mod:`trainables.trial.students`) instead of training it again.

    >>> [p["name"] for p in twins_last([{"name": "a"}, {"name": "a8", "quantize": "int8"},
    ...                                 {"name": "b"}, {"name": "bv", "vocab_trim": True}])]
    ['a', 'b', 'a8', 'bv']
    """

    def after_training(point: dict[str, Any]) -> bool:  # a lever TEACHER_AS_IS leaves off
        trains = point.get("kind", M.KIND_PRUNE) == M.KIND_PRUNE
        return trains and any(point.get(k, v) != v for k, v in TEACHER_AS_IS.items())

    return [p for p in points if not after_training(p)] + [p for p in points if after_training(p)]


def levered_baseline(settings: dict[str, Any]) -> dict[str, Any] | None:
    """The teacher with the study's own int8 / vocabulary trimming (``--set``), as a row of its
    own ("baseline + int8"), compared like any other configuration; None without them. The
    baseline itself stays the unmodified teacher (:data:`TEACHER_AS_IS`).

    >>> levered_baseline({"quantize": "int8"})["name"]
    'baseline + int8'
    >>> levered_baseline({"quantize": "none"}) is None
    True
    """
    levers = {key: settings.get(key, value) for key, value in TEACHER_AS_IS.items()}
    if levers == TEACHER_AS_IS:
        return None
    names = [name for name, lever in LEVERS if any(levers.get(k) == v for k, v in lever.items())]
    return {"name": " + ".join(["baseline", *names]), "kind": M.KIND_BASELINE, **levers}


def replicate(points: list[dict[str, Any]], seeds: int, *, first_seed: int) -> list[dict[str, Any]]:
    """Every point once per student seed ``first_seed``, ``first_seed + 1``, ...: all points
    with the first seed, then all with the next, so an early stop still has whole replicates.
    A point that trains no student gets :data:`NO_DEPTH`.

    >>> [(p["name"], p["seed"]) for p in replicate([{"name": "a"}, {"name": "b"}], 2,
    ...                                            first_seed=7)]
    [('a', 7), ('b', 7), ('a', 8), ('b', 8)]
    >>> replicate([{"name": "baseline", "kind": "baseline"}], 1, first_seed=7)[0]["drop_layers"]
    0
    """
    points = [
        p if p.get("kind", M.KIND_PRUNE) == M.KIND_PRUNE else {**p, **NO_DEPTH} for p in points
    ]
    return [{**point, M.SEED: first_seed + i} for i in range(seeds) for point in points]
