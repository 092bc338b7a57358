"""Reading one table's rows as texts and labels: finding the text and label columns, dropping
repeated header rows, empty texts and missing labels, and counting all of it in a
:class:`CleaningReport` (what cleaning removed is never silent).

>>> import pandas as pd
>>> frame = pd.DataFrame({"Headline": [" a ", "b", "Headline"], "Topic": ["x", None, "Topic"]})
>>> resolve_columns(frame, "f.csv")
('Headline', 'Topic')
>>> report = CleaningReport()
>>> clean_frame(frame, "Headline", "Topic", split="train", report=report, origin="f.csv")
  text label
0    a     x
>>> report.header_rows, report.missing_labels, report.stripped
({'train': 1}, {'train': 1}, {'train': 1})
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from trainables.data.sources import SPLITS, DataError

TEXT_COLUMNS = ("text", "texts", "headline", "sentence", "content", "body", "document", "news")
LABEL_COLUMNS = ("label", "labels", "category", "class", "target", "topic")


@dataclass
class CleaningReport:
    """What cleaning removed or noticed, per split (counts, never silent).

    The cleaning counts are keyed by the split a file or dataset split was read as. The overlap
    counts are keyed by the split the rows were removed from: a file's split before carving
    (``validation`` for MahaNews' Valid file, which train and validation are carved from), a
    final split after it. All counts describe the data before the ``max_rows`` subset.
    """

    rows_read: dict[str, int] = field(default_factory=dict)
    header_rows: dict[str, int] = field(default_factory=dict)
    empty_texts: dict[str, int] = field(default_factory=dict)
    missing_labels: dict[str, int] = field(default_factory=dict)
    stripped: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)  # repeated texts inside one split
    overlap_test: dict[str, int] = field(default_factory=dict)  # rows removed: text in test
    overlap_validation: dict[str, int] = field(default_factory=dict)  # ... text in validation
    overlap_kept: bool = False  # DataSpec.keep_overlap: nothing was removed for overlap
    carved: str = ""

    _COUNTS: ClassVar[tuple[str, ...]] = (
        "rows_read",
        "header_rows",
        "empty_texts",
        "missing_labels",
        "stripped",
        "duplicates",
        "overlap_test",
        "overlap_validation",  # the last two: the overlap counts
    )

    def _splits(self) -> list[str]:
        seen = set().union(*(getattr(self, name) for name in self._COUNTS))
        return [s for s in SPLITS if s in seen]

    def _removed(self, split: str) -> str:
        # Only the rules that apply: test loses nothing, validation only what test has.
        parts = []
        if split in ("train", "validation"):
            parts.append(f"{self.overlap_test.get(split, 0)} rows whose text is also in test")
        if split == "train":
            parts.append(f"{self.overlap_validation.get(split, 0)} also in validation")
        return f"; removed {', '.join(parts)}" if parts else ""

    def lines(self) -> list[str]:
        out = []
        for split in self._splits():
            if split in self.rows_read:
                out.append(
                    f"{split}: read {self.rows_read[split]} rows; dropped "
                    f"{self.header_rows.get(split, 0)} repeated header rows, "
                    f"{self.empty_texts.get(split, 0)} empty texts, "
                    f"{self.missing_labels.get(split, 0)} missing labels; "
                    f"stripped whitespace in {self.stripped.get(split, 0)}; "
                    f"kept {self.duplicates.get(split, 0)} duplicate texts{self._removed(split)}"
                )
        if self.carved:
            out.append(self.carved)
        for split in self._splits():
            if split not in self.rows_read:  # carved: only overlap removals happen after it
                out.append(f"{split} (carved): {self._removed(split).removeprefix('; ')}")
        if self.overlap_kept:
            out.append(
                "KEPT OVERLAP (--keep-overlap): train/validation rows whose text is also in "
                "test, and train rows whose text is also in validation, were not removed"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the counts of each split (0 where nothing happened; a carved split has
        only the overlap counts, as nothing was read into it), the carving note and whether the
        overlap was kept."""
        splits: dict[str, dict[str, int]] = {}
        for split in self._splits():
            names = self._COUNTS if split in self.rows_read else self._COUNTS[-2:]
            splits[split] = {name: getattr(self, name).get(split, 0) for name in names}
        return {"splits": splits, "carved": self.carved, "overlap_kept": self.overlap_kept}


def normalise_texts(texts: pd.Series) -> pd.Series:
    """Texts as compared across splits: runs of whitespace collapsed to one space, case kept.

    Upstream copies of one paragraph differ in spacing (double spaces, a newline), not in
    wording; case is kept because Devanagari has none and Latin names differ in meaning by it.
    """
    return texts.map(lambda text: " ".join(text.split()))


def text_groups(texts: Sequence[str] | pd.Series) -> np.ndarray:
    """One int64 id per row, equal for rows whose :func:`normalise_texts` text is the same; ids
    in order of first appearance. A model's copies of one text are one piece of evidence: the
    statistics (:mod:`analysis.statistics`) resample and count these groups, not rows.

    >>> text_groups(["a b", "c", "a  b", " a b ", "d"]).tolist()
    [0, 1, 0, 0, 2]
    """
    codes, _ = pd.factorize(normalise_texts(pd.Series(list(texts), dtype=object)), sort=False)
    return codes.astype(np.int64)


def text_repeats(frame: pd.DataFrame, *, shown: int = 50) -> dict[str, Any]:
    """How often texts repeat in one split (``text`` and ``label`` columns): ``rows``,
    ``distinct_texts``, ``duplicate_rows`` (rows beyond a text's first), ``conflicting_texts``
    (texts whose copies carry different labels) and ``conflicting`` (those texts' first
    ``shown`` characters, in order of first appearance).

    >>> frame = pd.DataFrame({"text": ["a b", "a  b", "c", "c", "d"],
    ...                       "label": ["x", "y", "z", "z", "x"]})
    >>> repeats = text_repeats(frame)
    >>> [repeats[k] for k in ("rows", "distinct_texts", "duplicate_rows", "conflicting_texts")]
    [5, 3, 2, 1]
    >>> repeats["conflicting"]
    ['a b']
    """
    normalised = normalise_texts(frame.text.astype(str))
    labels_per_text = frame.label.groupby(normalised.to_numpy(), sort=False).nunique()
    conflicting = [text[:shown] for text in labels_per_text.index[labels_per_text > 1]]
    return {
        "rows": len(frame),
        "distinct_texts": int(normalised.nunique()),
        "duplicate_rows": int(normalised.duplicated().sum()),
        "conflicting_texts": len(conflicting),
        "conflicting": conflicting,
    }


def resolve_columns(
    frame: pd.DataFrame,
    origin: str,
    text_column: str | None = None,
    label_column: str | None = None,
) -> tuple[str, str]:
    """Find the text and label columns among common names (any case), or check given ones."""
    tcol = find_column(frame, origin, text_column, TEXT_COLUMNS, "text", "--text-column")
    lcol = find_column(frame, origin, label_column, LABEL_COLUMNS, "label", "--label-column")
    if tcol == lcol:
        raise DataError(
            f"{origin}: text and label column are both {tcol!r}; pass --text-column and "
            "--label-column"
        )
    return tcol, lcol


def find_column(
    frame: pd.DataFrame,
    origin: str,
    given: str | None,
    names: Sequence[str] = TEXT_COLUMNS,
    what: str = "text",
    flag: str = "--text-column",
) -> str:
    """The column ``given`` (any case), or else the first of ``names`` (the common names of a
    text column by default) that ``frame`` has; a :class:`DataError` naming the columns if none."""
    columns = [str(c) for c in frame.columns]
    lower = {c.lower(): c for c in columns}
    if given is not None:
        if given in columns:
            return given
        if given.lower() in lower:
            return lower[given.lower()]
        raise DataError(
            f"{origin} has no {what} column {given!r} (columns: {', '.join(columns)}); "
            f"pass one of those with {flag}"
        )
    for name in names:
        if name in lower:
            return lower[name]
    raise DataError(
        f"{origin} has no {what} column (columns: {', '.join(columns)}; looked for "
        f"{', '.join(names)}); name the right one with {flag}"
    )


def clean_frame(
    frame: pd.DataFrame,
    text_column: str,
    label_column: str,
    *,
    split: str,
    report: CleaningReport,
    origin: str,
) -> pd.DataFrame:
    """Drop repeated header rows, empty texts and missing labels; strip whitespace; count all."""
    text = frame[text_column]
    label = frame[label_column]
    report.rows_read[split] = report.rows_read.get(split, 0) + len(frame)

    label_str = label.astype("string").str.strip()
    text_str = text.astype("string")
    stripped_text = text_str.str.strip()
    header_names = {text_column.lower(), label_column.lower(), *TEXT_COLUMNS, *LABEL_COLUMNS}
    is_header = label_str.str.lower().isin(header_names).fillna(False) | (
        stripped_text.str.lower().isin(header_names).fillna(False) & label_str.isna().fillna(True)
    )
    is_empty = (stripped_text.isna() | (stripped_text == "")).fillna(True) & ~is_header
    is_missing_label = (label_str.isna() | (label_str == "")).fillna(True) & ~is_header & ~is_empty
    keep = ~(is_header | is_empty | is_missing_label)

    report.header_rows[split] = report.header_rows.get(split, 0) + int(is_header.sum())
    report.empty_texts[split] = report.empty_texts.get(split, 0) + int(is_empty.sum())
    report.missing_labels[split] = report.missing_labels.get(split, 0) + int(is_missing_label.sum())
    changed = (stripped_text != text_str).fillna(False) & keep
    report.stripped[split] = report.stripped.get(split, 0) + int(changed.sum())

    out = pd.DataFrame(
        {
            "text": stripped_text[keep].astype(str).to_numpy(),
            "label": label_str[keep].astype(str).to_numpy(),
        }
    )
    if out.empty:
        raise DataError(
            f"{origin} has no usable rows after cleaning ({len(frame)} read: "
            f"{int(is_header.sum())} header rows, {int(is_empty.sum())} empty texts, "
            f"{int(is_missing_label.sum())} missing labels); check the file's contents"
        )
    # Normalised, like the overlap across splits: copies that differ only in spacing count.
    report.duplicates[split] = int(normalise_texts(out.text).duplicated().sum())
    return out
