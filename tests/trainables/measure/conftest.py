"""A fake clock for the timing tests: time moves only when a fake tokenizer or model says so."""

from __future__ import annotations

import time

import pytest


class FakeClock:
    """A fake ``time.perf_counter``: time moves only when a fake tokenizer or model runs."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(time, "perf_counter", fake)
    return fake
