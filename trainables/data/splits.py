"""Which data a study uses (:class:`DataSpec`) and the clean train / validation / test frames
it gives (:class:`DataSplits`): column resolution, cleaning, removal of texts shared across
splits, carving of missing splits and the stratified ``max_rows`` subset, all deterministic in
``split_seed``.

Shared texts: the upstream MahaNews files overlap (a test paragraph also in the Valid file that
train and validation are carved from), which inflates test accuracy. Unless ``keep_overlap``,
train and validation rows whose text (whitespace collapsed, case kept) occurs in test are
removed, and train rows whose text occurs in validation.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from trainables.data.sources import SPLITS, DataError, read_frames

# Share of the rows carved off when a split is missing (validation or test from train, ...).
_CARVED_FRACTION = 0.2

_TEXT_COLUMNS = ("text", "texts", "headline", "sentence", "content", "body", "document", "news")
_LABEL_COLUMNS = ("label", "labels", "category", "class", "target", "topic")


@dataclass(frozen=True)
class DataSpec:
    """Which data a study uses and how it is split: built once from the CLI, passed whole to
    the teacher, the study's own load and every trial, so all of them see the same splits.

    >>> spec = DataSpec(dataset="mahanews-lpc", max_rows=200)
    >>> DataSpec.from_dict(spec.to_dict()) == spec
    True
    """

    data_dir: str | None = None  # local folder of CSV/parquet files (stored absolute)
    dataset: str | None = None  # mahanews-lpc|shc|ldc or a Hugging Face dataset id
    variant: str | None = None  # MahaNews variant inside data_dir
    text_column: str | None = None
    label_column: str | None = None
    max_rows: int | None = None  # stratified subset of each split, for quick runs
    split_seed: int = 42  # carving and subsetting; independent of a trial's seed
    # Keep train/validation rows whose text also occurs in a later split (to reproduce numbers
    # measured before the overlap was removed); by default they are removed.
    keep_overlap: bool = False

    def __post_init__(self) -> None:
        if (self.data_dir is None) == (self.dataset is None):
            raise DataError(
                "give exactly one data source: --data-dir FOLDER (local CSV/parquet files) or "
                "--dataset mahanews-lpc|mahanews-shc|mahanews-ldc|<Hugging Face dataset id>"
            )
        if self.max_rows is not None and self.max_rows < 1:
            raise DataError(
                f"max_rows must be >= 1, got {self.max_rows}; omit --max-rows to keep every row"
            )
        if self.data_dir is not None:
            # Absolute, so a trial running in another working directory reads the same folder.
            absolute = str(Path(self.data_dir).expanduser().resolve())
            object.__setattr__(self, "data_dir", absolute)

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict; :meth:`from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DataSpec:
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise DataError(
                f"unknown data setting(s) {', '.join(unknown)}; known keys: {', '.join(known)}"
            )
        return cls(**values)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DataSpec:
        """From the data flags the CLIs share: ``--data-dir``, ``--dataset``, ``--variant``,
        ``--text-column``, ``--label-column``, ``--max-rows``, ``--keep-overlap`` and ``--seed``
        (the split seed)."""
        return cls(
            data_dir=args.data_dir,
            dataset=args.dataset,
            variant=args.variant,
            text_column=args.text_column,
            label_column=args.label_column,
            max_rows=args.max_rows,
            split_seed=args.seed,
            # getattr: a CLI that predates the flag still builds a spec (with the default).
            keep_overlap=bool(getattr(args, "keep_overlap", False)),
        )


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


@dataclass
class DataSplits:
    """Clean train / validation / test frames with columns ``text`` and ``label`` (strings)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    source: str
    report: CleaningReport

    def __getitem__(self, split: str) -> pd.DataFrame:
        return {"train": self.train, "validation": self.validation, "test": self.test}[split]

    @property
    def labels(self) -> list[str]:
        """Every label seen in any split, sorted."""
        seen = set(self.train.label) | set(self.validation.label) | set(self.test.label)
        return sorted(seen)

    def fingerprint(self) -> str:
        """A short hash of the three splits' contents, for cache keys."""
        h = hashlib.sha256()
        for split in SPLITS:
            h.update(split.encode())
            _hash_rows(h, self[split])
        return h.hexdigest()[:16]

    def fingerprints(self) -> dict[str, str]:
        """A short hash of each split's texts and labels (in order); equal contents, equal hash
        whatever the split's name, so a split reused elsewhere can be recognised."""
        out = {}
        for split in SPLITS:
            h = hashlib.sha256()
            _hash_rows(h, self[split])
            out[split] = h.hexdigest()[:16]
        return out

    def overlap(self) -> dict[str, int]:
        """Rows of the final splits whose normalised text occurs in a later split: all 0 unless
        the spec kept the overlap (then these are the rows it kept)."""
        test = set(normalise_texts(self.test.text))
        validation = set(normalise_texts(self.validation.text))
        return {
            "train_in_test": int(normalise_texts(self.train.text).isin(test).sum()),
            "validation_in_test": int(normalise_texts(self.validation.text).isin(test).sum()),
            "train_in_validation": int(normalise_texts(self.train.text).isin(validation).sum()),
        }

    def data_json(self) -> dict[str, Any]:
        """What a study records about its data (``data.json``; the caller adds the DataSpec).

        ``counts`` describe loading before the ``max_rows`` subset; ``sizes``, ``overlap`` and
        the fingerprints describe the final splits.
        """
        return {
            "source": self.source,
            "sizes": {split: len(self[split]) for split in SPLITS},
            "labels": self.labels,
            "counts": self.report.to_dict(),
            "overlap": self.overlap(),
            "fingerprint": self.fingerprint(),
            "fingerprints": self.fingerprints(),
        }

    def summary(self) -> str:
        sizes = ", ".join(f"{s} {len(self[s])}" for s in SPLITS)
        return f"{self.source}: {sizes} rows, {len(self.labels)} labels"


def _hash_rows(h: Any, frame: pd.DataFrame) -> None:
    for text, label in zip(frame.text, frame.label, strict=True):
        h.update(text.encode())
        h.update(b"\x1f")
        h.update(label.encode())
        h.update(b"\x1e")


def normalise_texts(texts: pd.Series) -> pd.Series:
    """Texts as compared across splits: runs of whitespace collapsed to one space, case kept.

    Upstream copies of one paragraph differ in spacing (double spaces, a newline), not in
    wording; case is kept because Devanagari has none and Latin names differ in meaning by it.
    """
    return texts.map(lambda text: " ".join(text.split()))


def load_splits(spec: DataSpec, *, cache_dir: str | Path | None = None) -> DataSplits:
    """Load, clean and (where a split is missing) carve train / validation / test.

    ``cache_dir`` receives a downloaded MahaNews release or Hugging Face dataset.

    >>> spec = DataSpec(data_dir="../shared/data/mahanews", variant="lpc")  # doctest: +SKIP
    >>> load_splits(spec).summary()  # doctest: +SKIP
    'LPC in /work/shared/data/mahanews: train 1857, validation 469, test 2539 rows, 12 labels'
    """
    frames, source = read_frames(
        data_dir=spec.data_dir, dataset=spec.dataset, variant=spec.variant, cache_dir=cache_dir
    )
    report = CleaningReport(overlap_kept=spec.keep_overlap)
    cleaned: dict[str, pd.DataFrame] = {}
    origins: dict[str, str] = {}
    for split, (frame, origin) in frames.items():
        tcol, lcol = resolve_columns(frame, origin, spec.text_column, spec.label_column)
        cleaned[split] = clean_frame(frame, tcol, lcol, split=split, report=report, origin=origin)
        origins[split] = origin
    if not spec.keep_overlap:
        # Before carving, against the splits given as files: a carved split's size (20% of the
        # rows) and its stratification then count only rows that stay.
        cleaned = _drop_overlap(cleaned, report, origins)
    splits = _complete_splits(cleaned, seed=spec.split_seed, report=report)
    if not spec.keep_overlap:
        # Again after carving: repeated texts inside one file can land on both sides of a
        # carved split (one copy of a headline in train, another in validation).
        carved = {s: f"the final {s} split (after carving)" for s in SPLITS}
        splits = _drop_overlap(splits, report, carved)
    if spec.max_rows is not None:
        splits = {s: _stratified_head(f, spec.max_rows, spec.split_seed) for s, f in splits.items()}
    return DataSplits(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        source=source,
        report=report,
    )


# --------------------------------------------------------------------------------------------
# Columns and cleaning


def resolve_columns(
    frame: pd.DataFrame,
    origin: str,
    text_column: str | None = None,
    label_column: str | None = None,
) -> tuple[str, str]:
    """Find the text and label columns among common names (any case), or check given ones."""
    tcol = find_column(frame, origin, text_column, _TEXT_COLUMNS, "text", "--text-column")
    lcol = find_column(frame, origin, label_column, _LABEL_COLUMNS, "label", "--label-column")
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
    names: Sequence[str] = _TEXT_COLUMNS,
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
    header_names = {text_column.lower(), label_column.lower(), *_TEXT_COLUMNS, *_LABEL_COLUMNS}
    is_header = label_str.str.lower().isin(header_names).fillna(False) | (
        text_str.str.strip().str.lower().isin(header_names).fillna(False)
        & label_str.isna().fillna(True)
    )
    stripped_text = text_str.str.strip()
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


# --------------------------------------------------------------------------------------------
# Texts shared across splits


def _drop_overlap(
    frames: dict[str, pd.DataFrame], report: CleaningReport, origins: Mapping[str, str]
) -> dict[str, pd.DataFrame]:
    """Remove train and validation rows whose text is in test, then train rows whose text is in
    validation, among the splits present; count the removals per split in ``report``."""
    out = dict(frames)
    if "test" in out:
        test = set(normalise_texts(out["test"].text))
        for split in ("train", "validation"):
            if split in out:
                out[split] = _drop_texts(
                    out[split], test, "test", report.overlap_test, split, origins[split]
                )
    if "train" in out and "validation" in out:
        validation = set(normalise_texts(out["validation"].text))
        out["train"] = _drop_texts(
            out["train"],
            validation,
            "validation",
            report.overlap_validation,
            "train",
            origins["train"],
        )
    return out


def _drop_texts(
    frame: pd.DataFrame,
    texts: set[str],
    other: str,
    counts: dict[str, int],
    split: str,
    origin: str,
) -> pd.DataFrame:
    shared = normalise_texts(frame.text).isin(texts)
    removed = int(shared.sum())
    counts[split] = counts.get(split, 0) + removed
    if removed == len(frame):
        raise DataError(
            f"every one of the {removed} rows of {origin} has a text that also occurs in the "
            f"{other} split, so removing the overlap leaves no {split} data; give {split} and "
            f"{other} files that do not share texts, or pass --keep-overlap to keep them"
        )
    if not removed:
        return frame
    return frame[~shared].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Carving missing splits and subsetting


def _stratified_head(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    if len(frame) <= n:
        return frame
    # Imported where used: sklearn takes seconds to import, and what only needs DataSpec (the
    # trial config, a CLI checking its flags) or tokens should not wait for it.
    from sklearn.model_selection import train_test_split

    counts = frame.label.value_counts()
    stratify = frame.label if counts.min() >= 2 and n >= len(counts) else None
    subset, _ = train_test_split(frame, train_size=n, random_state=seed, stratify=stratify)
    return subset.reset_index(drop=True)


def _split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    counts = frame.label.value_counts()
    stratify = frame.label if counts.min() >= 2 else None
    n_small = max(1, round(len(frame) * _CARVED_FRACTION))
    if stratify is not None and n_small < len(counts):
        stratify = None
    if len(frame) < 2:
        raise DataError(
            f"cannot carve a split from {len(frame)} row(s); provide a train file with more data"
        )
    big, small = train_test_split(
        frame, test_size=n_small, random_state=seed, shuffle=True, stratify=stratify
    )
    return big.reset_index(drop=True), small.reset_index(drop=True)


def _complete_splits(
    cleaned: dict[str, pd.DataFrame], *, seed: int, report: CleaningReport
) -> dict[str, pd.DataFrame]:
    """Carve whatever split is missing from what exists, stratified and deterministic by seed."""
    have = set(cleaned)
    notes = []
    out = dict(cleaned)
    if "train" not in have:
        if "validation" in have:
            out["train"], out["validation"] = _split(cleaned["validation"], seed)
            notes.append(
                f"NO TRAIN SPLIT: carved train ({len(out['train'])}) and validation "
                f"({len(out['validation'])}) from the validation file, stratified, seed {seed}"
            )
        elif "test" in have:
            rest, out["test"] = _split(cleaned["test"], seed)
            out["train"], out["validation"] = _split(rest, seed)
            notes.append(
                f"ONLY A TEST SPLIT: carved train ({len(out['train'])}), validation "
                f"({len(out['validation'])}) and test ({len(out['test'])}) from it, seed {seed}"
            )
    if "validation" not in out:
        out["train"], out["validation"] = _split(out["train"], seed)
        notes.append(f"no validation split: carved {len(out['validation'])} rows from train")
    if "test" not in out:
        out["train"], out["test"] = _split(out["train"], seed)
        notes.append(f"no test split: carved {len(out['test'])} rows from train")
    for split in SPLITS:
        out[split] = out[split].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    report.carved = "; ".join(notes)
    return out
