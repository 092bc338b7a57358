"""A whole trial in every encoder family: the tiny teacher built in the family (its own
tokenizer kind trained on MahaNews headlines), then block pruning + KD + vocabulary trimming +
int8 in one trial, and the model folder it ships loaded by transformers' Auto classes,
``pipeline`` and ``trainables.commands.predict``. (BERT: test_trainable.py.)"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import transformers
import yaml

from tests.conftest import SMALL_ROWS, SMALL_TEACHER_KW
from trainables import metrics as M
from trainables.compress.families import family_of
from trainables.data import DataSpec, load_splits
from trainables.presets import TINY_FAMILIES, TinyTeacherConfig
from trainables.teachers.load import load_teacher
from trainables.teachers.tiny import build_tiny_teacher
from trainables.trial import run_trial

pytestmark = pytest.mark.slow
OTHER_FAMILIES = [family for family in TINY_FAMILIES if family != "bert"]


@pytest.fixture(scope="module", params=OTHER_FAMILIES)
def family_teacher(request, tmp_path_factory: pytest.TempPathFactory, mahanews_dir: Path):
    cache = tmp_path_factory.mktemp(f"teacher-{request.param}")
    spec = DataSpec(data_dir=str(mahanews_dir), variant="shc", max_rows=SMALL_ROWS)
    settings = {**SMALL_TEACHER_KW, "mlm_epochs": 0, "epochs": 3}
    cfg = TinyTeacherConfig(family=request.param, **settings)
    teacher = build_tiny_teacher(load_splits(spec), cfg, cache_dir=cache, progress=False)
    return request.param, teacher, spec, cache


def test_the_tiny_teacher_is_built_in_its_family(family_teacher) -> None:
    family, teacher, _, _ = family_teacher
    model, tokenizer = load_teacher(teacher.path)
    assert family_of(model).model_type == family
    kind = tokenizer.backend_tokenizer.to_str()
    expected = {"roberta": '"BPE"', "xlm-roberta": '"Unigram"'}.get(family, '"WordPiece"')
    assert f'"type":{expected}' in kind.replace(" ", "")
    assert 0.0 <= teacher.metrics["test_accuracy"] <= 1.0


def test_a_pruned_distilled_trimmed_int8_trial_ships_a_loadable_model(
    family_teacher, tmp_path: Path
) -> None:
    family, teacher, spec, cache = family_teacher
    config = dict(
        name=f"{family}-all-levers",
        teacher=teacher.path,
        data=spec.to_dict(),
        max_length=48,
        cache_dir=str(cache),
        target_density=0.5,
        epochs=1,
        block_rows=16,
        block_cols=16,
        learning_rate=1e-3,
        attention_block="head",  # whole heads here; blocks in test_family_levers.py
        distil=True,
        vocab_trim=True,
        quantize="int8",
        timing_repeats=2,
        measure_energy=False,
    )
    result = run_trial(config, report=lambda metrics, checkpoint: None, trial_dir=tmp_path)
    for name in (M.ACCURACY, M.VAL_ACCURACY, M.SPEEDUP, M.SPEEDUP_IDEAL, M.VOCAB_COVERAGE):
        assert math.isfinite(result[name]), name
    assert result[M.DENSITY] < 0.9 and result[M.SPEEDUP_IDEAL] > 1.0
    teacher_model, teacher_tokenizer = load_teacher(teacher.path)
    # A byte-level BPE learnt from these very texts needs all of its pieces to merge them
    # (bpe_closure); the other kinds drop the pieces only validation and test used.
    assert result[M.VOCAB_SIZE] <= len(teacher_tokenizer)
    if family != "roberta":
        assert result[M.VOCAB_SIZE] < len(teacher_tokenizer)
    folder = Path(result["model_dir"])
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder)
    assert family_of(model) is family_of(teacher_model)
    assert model.config.model_type == family_of(teacher_model).compact_model_type
    classify = transformers.pipeline("text-classification", model=str(folder), device="cpu")
    texts = ["मुंबई इंडियन्सचा विजय", "राज्य सरकारचा नवा निर्णय"]
    labels = set(teacher_model.config.label2id)
    assert {prediction["label"] for prediction in classify(texts)} <= labels
    # the folder's model card: valid YAML metadata, then what was kept and how it was measured
    card = (folder / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---")[1])
    assert header["pipeline_tag"] == "text-classification" and header["language"] == "mr"
    assert {"block-pruning", "knowledge-distillation", "int8"} <= set(header["tags"])
    assert f"({family} family)" in card and "- layer 0:" in card
    assert f"{result[M.ACCURACY]:.4g}" in card and "dynamic int8 on load" in card
    from trainables.commands.predict import main as predict

    assert predict([str(folder), "--text", texts[0]]) == 0
