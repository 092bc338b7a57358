"""The measuring lock: CPU trials of one machine measure one at a time; GPU trials never wait."""

from __future__ import annotations

import multiprocessing
import threading
from types import SimpleNamespace

import pytest
import torch

from trainables.measure.lock import exclusive_measuring, measured_alone

WAIT = 60  # seconds: only a bound on a hang, never a measured time


def _hold(path: str, acquired, release) -> None:
    with exclusive_measuring(path):
        acquired.set()
        release.wait(WAIT)


@pytest.fixture
def holder(tmp_path, monkeypatch):
    """Another process holding the lock at ``path`` until ``release`` is set."""
    path = tmp_path / "measuring.lock"
    monkeypatch.setenv("LOWRES_MEASURE_LOCK", str(path))
    context = multiprocessing.get_context("spawn")
    acquired, release = context.Event(), context.Event()
    process = context.Process(target=_hold, args=(str(path), acquired, release))
    process.start()
    assert acquired.wait(WAIT), "the holding process never took the lock"
    yield SimpleNamespace(process=process, release=release)
    if process.is_alive():  # a killed holder may leave the event's own lock taken: not touched
        release.set()
    process.join(WAIT)


def _measure_in_thread(device: str) -> tuple[threading.Thread, threading.Event]:
    done = threading.Event()

    @measured_alone
    def measure(trial):
        done.set()

    thread = threading.Thread(target=measure, args=(SimpleNamespace(device=torch.device(device)),))
    thread.start()
    return thread, done


def test_a_cpu_trial_measures_after_the_one_measuring_releases_the_lock(holder):
    thread, done = _measure_in_thread("cpu")
    assert not done.wait(1.0)  # still waiting while the other process measures
    holder.release.set()
    assert done.wait(WAIT)
    thread.join(WAIT)


def test_the_lock_is_released_when_its_process_dies(holder):
    thread, done = _measure_in_thread("cpu")
    assert not done.wait(1.0)
    holder.process.kill()
    holder.process.join(WAIT)
    assert done.wait(WAIT)
    thread.join(WAIT)


def test_a_gpu_trial_does_not_wait_for_the_cpu_lock(holder):
    # the device is only read, never used: the test needs no GPU
    thread, done = _measure_in_thread("cuda")
    assert done.wait(WAIT)
    thread.join(WAIT)
