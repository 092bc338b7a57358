"""Teachers: the tiny one trained here (cached), any local folder, the hub id without network."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from analysis.predictions import read_predictions, read_test_predictions
from tests.conftest import SHARED_DATA, SMALL_TEACHER_KW
from trainables.commands.teacher import main
from trainables.data import DataSpec, DataSplits, load_splits
from trainables.presets import TinyTeacherConfig
from trainables.teachers.base import TeacherError, label2id_for
from trainables.teachers.load import load_teacher
from trainables.teachers.prepare import prepare_teacher
from trainables.teachers.tiny import (
    build_tiny_teacher,
    cooccurrence_embeddings,
    ngram_soft_labels,
    tiny_teacher_key,
)
from trainables.teachers.tiny_family import train_wordpiece

SMALL = TinyTeacherConfig(**SMALL_TEACHER_KW)


def test_tiny_teacher_trains_saves_and_reloads(small_teacher) -> None:
    teacher, splits, _ = small_teacher
    m = teacher.metrics
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["train_seconds"] > 0
    # better than always predicting the most frequent class after a few short epochs
    majority = splits.test.label.value_counts().iloc[0] / len(splits.test)
    assert m["test_accuracy"] > majority
    model, tokenizer = load_teacher(teacher.path)
    assert model.config.num_hidden_layers == 2
    assert model.config.id2label[7] == "Manoranjan"
    assert sum(p.numel() for p in model.parameters()) == m["num_parameters"]
    assert (Path(teacher.path) / "model.safetensors").exists()
    enc = tokenizer(["खेळाडूंनी सामना जिंकला"], return_tensors="pt")
    with torch.no_grad():
        assert model(**enc).logits.shape == (1, 12)


def test_tiny_teacher_is_built_once(small_teacher) -> None:
    teacher, splits, cache = small_teacher
    info = Path(teacher.path) / "teacher.json"
    before = info.stat().st_mtime_ns
    again = build_tiny_teacher(splits, SMALL, cache_dir=cache, progress=False)
    assert again.path == teacher.path and again.metrics == teacher.metrics
    assert info.stat().st_mtime_ns == before
    # other data -> another teacher
    other = load_splits(DataSpec(data_dir=str(SHARED_DATA), variant="shc", max_rows=200))
    assert tiny_teacher_key(other, SMALL) != tiny_teacher_key(splits, SMALL)


def test_tiny_preset_reads_the_cached_teacher_of_its_splits(small_teacher) -> None:
    teacher, splits, cache = small_teacher
    overrides = {**SMALL_TEACHER_KW, "seed": None}  # None: a flag not given keeps the preset's
    again = prepare_teacher(
        "tiny", splits, cache_dir=cache, progress=False, tiny_overrides=overrides
    )
    assert again == teacher  # the same config on the same splits: read from the cache


def test_paper_preset_without_network_says_how_to_pass_a_path() -> None:
    splits = load_splits(DataSpec(data_dir=str(SHARED_DATA), variant="shc", max_rows=50))
    with pytest.raises(TeacherError) as err:
        prepare_teacher("paper", splits)
    msg = str(err.value)
    assert "l3cube-pune/marathi-topic-all-doc-v2" in msg and "--model DIR" in msg


def test_local_folder_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TeacherError, match="not a model folder"):
        load_teacher(tmp_path)


def test_non_bert_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(TeacherError, match="'gpt2' model.*BERT-family"):
        load_teacher(tmp_path)


def test_cli_evaluates_a_given_model(small_teacher, mahanews_dir: Path, tmp_path, capsys) -> None:
    teacher, _, cache = small_teacher
    code = main(
        [
            "--model",
            teacher.path,
            "--data-dir",
            str(mahanews_dir),
            "--variant",
            "shc",
            "--max-rows",
            "100",
            "--cache-dir",
            str(cache),
            "--quiet",
            "--predictions",
            str(tmp_path / "teacher.npz"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"test_accuracy", "macro_f1", "train_seconds", "num_parameters"} <= set(out)
    # the per-example predictions behind that accuracy, as a trial saves them
    pred, gold = read_test_predictions(tmp_path / "teacher.npz")
    assert len(gold) == 100 and out["test_accuracy"] == pytest.approx((pred == gold).mean())
    assert read_predictions(tmp_path / "teacher.npz").unit == "distinct texts"


def test_cooccurrence_embeddings_put_related_words_together(mahanews_dir: Path) -> None:
    splits = load_splits(DataSpec(data_dir=str(mahanews_dir), variant="lpc"))
    texts = list(splits.train.text)
    # 6000: on the train split without the texts it shared with test, 4000 pieces no longer
    # hold "actress" as one word.
    tokenizer = train_wordpiece(texts, vocab_size=6000)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    vectors = cooccurrence_embeddings(ids, len(tokenizer), 64)
    assert vectors.shape == (len(tokenizer), 64)
    assert abs(float(vectors.std()) - 0.02) < 1e-3
    vocab = tokenizer.get_vocab()
    unit = torch.nn.functional.normalize(vectors, dim=1)

    def sim(a: str, b: str) -> float:
        return float(unit[vocab[a]] @ unit[vocab[b]])

    # "police" sits nearer "arrest" than "film" does; "film" nearer "actress" than "police" does
    assert sim("पोलिसांनी", "अटक") > sim("चित्रपट", "अटक")
    assert sim("चित्रपट", "अभिनेत्री") > sim("पोलिसांनी", "अभिनेत्री")


def test_ngram_soft_labels_are_cross_fitted_probabilities(small_teacher) -> None:
    _, splits, _ = small_teacher
    label2id = label2id_for(splits.labels)
    y = torch.tensor([label2id[label] for label in splits.train.label])
    probs = ngram_soft_labels(list(splits.train.text), y, len(label2id), seed=0)
    assert probs.shape == (len(y), 12)
    assert torch.allclose(probs.sum(dim=1), torch.ones(len(y)), atol=1e-5)
    accuracy = float((probs.argmax(dim=1) == y).float().mean())
    majority = float(torch.bincount(y).max()) / len(y)
    # cross-fitted: better than the majority class, short of memorising every label
    assert majority < accuracy < 0.99


# --- data too small for the recipe: adapt, or one clear error ---------------------------------


def _headlines(folder: Path, label: str, n: int, skip: int = 0) -> list[tuple[str, str]]:
    raw = pd.read_csv(folder / "SHC_Test.csv", dtype=str)
    texts = raw.loc[raw.Label == label, "Text"].str.strip().drop_duplicates()
    return [(text, label) for text in texts.iloc[skip : skip + n]]


def _tiny_folder(folder: Path, mahanews_dir: Path, labels: tuple[str, ...]) -> DataSplits:
    per_label = 12 // len(labels)
    parts = {"train.csv": (per_label, 0), "validation.csv": (2, per_label), "test.csv": (2, 20)}
    for name, (n, skip) in parts.items():
        rows = [row for label in labels for row in _headlines(mahanews_dir, label, n, skip)]
        pd.DataFrame(rows, columns=["text", "label"]).to_csv(folder / name, index=False)
    return load_splits(DataSpec(data_dir=str(folder)))


def test_tiny_teacher_trains_on_a_dozen_rows(tmp_path: Path, mahanews_dir: Path) -> None:
    splits = _tiny_folder(tmp_path, mahanews_dir, ("Sports", "Politics"))
    assert len(splits.train) == 12 and splits.train.label.nunique() == 2
    # The preset's hidden size 256 exceeds the rank of a dozen headlines' co-occurrence matrix:
    # the SVD dimension has to shrink (it raised a scikit-learn error before).
    cfg = TinyTeacherConfig(**{**SMALL_TEACHER_KW, "hidden_size": 256, "epochs": 1})
    tokenizer = train_wordpiece(list(splits.train.text), cfg.vocab_size)
    ids = tokenizer(list(splits.train.text), add_special_tokens=False)["input_ids"]
    assert cooccurrence_embeddings(ids, len(tokenizer), cfg.hidden_size).shape[1] < 256
    teacher = build_tiny_teacher(splits, cfg, cache_dir=tmp_path / "cache", progress=False)
    assert 0.0 <= teacher.metrics["test_accuracy"] <= 1.0
    model, _ = load_teacher(teacher.path)
    assert model.config.num_labels == 12  # MahaNews ids, whatever subset the data has


def test_tiny_teacher_precision_keys_its_cache_and_trains_in_bf16(
    tmp_path: Path, mahanews_dir: Path
) -> None:
    splits = _tiny_folder(tmp_path, mahanews_dir, ("Sports", "Politics"))
    auto = TinyTeacherConfig(**{**SMALL_TEACHER_KW, "epochs": 1, "mlm_epochs": 1})
    fp32 = TinyTeacherConfig(**{**auto.to_dict(), "precision": "fp32"})
    bf16 = TinyTeacherConfig(**{**auto.to_dict(), "precision": "bf16"})
    # auto on a CPU is fp32: the key (and so every cached teacher) is the one it had before
    assert tiny_teacher_key(splits, auto) == tiny_teacher_key(splits, fp32, "fp32")
    assert tiny_teacher_key(splits, bf16, "bf16") != tiny_teacher_key(splits, fp32)
    cache = tmp_path / "cache"
    teacher = build_tiny_teacher(splits, bf16, cache_dir=cache, device="cpu", progress=False)
    assert Path(teacher.path).name == f"tiny-{tiny_teacher_key(splits, bf16, 'bf16')}"
    assert 0.0 <= teacher.metrics["test_accuracy"] <= 1.0
    fp16 = TinyTeacherConfig(**{**auto.to_dict(), "precision": "fp16"})
    with pytest.raises(TeacherError, match="'fp16' needs a CUDA device"):
        build_tiny_teacher(splits, fp16, cache_dir=cache, device="cpu", progress=False)


def test_tiny_teacher_on_one_class_names_the_minimum(tmp_path: Path, mahanews_dir: Path) -> None:
    splits = _tiny_folder(tmp_path, mahanews_dir, ("Sports",))
    with pytest.raises(TeacherError) as err:
        build_tiny_teacher(splits, SMALL, cache_dir=tmp_path / "cache", progress=False)
    msg = str(err.value)
    assert "needs at least 2 labels with at least 2 training rows each" in msg
    assert "1 label(s): Sports 12" in msg and "--model" in msg
    assert not (tmp_path / "cache").exists()  # refused before any work


def test_cooccurrence_embeddings_shrink_to_a_small_vocabulary() -> None:
    vectors = cooccurrence_embeddings([[5, 6, 7, 8], [6, 7, 9]], 10, 256)
    assert vectors.shape[0] == 10 and 1 <= vectors.shape[1] <= 5  # tokens 5..9 co-occur
    assert torch.isfinite(vectors).all()
    # single-token texts: nothing co-occurs, no columns (the model keeps its random init)
    assert cooccurrence_embeddings([[5], [6]], 10, 256).shape == (10, 0)


def test_ngram_soft_labels_on_few_rows() -> None:
    texts = ["खेळाडूंनी सामना जिंकला", "संघाने मालिका जिंकली", "फलंदाजाने शतक केले"] * 2
    texts += ["मंत्र्यांनी घोषणा केली", "निवडणुकीत पक्ष जिंकला", "सरकारने निर्णय घेतला"] * 2
    texts += ["चित्रपट प्रदर्शित झाला"]  # a third label with a single row
    y = torch.tensor([0] * 6 + [1] * 6 + [2])
    probs = ngram_soft_labels(texts, y, 12, seed=0)
    assert probs.shape == (13, 12) and torch.allclose(probs.sum(dim=1), torch.ones(13), atol=1e-5)
    with pytest.raises(TeacherError, match=r"at least 2 labels with at least 2 training rows"):
        ngram_soft_labels(texts[:6], torch.zeros(6, dtype=torch.long), 12, seed=0)


def test_every_trainables_error_shares_one_base_and_keeps_its_kind() -> None:
    from trainables.commands.export import ExportError
    from trainables.commands.predict import PredictError
    from trainables.compress.vocab_trim import VocabTrimError
    from trainables.data import DataError
    from trainables.errors import TrainablesError, first_line

    kinds = {DataError: ValueError, VocabTrimError: ValueError, PredictError: ValueError}
    kinds |= {TeacherError: RuntimeError, ExportError: RuntimeError}
    for error, kind in kinds.items():
        assert issubclass(error, TrainablesError) and issubclass(error, kind), error
    assert first_line(OSError("no such file\nTraceback ...")) == "no such file"
    assert first_line(KeyError()) == "KeyError"
