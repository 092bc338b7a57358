"""One search over every lever: the space, its conditions, its seed points and the depth grid."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_spaces.extended import depth_grid, extended_grid
from search_spaces.optuna_space import LEVER_NAMES, FloatRange, optuna_space, seed_points
from study.points import grid_points, levered_baseline
from trainables.config import TrialConfig

STUDY = {"attention_block": "block", "quantize": "none", "vocab_trim": False,
         "drop_layer_share": 0.0, "layer_selection": "top"}  # fmt: skip


def test_levers_search_every_lever_and_let_width_stay_whole() -> None:
    space = optuna_space(["levers"])
    assert set(LEVER_NAMES) <= set(space) and "target_density" in space
    assert space["target_density"] == FloatRange(0.05, 1.0)  # depth alone keeps every block
    assert optuna_space()["target_density"].high == 0.95  # the width-only space is unchanged
    with pytest.raises(ValueError, match="or levers"):
        optuna_space(["depth"])


def test_the_search_starts_from_the_paper_then_the_extended_grid() -> None:
    space = optuna_space(["levers"])
    paper = seed_points(space, STUDY)
    extended = seed_points(space, STUDY, grid="extended")
    assert len(paper) == 6 and extended[:6] == paper
    # every compression row of the extended grid is a point of the space, once
    rows = [r for r in extended_grid() if r["kind"] == "prune"]
    assert len(extended) == len(rows) == 27
    assert {p["drop_layer_share"] for p in extended} == {0.0, 0.25, 0.5, 0.75}
    assert all(TrialConfig.from_dict({**STUDY, **p}) for p in extended)
    # without int8 and heads in the space, rows that set them (to other values than the
    # study's) are left out: the paper's six and the six depth rows in fp32 remain
    depth = seed_points(optuna_space(["drop_layer_share"]), STUDY, grid="extended")
    assert len(depth) == 12 and sum(p["drop_layer_share"] > 0 for p in depth) == 6


def test_conditional_parameters_are_searched_only_under_their_parent(tmp_path: Path) -> None:
    from study.searchers import optuna_searcher, optuna_storage

    space = optuna_space(["levers"])
    searcher = optuna_searcher(
        space=space, points=seed_points(space, STUDY, grid="extended"),
        storage=optuna_storage(f"sqlite:///{tmp_path / 'o.db'}"), study_name="s",
        sampler="tpe", seed=0, base=STUDY,
    )  # fmt: skip
    configs = [searcher.suggest(f"t{i}") for i in range(40)]
    first = {"target_density": 0.75, "distil": False, "drop_layer_share": 0.0}
    assert configs[0] == {**first, "attention_block": "block", "quantize": "none",
                          "vocab_trim": False}  # fmt: skip
    for config in configs:
        assert ("temperature" in config) == config["distil"]
        assert ("layer_selection" in config) == (config["drop_layer_share"] > 0)
        assert all(value in space[name] for name, value in config.items())
    sampled = configs[27:]  # after the seed points: Optuna's own
    assert any(c["drop_layer_share"] > 0 for c in sampled)


def test_the_depth_grid_matches_each_width_row_in_ideal_compute() -> None:
    rows = depth_grid()
    assert rows[0]["kind"] == "baseline" and len(rows) == 19
    for row in rows[1:]:
        kept = (1 - float(row.get("drop_layer_share", 0.0))) * float(row["target_density"])
        assert row["distil"] and round(kept, 6) in (0.75, 0.5, 0.25), row["name"]
        TrialConfig.from_dict(row | {"name": row["name"]})
    names = [p["name"] for p in grid_points("depth", seeds=1, first_seed=1, classical=False)]
    assert names[:3] == ["baseline", "25% pruning + KD", "50% pruning + KD"]
    # each int8 row after every row that trains, its twin among them (it reuses that student)
    first_int8 = next(i for i, name in enumerate(names) if name.endswith("+ int8"))
    assert all(name.endswith("+ int8") for name in names[first_int8:]) and first_int8 == 10
    assert names[-1] == "drop 50% layers + 50% pruning + KD + int8"


def test_a_study_dropping_layers_keeps_its_baseline_whole() -> None:
    assert levered_baseline({"drop_layer_share": 0.5}) is None
    study = {"drop_layer_share": 0.5, "quantize": "int8"}
    points = grid_points(
        "paper", seeds=1, first_seed=1, classical=False, levered_baseline=levered_baseline(study)
    )
    levered = TrialConfig.from_dict({**study, **points[1]})
    assert (levered.name, levered.quantize, levered.drop_layer_share) == (
        "baseline + int8",
        "int8",
        0,
    )


def test_a_searched_configuration_is_named_like_the_grid_row_it_matches() -> None:
    from analysis.labels import config_label

    for row in depth_grid():
        assert config_label(row) == row["name"]


def test_a_study_wide_depth_setting_leaves_the_baseline_and_the_reference_whole() -> None:
    study = {"drop_layer_share": 0.5, "layer_selection": "middle"}
    for point in grid_points("paper", seeds=1, first_seed=1, classical=True):
        config = TrialConfig.from_dict({**study, **point})
        whole = config.kind != "prune"
        assert (config.drop_layer_share == 0.0) == whole, point["name"]


def test_the_configuration_table_shows_forward_only_and_ideal_speed_and_depth() -> None:
    import pandas as pd

    from study.markdown import configs_markdown
    from trainables import metrics as M

    configs = pd.DataFrame(
        {
            "configuration": ["baseline", "drop 50% layers + KD"],
            "n_seeds": [3, 3],
            f"{M.SPEEDUP}_mean": [1.0, 1.7],
            f"{M.SPEEDUP_FORWARD}_mean": [1.0, 1.9],
            f"{M.SPEEDUP_IDEAL}_mean": [1.0, 2.0],
            f"{M.LAYERS}_mean": [4.0, 2.0],
        }
    )
    text = configs_markdown(configs)
    header = next(line for line in text.splitlines() if line.startswith("| configuration"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    row = next(line for line in text.splitlines() if line.startswith("| drop 50%"))
    values = dict(zip(cells, [c.strip() for c in row.strip("|").split("|")], strict=True))
    assert values["forward-only speedup × (geometric mean)"] == "1.90"
    assert values["FLOP-ideal × (timed widths)"] == "2.00" and values["layers"] == "2"
    # one depth everywhere (the classical reference has none): no layers column
    same = configs.assign(**{f"{M.LAYERS}_mean": 4.0, "kind": "prune"})
    reference = pd.DataFrame([{**same.iloc[0], "kind": "classical", f"{M.LAYERS}_mean": 0.0}])
    assert "| layers |" not in configs_markdown(pd.concat([same, reference], ignore_index=True))
