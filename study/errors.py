"""The one base of the study's errors: a problem the user can fix before anything runs.

``python -m study.run`` prints such an error's message as one line and exits 2.

>>> str(UsageError("--seeds must be >= 1, got 0"))
'--seeds must be >= 1, got 0'
"""

from __future__ import annotations


class UsageError(Exception):
    """A problem the user can fix before anything runs; its message is the one line shown."""
