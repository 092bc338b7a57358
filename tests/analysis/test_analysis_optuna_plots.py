"""Optuna's own figures of a 3-objective search study, written beside ours."""

from __future__ import annotations

import optuna
import pytest

from analysis import hypervolume_reference, write_optuna_plots
from trainables.metrics import EMISSIONS_KG, SPEEDUP, VAL_ACCURACY

COMPLETE = optuna.trial.TrialState.COMPLETE
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def _study(url: str, values: list[list[float] | None]) -> optuna.Study:
    study = optuna.create_study(
        study_name="sweep", storage=url, directions=["maximize", "maximize", "minimize"]
    )
    study.set_metric_names([VAL_ACCURACY, SPEEDUP, EMISSIONS_KG])
    density = optuna.distributions.FloatDistribution(0.05, 0.95)
    for i, point in enumerate(values):
        study.add_trial(
            optuna.trial.create_trial(
                params={"target_density": 0.1 + 0.1 * i},
                distributions={"target_density": density},
                values=point,
                state=COMPLETE if point is not None else optuna.trial.TrialState.FAIL,
            )
        )
    return study


def test_optuna_figures_for_a_three_objective_study(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    points = [[0.78, 2.0, 1e-6], [0.79, 1.1, 2e-6], [0.70, 1.2, 3e-6], [0.75, 3.0, 0.8e-6], None]
    _study(url, points)
    written = write_optuna_plots(url, "sweep", tmp_path / "plots")
    assert written == {
        "pareto_front": tmp_path / "plots" / "optuna_pareto_front.html",
        "hypervolume_history": tmp_path / "plots" / "optuna_hypervolume_history.html",
    }
    for path in written.values():
        page = path.read_text(encoding="utf-8")
        assert len(page) > 1_000_000  # plotly.js embedded: opens offline
    assert VAL_ACCURACY in written["pareto_front"].read_text(encoding="utf-8")  # metric names
    again = write_optuna_plots(url, None, tmp_path / "again")  # the storage's only study
    assert set(again) == {"pareto_front", "hypervolume_history"}


def test_reference_point_is_worse_than_every_completed_trial() -> None:
    values = [[0.78, 2.0, 1e-6], [0.79, 1.1, 2e-6], [0.70, 1.2, 3e-6]]
    reference = hypervolume_reference(values, [True, True, False])
    assert reference == pytest.approx([0.70 - 0.009, 1.1 - 0.09, 3e-6 + 0.2e-6])
    for point in values:
        assert point[0] > reference[0] and point[1] > reference[1] and point[2] < reference[2]
    assert hypervolume_reference([[2.0, 0.0]], [False, True]) == pytest.approx([2.2, -0.1])


def test_no_completed_trial_writes_nothing(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    _study(url, [None])
    with pytest.warns(UserWarning, match="no completed trial"):
        assert write_optuna_plots(url, "sweep", tmp_path) == {}
    optuna.create_study(study_name="single", storage=url)
    with pytest.warns(UserWarning, match="one objective"):
        assert write_optuna_plots(url, "single", tmp_path) == {}
    assert not list(tmp_path.glob("*.html"))
    with pytest.raises(ValueError, match="cannot open"):
        write_optuna_plots("foo://bar", "sweep", tmp_path)
