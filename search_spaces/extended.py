"""Beyond the paper: its seven rows, each width lever added one at a time, then depth.

Each KD row of Table I gets three successors: whole-head pruning (attention scored per head,
FFN per neuron), then dynamic int8 of the compact model, then the vocabulary trimmed to the
pieces the training texts use. Then depth (:func:`depth_rows`): the same three speeds reached by
dropping layers instead of pruning width, and by both, each also in int8. One grid shows how
far each lever moves the front.

>>> rows = extended_grid()
>>> len(rows), rows[7]["name"], rows[15]["name"]
(28, '25% pruning + KD + heads', '75% pruning + KD + heads + int8 + vocab')
>>> rows[16]["name"], rows[-1]["name"]
('drop 25% layers + KD', 'drop 50% layers + 50% pruning + KD + int8')
"""

from __future__ import annotations

from search_spaces.paper import paper_grid

# Each lever: the name it adds and the trial settings it sets (on top of the previous ones).
LEVERS: tuple[tuple[str, dict[str, object]], ...] = (
    ("heads", {"attention_block": "head"}),
    ("int8", {"quantize": "int8"}),
    ("vocab", {"vocab_trim": True}),
)
INT8 = LEVERS[1]
# Which layers a depth row drops (trainables.compress.depth implements each rule; defined here,
# free of torch, for the search space too).
LAYER_SELECTIONS = ("top", "bottom", "middle", "alternate", "learned")

# Depth and width at matched ideal speed: (share of layers dropped, kept width density), whose
# kept fraction of encoder compute (1 - share) x density matches a KD row of Table I (0.75,
# 0.5, 0.25). Shares of a quarter keep whole layers on a 4-layer tiny teacher (drop 1, 2, 3)
# and on a 12-layer one (drop 3, 6, 9); the joint rows take one quarter or one half of the
# layers and prune the rest of the way in width.
DEPTH_ONLY: tuple[float, ...] = (0.25, 0.5, 0.75)
DEPTH_AND_WIDTH: tuple[tuple[float, float], ...] = ((0.25, 2 / 3), (0.25, 1 / 3), (0.5, 0.5))


def _percent(fraction: float) -> str:
    return f"{round(100 * fraction)}%"


def _kd_point(name: str, density: float, share: float) -> dict[str, object]:
    kd = next(row for row in paper_grid() if row.get("distil"))
    return {**kd, "name": name, "target_density": density, "drop_layer_share": share}


def depth_rows() -> list[dict[str, object]]:
    """Depth alone, then depth with width, each with KD and then also in int8.

    ``target_density`` 1.0 prunes no width (the masks keep every block); ``drop_layer_share``
    is resolved against the teacher's depth at trial start, the layers chosen by the study's
    ``layer_selection`` (default ``top``).

    >>> [(r["name"], round(r["target_density"], 3)) for r in depth_rows()][6:8:2]
    [('drop 25% layers + 33% pruning + KD', 0.667)]
    """
    points = [_kd_point(f"drop {_percent(s)} layers + KD", 1.0, s) for s in DEPTH_ONLY]
    points += [
        _kd_point(f"drop {_percent(s)} layers + {_percent(1 - d)} pruning + KD", d, s)
        for s, d in DEPTH_AND_WIDTH
    ]
    name, settings = INT8
    return [
        row
        for point in points
        for row in (point, {**point, **settings, "name": f"{point['name']} + {name}"})
    ]


def extended_grid() -> list[dict[str, object]]:
    """The paper's grid, then for each KD run (in Table I order) the levers added one by one,
    then :func:`depth_rows`."""
    grid = paper_grid()
    extra: list[dict[str, object]] = []
    for run in (row for row in grid if row.get("distil")):
        point, name = dict(run), str(run["name"])
        for lever, settings in LEVERS:
            name = f"{name} + {lever}"
            point = {**point, **settings, "name": name}
            extra.append(point)
    return grid + extra + depth_rows()


def depth_grid() -> list[dict[str, object]]:
    """Depth vs width vs both at matched ideal speed: the baseline, the paper's KD rows (width),
    the same in int8, and :func:`depth_rows`.

    >>> [r["name"] for r in depth_grid()][:3]
    ['baseline', '25% pruning + KD', '25% pruning + KD + int8']
    >>> len(depth_grid())
    19
    """
    grid = paper_grid()
    name, settings = INT8
    width = [
        row
        for run in grid
        if run.get("distil")
        for row in (run, {**run, **settings, "name": f"{run['name']} + {name}"})
    ]
    return [grid[0], *width, *depth_rows()]
