"""Shared fixtures: the real MahaNews files from ../shared and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before transformers / huggingface_hub are imported: they read these once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

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
