"""Shared fixtures: the real MahaNews files from ../shared and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before transformers / huggingface_hub are imported: they read these once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

import torch

# Two threads on two shared cores make small models several times slower, not faster.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MAHANEWS_DIR", REPO.parent / "shared" / "data" / "mahanews"))


@pytest.fixture(scope="session")
def mahanews_dir() -> Path:
    if not (SHARED_DATA / "LPC_Valid.csv").exists():
        pytest.fail(f"the shared MahaNews files are missing at {SHARED_DATA}; set MAHANEWS_DIR")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _temporary_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Caches of teachers and tokens go to a temporary folder."""
    monkeypatch.setenv("LOWRES_CACHE", str(tmp_path_factory.getbasetemp() / "lowres-cache"))


SMALL_ROWS = 400
SMALL_TEACHER_KW = dict(
    vocab_size=1500,
    num_hidden_layers=2,
    hidden_size=64,
    num_attention_heads=2,
    intermediate_size=128,
    max_length=48,
    mlm_epochs=1,
    epochs=6,
    learning_rate=3e-3,
    batch_size=16,
)


@pytest.fixture(scope="session")
def small_teacher(tmp_path_factory: pytest.TempPathFactory, mahanews_dir: Path):
    """A 2-layer, 64-hidden teacher trained on 400 headlines (cached per session)."""
    from trainables.data import DataSpec, load_splits
    from trainables.presets import TinyTeacherConfig
    from trainables.teachers.tiny import build_tiny_teacher

    cache = tmp_path_factory.mktemp("teacher-cache")
    splits = load_splits(DataSpec(data_dir=str(mahanews_dir), variant="shc", max_rows=SMALL_ROWS))
    cfg = TinyTeacherConfig(**SMALL_TEACHER_KW)
    return build_tiny_teacher(splits, cfg, cache_dir=cache, progress=False), splits, cache
