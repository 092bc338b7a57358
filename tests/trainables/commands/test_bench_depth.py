"""The depth benchmark on the tiny shape: behaviour only (which rows, their depth, density and
ideal speedup), never its timings."""

from __future__ import annotations

import json

import pytest

from trainables import metrics as M
from trainables.commands.bench_depth import main


def test_the_depth_bench_times_every_depth_alone_pruned_and_in_int8(capsys) -> None:
    assert main(["--shape", "tiny", "--repeats", "1", "--batch-size", "2", "--seq-len", "16"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["models"]
    by = {row["name"]: row for row in rows}
    dense = ["3 layers", "2 layers", "1 layers"]
    pruned = [f"{layers} layers @0.25" for layers in (4, 3, 2, 1)]
    assert sorted(by) == sorted([*dense, *pruned, *(f"{n} +int8" for n in dense + pruned)])
    assert [by[name][M.LAYERS] for name in dense] == [3, 2, 1]
    # a dropped layer counts as pruned weight; alone, depth is the only change
    assert [by[name][M.DENSITY] for name in dense] == pytest.approx([0.75, 0.5, 0.25])
    ideal = [by[name][M.SPEEDUP_IDEAL] for name in dense]
    assert 1.0 < ideal[0] < ideal[1] < ideal[2]
    for layers in (3, 2, 1):  # width on top of depth: fewer FLOPs again
        both = by[f"{layers} layers @0.25"]
        assert both[M.SPEEDUP_IDEAL] > by[f"{layers} layers"][M.SPEEDUP_IDEAL]
        assert both[M.DENSITY] < by[f"{layers} layers"][M.DENSITY]
    assert all(row[M.SPEEDUP] > 0 for row in rows)
    assert by["2 layers +int8"]["quantize"] == "int8" and by["2 layers"]["quantize"] == "none"


def test_the_depth_bench_refuses_dropping_every_layer() -> None:
    with pytest.raises(ValueError, match="cannot drop 4 layers of a 4-layer encoder"):
        main(["--shape", "tiny", "--drop", "4"])
