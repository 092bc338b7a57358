"""A compact model folder as users get it: transformers' pipeline, ``python -m
trainables.commands.predict``, and the errors for what they cannot read."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, pipeline

from trainables.commands.predict import load_with_tokenizer, main, predict
from trainables.compress.compaction import compact_model, save_compact
from trainables.compress.pruning import (
    PruningConfig,
    apply_threshold,
    mask_score_parameters,
    prune_model,
)
from trainables.compress.quantize import DYNAMIC_INT8
from trainables.teachers.tiny_family import train_wordpiece

LABELS = ["sports", "politics", "entertainment"]


@pytest.fixture(scope="module")
def headlines(mahanews_dir) -> list[str]:
    frame = pd.read_csv(mahanews_dir / "SHC_Test.csv", dtype=str)
    return [t for t in frame["Text"].dropna().tolist() if t.strip()][:200]


@pytest.fixture(scope="module")
def model_dir(headlines, tmp_path_factory):
    """A pruned, compacted 2-layer classifier and its tokenizer, saved as a trial saves them."""
    tokenizer = train_wordpiece(headlines, vocab_size=800)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForSequenceClassification(config).eval()
    prune_model(model, PruningConfig(method="sigmoid_threshold", block_shape=(16, 16)))
    with torch.no_grad():
        for i, score in enumerate(mask_score_parameters(model)):
            score.fill_(5.0 if i % 3 else -5.0)  # a third of the blocks go
    apply_threshold(model, 0.5)
    compact = compact_model(model).eval()
    folder = tmp_path_factory.mktemp("trial") / "model"
    save_compact(compact, folder)
    tokenizer.save_pretrained(folder)
    return folder, compact, tokenizer


def _expected(compact, tokenizer, texts: list[str]) -> list[str]:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        ids = compact(**batch).logits.argmax(-1).tolist()
    return [LABELS[i] for i in ids]


def test_pipeline_and_the_predict_command_agree_with_the_trials_model(
    model_dir, headlines, capsys
) -> None:
    folder, compact, tokenizer = model_dir
    texts = headlines[:12]
    expected = _expected(compact, tokenizer, texts)
    classify = pipeline("text-classification", model=str(folder), device="cpu")
    assert [r["label"] for r in classify(texts)] == expected

    assert main([str(folder), "--text", texts[0], "--text", texts[1]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == expected[:2]
    assert all(0.0 < float(line.split("\t")[1]) <= 1.0 for line in lines)

    model, loaded_tokenizer = load_with_tokenizer(folder)
    table = predict(model, loaded_tokenizer, texts, max_length=128)
    assert list(table["label"]) == expected


def test_predict_reads_a_csv_and_writes_one(model_dir, headlines, tmp_path, capsys) -> None:
    folder, compact, tokenizer = model_dir
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": range(5), "Headline": headlines[:5]}).to_csv(source, index=False)
    out = tmp_path / "out.csv"
    assert main([str(folder), "--file", str(source), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table["text"]) == headlines[:5]
    assert list(table["label"]) == _expected(compact, tokenizer, headlines[:5])


def test_what_predict_cannot_read_is_one_error_line(model_dir, tmp_path, capsys) -> None:
    folder, _, _ = model_dir
    assert main([str(tmp_path), "--text", "x"]) == 2
    assert "no config.json" in capsys.readouterr().err
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1], "words": ["x"]}).to_csv(source, index=False)
    assert main([str(folder), "--file", str(source)]) == 2
    err = capsys.readouterr().err
    assert "no text column" in err and "id, words" in err and "--text-column" in err
    assert main([str(folder), "--file", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_onnx_export_runs_in_onnx_runtime_like_pytorch(
    model_dir, headlines, tmp_path, capsys
) -> None:
    pytest.importorskip("onnxruntime")
    from trainables.commands.export import main as export

    folder, compact, tokenizer = model_dir
    shapes = compact.config.compact_layers
    assert any(s["heads"] == 0 for s in shapes) and any(s["ffn"] == 0 for s in shapes)
    out = tmp_path / "model.onnx"
    # the command itself fails unless ONNX Runtime's logits are within 1e-3 of PyTorch's
    assert export([str(folder), "--format", "onnx", "--out", str(out)]) == 0
    assert out.exists() and capsys.readouterr().out.strip() == str(out)
    # an int8 folder: exported in fp32, quantised by ONNX Runtime, same labels
    int8 = save_compact(compact, tmp_path / "int8", quantization=DYNAMIC_INT8)
    tokenizer.save_pretrained(int8)
    assert export([str(int8)]) == 0
    # close to the fp32 model on real headlines, layers without heads or neurons included
    # (ONNX Runtime's int8 MatMul of zero-width weights once gave every input the same logits)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(int8 / "model.int8.onnx"))
    batch = tokenizer(headlines[:32], padding=True, return_tensors="np")
    (logits,) = session.run(["logits"], {k: batch[k] for k in ("input_ids", "attention_mask")})
    with torch.no_grad():
        expected = compact(**tokenizer(headlines[:32], padding=True, return_tensors="pt")).logits
    assert abs(logits - expected.numpy()).max() < 5e-3


def test_the_benchmark_times_the_onnx_runtime_rows(model_dir) -> None:
    pytest.importorskip("onnxruntime")
    from trainables.commands.bench import onnx_rows
    from trainables.compress.quantize import quantize_int8

    _, compact, tokenizer = model_dir
    baseline = BertForSequenceClassification(compact.config).eval()
    models = {"baseline": baseline, "0.5": compact, "0.5+int8": quantize_int8(compact)}
    batch = dict(
        tokenizer(["नवा चित्रपट"] * 4, padding="max_length", max_length=16, return_tensors="pt")
    )
    batch.pop("token_type_ids", None)
    rows = onnx_rows(models, batch, threads=1, repeats=1)
    assert [(r["name"], r["runtime"], r["quantize"]) for r in rows] == [
        ("0.5+int8", "torch", "int8"),
        ("0.5 onnx", "onnxruntime", "none"),
        ("0.5 onnx+int8", "onnxruntime", "int8"),
    ]
    assert all(r["speedup"] > 0 and r["baseline_seconds"] > 0 for r in rows)


def test_a_text_argument_that_is_not_utf8_is_one_error_line(model_dir) -> None:
    """Bytes a Latin-1 terminal sends reach Python as surrogate escapes: one line, no traceback."""
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "trainables.commands.predict", str(model_dir[0])]
    argv = [os.fsencode(part) for part in command] + [b"--text", b"caf\xe9"]
    proc = subprocess.run(argv, capture_output=True, env={**os.environ, "LC_ALL": "C.UTF-8"})
    err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
    assert proc.returncode == 2
    assert err[-1].startswith("error: --text number 1 is not UTF-8 text"), err
    assert not any("Traceback" in line for line in err)
