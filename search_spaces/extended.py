"""Beyond the paper: its seven rows, then at each density with KD one lever added at a time.

Each KD row of Table I gets three successors: whole-head pruning (attention scored per head,
FFN per neuron), then dynamic int8 of the compact model, then the vocabulary trimmed to the
pieces the training texts use. One grid shows how far each lever moves the front.

>>> rows = extended_grid()
>>> len(rows), rows[7]["name"], rows[-1]["name"]
(16, '25% pruning + KD + heads', '75% pruning + KD + heads + int8 + vocab')
"""

from __future__ import annotations

from search_spaces.paper import paper_grid

# Each lever: the name it adds and the trial settings it sets (on top of the previous ones).
LEVERS: tuple[tuple[str, dict[str, object]], ...] = (
    ("heads", {"attention_block": "head"}),
    ("int8", {"quantize": "int8"}),
    ("vocab", {"vocab_trim": True}),
)


def extended_grid() -> list[dict[str, object]]:
    """The paper's grid, then for each KD run (in Table I order) the levers added one by one."""
    grid = paper_grid()
    extra: list[dict[str, object]] = []
    for run in (row for row in grid if row.get("distil")):
        point, name = dict(run), str(run["name"])
        for lever, settings in LEVERS:
            name = f"{name} + {lever}"
            point = {**point, **settings, "name": name}
            extra.append(point)
    return grid + extra
