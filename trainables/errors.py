"""The one base of every error a user of ``trainables`` can cause, and how such errors read.

Each area raises its own kind (:class:`~trainables.data.DataError`,
:class:`~trainables.teachers.base.TeacherError`, ...), each also a ``ValueError`` or a
``RuntimeError`` as before; a command line catches :class:`TrainablesError` to print any of them
as one line.

>>> from trainables.data import DataError
>>> issubclass(DataError, TrainablesError) and issubclass(DataError, ValueError)
True
"""

from __future__ import annotations


class TrainablesError(Exception):
    """A problem a user can fix (a file, a flag, a model); the message says what to do."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, or its type's name when the message is empty: what
    a one-line message quotes of an error raised by a library.

    >>> first_line(ValueError("bad header\\n  at row 3"))
    'bad header'
    >>> first_line(OSError())
    'OSError'
    """
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
