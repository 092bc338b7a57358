"""Names for the points of a plot: a configuration in the paper's words, and numbered marks.

A crowded front cannot carry its configurations as text beside each point. Every front point gets
a short mark instead (``1``, ``2``, ... in the order of the first objective, best first), drawn
beside the point in every view, and a key lists what each mark stands for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from analysis.rows import CONFIGURATION, RANK
from search_spaces.extended import LEVERS
from search_spaces.paper import PAPER_ALPHA_DISTIL, PAPER_TEMPERATURE
from trainables.metrics import (
    ENERGY_ESTIMATED,
    ENERGY_MEASURED,
    ENERGY_METHOD,
    KIND_BASELINE,
    KIND_CLASSICAL,
    TARGET_DENSITY,
)

# More numbered points than this make the key unreadable: the front is then left unnumbered
# (the HTML still names every point on hover).
MAX_MARKED = 40
CLASSICAL_LABEL = "TF-IDF + LR"  # char n-gram TF-IDF features, logistic regression


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value) and not (isinstance(value, float) and math.isnan(value))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def levers(row: Mapping[str, Any]) -> list[str]:
    """The extended grid's levers a trial's settings pull (``search_spaces.extended.LEVERS``):
    ``heads`` (attention scored per head), ``int8``, ``vocab`` (a trimmed vocabulary).

    >>> levers({"attention_block": "head", "quantize": "int8", "vocab_trim": "False"})
    ['heads', 'int8']
    """
    return [
        name
        for name, settings in LEVERS
        if all(
            _is_true(row.get(key)) if isinstance(value, bool) else str(row.get(key)) == value
            for key, value in settings.items()
        )
    ]


def config_label(row: Mapping[str, Any]) -> str:
    """A short description of a trial's configuration, in the paper's words.

    ``target_density`` 0.75 is "25% pruning"; distillation adds "+ KD", with its temperature and
    alpha when they differ from the paper's. The classical reference (``kind == "classical"``)
    is "TF-IDF + LR". Other rows without a target density fall back to their name or trial id.
    The extended grid's levers follow in its words (:func:`levers`).

    >>> config_label({"kind": "prune", "target_density": 0.75, "distil": True,
    ...               "temperature": 2.0, "alpha_distil": 0.9})
    '25% pruning + KD'
    >>> config_label({"kind": "prune", "target_density": 0.4, "distil": True, "temperature": 4.0,
    ...               "alpha_distil": 0.5})
    '60% pruning + KD (T=4, α=0.5)'
    >>> config_label({"kind": "classical", "name": "classical"})
    'TF-IDF + LR'
    >>> config_label({"kind": "baseline", "quantize": "int8"})
    'baseline + int8'
    >>> config_label({"kind": "prune", "target_density": 0.25, "distil": True,
    ...               "attention_block": "head", "quantize": "int8"})
    '75% pruning + KD + heads + int8'
    >>> config_label({"kind": "prune", "target_density": 0.5, "distil": True,
    ...               "drop_layer_share": 0.25, "layer_selection": "top"})
    'drop 25% layers + 50% pruning + KD'
    """
    name = row.get("name")
    kind = str(row.get("kind", "")).lower()
    if kind == KIND_BASELINE or str(name).lower() == KIND_BASELINE:
        return " + ".join([KIND_BASELINE, *levers(row)])  # the teacher, as is or int8 / trimmed
    if kind == KIND_CLASSICAL:
        return CLASSICAL_LABEL
    density = _number(row.get(TARGET_DENSITY))
    if math.isnan(density):
        fallback = next((v for v in (name, row.get("trial_id")) if _present(v)), "?")
        return str(fallback)
    width = f"{(1.0 - density) * 100:.0f}% pruning"
    depth = depth_label(row)
    label = " + ".join([depth, width] if depth and density < 1 else [depth or width])
    if _is_true(row.get("distil")):
        label += " + KD"
        temperature = _number(row.get("temperature", PAPER_TEMPERATURE))
        alpha = _number(row.get("alpha_distil", PAPER_ALPHA_DISTIL))
        if not (
            math.isclose(temperature, PAPER_TEMPERATURE) and math.isclose(alpha, PAPER_ALPHA_DISTIL)
        ):
            label += f" (T={temperature:g}, α={alpha:g})"
    return " + ".join([label, *levers(row)])


def depth_label(row: Mapping[str, Any]) -> str:
    """The layers a trial drops, in the depth grid's words ("" when none): a share of the
    teacher's layers or a count, and the selection rule when it is not the default ``top``.

    >>> depth_label({"drop_layer_share": 0.5, "layer_selection": "learned"})
    'drop 50% layers (learned)'
    >>> depth_label({"drop_layers": 2}), depth_label({"drop_layer_share": 0.0})
    ('drop 2 layers', '')
    """
    share, count = _number(row.get("drop_layer_share")), _number(row.get("drop_layers"))
    if share > 0:
        text = f"drop {share * 100:.0f}% layers"
    elif count > 0:
        text = f"drop {count:.0f} layer{'s' if count > 1 else ''}"
    else:
        return ""
    selection = row.get("layer_selection")
    return text + (f" ({selection})" if _present(selection) and selection != "top" else "")


def energy_estimated(table: pd.DataFrame) -> bool:
    """Whether the table's energy and emissions are CodeCarbon's estimate from time: some row's
    ``energy_method`` says ``estimated from time`` and none says ``measured`` (rows without a
    reading, energy off or failed, say neither). Axes and summaries then say "estimated".

    >>> energy_estimated(pd.DataFrame({"energy_method": [
    ...     "estimated from time (cpu: TDP x load estimate; ram: size estimate); machine tracking",
    ...     "disabled"]}))
    True
    >>> energy_estimated(pd.DataFrame({"energy_method": ["measured (cpu: RAPL)"]}))
    False
    """
    if ENERGY_METHOD not in table.columns:
        return False
    methods = table[ENERGY_METHOD].dropna().astype(str)
    estimated = methods.str.contains(f"{ENERGY_ESTIMATED} (", regex=False)
    measured = methods.str.contains(f"{ENERGY_MEASURED} (", regex=False)
    return bool(estimated.any()) and not bool(measured.any())


def point_label(row: Mapping[str, Any]) -> str:
    """What a plotted point is: a per-configuration row's ``configuration`` label, else
    :func:`config_label`.

    >>> point_label({"configuration": "50% pruning #2", "target_density": 0.5})
    '50% pruning #2'
    """
    label = row.get(CONFIGURATION)
    return str(label) if _present(label) and str(label) else config_label(row)


def number_front(
    table: pd.DataFrame, objectives: Mapping[str, str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Marks for the rows of a ranked table (``rank`` 0 is the front), and the key.

    Front rows with equal objective values share one number; their key entry names each
    configuration once, with ``×n`` for repeats. A label that names two numbers gets the trial id.
    Rows off the front, and every row of a front with more than ``MAX_MARKED`` places, get ``""``.

    >>> t = pd.DataFrame({"name": ["a", "b", "c", "d"], "speedup": [1.0, 2.0, 2.0, 1.5],
    ...                   "rank": [0, 0, 0, 1]})
    >>> number_front(t, {"speedup": "max"})
    (['2', '1', '1', ''], [('1', 'b / c'), ('2', 'a')])
    """
    marks = [""] * len(table)
    ranks = table[RANK].to_numpy()
    front = [i for i in range(len(table)) if ranks[i] == 0]
    direction = next(iter(objectives.values()))
    values = table[list(objectives)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    best_first = sorted(front, key=lambda i: values[i][0] * (-1 if direction == "max" else 1))
    places: dict[tuple[float, ...], list[int]] = {}
    for i in best_first:
        places.setdefault(tuple(values[i]), []).append(i)
    if len(places) > MAX_MARKED:
        return marks, []
    rows = table.to_dict("records")
    labels = [point_label(r) for r in rows]
    ids = [str(r.get("trial_id", i)) for i, r in enumerate(rows)]
    named: list[str] = []
    for members in places.values():
        names = list(dict.fromkeys(labels[i] for i in members))
        repeat = len(names) == 1 < len(members)
        named.append(f"{names[0]} ×{len(members)}" if repeat else " / ".join(names))
    used = pd.Series([labels[m[0]] for m in places.values()]).value_counts()
    key: list[tuple[str, str]] = []
    for number, (members, label) in enumerate(zip(places.values(), named, strict=True), 1):
        if used[labels[members[0]]] > 1 and len(members) == 1:
            label += f" #{ids[members[0]]}"
        for i in members:
            marks[i] = str(number)
        key.append((str(number), label))
    return marks, key


def merge_marks(xs: Sequence[float], ys: Sequence[float], marks: Sequence[str]) -> list[str]:
    """One mark per place: distinct marks drawn at the same point are joined (``"2,3"``) on the
    first of them and cleared on the others, so no two numbers are printed over each other.

    >>> merge_marks([1, 1, 2], [5, 5, 5], ["2", "3", "1"])
    ['2,3', '', '1']
    """
    merged = list(marks)
    first: dict[tuple[float, float], int] = {}
    for i, (x, y, mark) in enumerate(zip(xs, ys, marks, strict=True)):
        if not mark:
            continue
        if (x, y) not in first:
            first[(x, y)] = i
            continue
        j = first[(x, y)]
        if mark not in merged[j].split(","):
            merged[j] += f",{mark}"
        merged[i] = ""
    return merged


def mark_side(mark: str, falling: bool = True) -> tuple[int, int]:
    """Where a mark goes beside its point, as signs ``(dx, dy)``: neighbours along the front
    (consecutive numbers) alternate sides across the front. A falling front (top left to bottom
    right) puts odd numbers up-right and even ones down-left; a rising one up-left / down-right.

    >>> mark_side("3"), mark_side("2,5"), mark_side("2", falling=False), mark_side("A")
    ((1, 1), (-1, -1), (1, -1), (1, 1))
    """
    first = mark.split(",")[0]
    up = 1 if not first.isdigit() or int(first) % 2 == 1 else -1
    return (up if falling else -up), up
