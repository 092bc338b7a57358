"""A prune trial whose student drops half the teacher's layers, chosen by measured importance,
then pruned, distilled, vocabulary-trimmed and quantised: its row reports the depth kept and its
shipped folder loads and predicts. And the depth errors a trial raises at its start, before any
work; a share that rounds to no layer drops none and says so."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import transformers

from tests.conftest import SMALL_ROWS
from trainables import metrics as M
from trainables.compress.compaction import layer_shapes, load_compact
from trainables.compress.depth import encoder_depth
from trainables.teachers.load import load_teacher
from trainables.trial import prune, run_trial
from trainables.trial.checkpoint import checkpoint_dropped_layers


@pytest.fixture
def cfg(small_teacher, mahanews_dir: Path):
    teacher, _, cache = small_teacher

    def make(**overrides) -> dict:
        return {
            "name": "depth",
            "teacher": teacher.path,
            "data": {"data_dir": str(mahanews_dir), "variant": "shc", "max_rows": SMALL_ROWS},
            "max_length": 48,
            "cache_dir": str(cache),
            "target_density": 0.5,
            "epochs": 1,
            "block_rows": 16,
            "block_cols": 16,
            "learning_rate": 1e-3,
            "distil": True,
            "timing_repeats": 2,
            "measure_energy": False,
            **overrides,
        }

    return make


def test_a_learned_half_depth_trial_reports_its_layers_and_ships_them(
    cfg, small_teacher, tmp_path: Path
) -> None:
    teacher, _, _ = small_teacher
    depth = encoder_depth(load_teacher(teacher.path)[0])
    result = run_trial(
        cfg(drop_layer_share=0.5, layer_selection="learned", vocab_trim=True, quantize="int8"),
        report=lambda metrics, checkpoint: None,
        trial_dir=tmp_path,
    )
    assert result[M.LAYERS] == depth // 2 and result[M.LAYERS_DROPPED] == depth - depth // 2
    for name in (M.ACCURACY, M.SPEEDUP, M.SPEEDUP_IDEAL):
        assert math.isfinite(result[name]), name
    # the dropped layer counts as pruned weight: at most half the teacher's encoder is left
    assert result[M.DENSITY] <= 0.5 and result[M.SPEEDUP_IDEAL] > 1.5
    folder = Path(result["model_dir"])
    model = load_compact(folder)
    assert encoder_depth(model) == depth // 2 == len(layer_shapes(model))
    auto = transformers.AutoModelForSequenceClassification.from_pretrained(folder)
    assert encoder_depth(auto) == depth // 2
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"layers: {depth // 2} kept of the teacher's {depth}" in card
    assert "layer-dropping" in card and "50% of the encoder layers dropped (learned)" in card
    from trainables.commands.predict import main as predict

    assert predict([str(folder), "--text", "मुंबई शहरात आज पाऊस"]) == 0


def test_the_baseline_row_reports_the_teachers_depth(cfg, small_teacher, tmp_path: Path) -> None:
    teacher, _, _ = small_teacher
    depth = encoder_depth(load_teacher(teacher.path)[0])
    result = run_trial(
        cfg(kind="baseline", timing_repeats=1), report=lambda m, c: None, trial_dir=tmp_path
    )
    assert result[M.LAYERS] == depth and result[M.LAYERS_DROPPED] == 0


def test_dropping_every_layer_is_refused_before_any_work(
    cfg, small_teacher, tmp_path: Path
) -> None:
    teacher, _, _ = small_teacher
    depth = encoder_depth(load_teacher(teacher.path)[0])
    reports: list = []
    with pytest.raises(
        ValueError,
        match=f"cannot drop {depth} layers of a {depth}-layer encoder: drop at most {depth - 1}",
    ):
        run_trial(cfg(drop_layers=depth), report=lambda m, c: reports.append(m), trial_dir=tmp_path)
    assert reports == [] and not (tmp_path / "checkpoints").exists()


def test_a_share_that_rounds_to_no_layer_drops_none_and_says_so(
    cfg, small_teacher, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    teacher, _, _ = small_teacher
    depth = encoder_depth(load_teacher(teacher.path)[0])
    share = 0.4 / depth  # round(0.4) = 0
    result = run_trial(cfg(drop_layer_share=share), report=lambda m, c: None, trial_dir=tmp_path)
    assert result[M.LAYERS] == depth and result[M.LAYERS_DROPPED] == 0
    assert f"drop_layer_share={share} of a {depth}-layer teacher rounds to 0" in (
        capsys.readouterr().err
    )


class _Stop(Exception):
    pass


def test_an_interrupted_depth_trial_resumes_with_the_same_layers(
    cfg, small_teacher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The student is rebuilt on resume from the layers its checkpoint names (learned ones are
    not measured again) and its checkpoint loads into it: the trial finishes where it stopped,
    at the same depth."""
    teacher, _, _ = small_teacher
    depth = encoder_depth(load_teacher(teacher.path)[0])
    measured: list[list[int]] = []
    learned = prune.learned_layers_to_drop

    def record(*args, **kwargs) -> list[int]:
        measured.append(learned(*args, **kwargs))
        return measured[-1]

    monkeypatch.setattr(prune, "learned_layers_to_drop", record)

    def stop_after_first(metrics: dict, checkpoint: Path | None) -> None:
        if metrics[M.EPOCH] == 1:
            raise _Stop

    config = cfg(drop_layer_share=0.5, layer_selection="learned", epochs=2)
    with pytest.raises(_Stop):
        run_trial(config, report=stop_after_first, trial_dir=tmp_path)
    assert len(measured) == 1
    assert checkpoint_dropped_layers(tmp_path / "checkpoints" / "epoch_001") == measured[0]
    resumed: list[int] = []
    result = run_trial(
        config,
        report=lambda metrics, checkpoint: resumed.append(metrics[M.EPOCH]),
        trial_dir=tmp_path,
        restore_from=tmp_path / "checkpoints" / "epoch_001",
    )
    assert resumed == [2, 2] and result[M.RESUMED_FROM_EPOCH] == 1
    assert result[M.LAYERS] == depth // 2 and len(measured) == 1
