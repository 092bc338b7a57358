"""The warnings analysis gives: one base, so a caller can silence or escalate them all at once.

>>> import warnings
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always", AnalysisWarning)
...     warnings.warn("no validation numbers", SelectionWarning, stacklevel=1)
>>> [issubclass(w.category, AnalysisWarning) for w in caught]
[True]
"""

from __future__ import annotations


class AnalysisWarning(UserWarning):
    """Base of the warnings of :mod:`analysis`: the results were read, but a number is weaker
    than it looks (chosen on test) or missing (no pairing with the baseline)."""


class SelectionWarning(AnalysisWarning):
    """The front was chosen on the test split: the results have no validation numbers."""


class PairingWarning(AnalysisWarning):
    """A configuration could not be paired with the baseline; its delta columns are NaN."""
