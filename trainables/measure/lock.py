"""One trial measures at a time on a machine: CPU trials side by side train together, time alone.

Two CPU trials on one machine may train at the same time (one thread each), but a timing taken
while another trial trains measures the other trial too. :func:`measured_alone` makes a
measuring function hold an exclusive file lock under the machine's temporary folder while it
runs on the CPU, so the trials of every study on the machine take their timings and energy
windows one at a time and train meanwhile. The operating system releases the lock when its
process ends, however it ends; GPU trials do not take it (each has its own device).

>>> import torch
>>> from types import SimpleNamespace
>>> @measured_alone
... def measure(trial):
...     return "measured"
>>> measure(SimpleNamespace(device=torch.device("cpu")))
'measured'
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

try:
    import fcntl
except ImportError:  # not POSIX: no lock, trials measure as they come
    fcntl = None  # type: ignore[assignment]

# Shared by every study and user on the machine (the temporary folder is per machine).
LOCK_NAME = "lowres-study-measuring.lock"

F = TypeVar("F", bound=Callable[..., Any])


def lock_path() -> Path:
    """The lock file: ``$LOWRES_MEASURE_LOCK`` when set, else one in the temporary folder."""
    return Path(os.environ.get("LOWRES_MEASURE_LOCK") or Path(tempfile.gettempdir()) / LOCK_NAME)


@contextlib.contextmanager
def exclusive_measuring(path: str | Path | None = None) -> Iterator[None]:
    """Hold the machine's measuring lock (waiting for it) for the ``with`` block."""
    if fcntl is None:
        yield
        return
    target = Path(path) if path is not None else lock_path()
    # Read-only: a lock file another user created (mode 0o644 under a umask) still opens and locks.
    fd = os.open(target, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def measured_alone(function: F) -> F:
    """``function(trial, ...)`` holds the measuring lock while it runs when ``trial.device``
    is a CPU."""

    @functools.wraps(function)
    def wrapper(trial: Any, *args: Any, **kwargs: Any) -> Any:
        if trial.device.type != "cpu":
            return function(trial, *args, **kwargs)
        with exclusive_measuring():
            return function(trial, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
