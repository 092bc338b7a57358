"""The clean train / validation / test frames a :class:`~trainables.data.spec.DataSpec` gives
(:class:`DataSplits`): cleaning (:mod:`trainables.data.cleaning`), removal of texts shared across
splits, carving of missing splits and the stratified ``max_rows`` subset, all deterministic in
``split_seed``.

Shared texts: the upstream MahaNews files overlap (a test paragraph also in the Valid file that
train and validation are carved from), which inflates test accuracy. Unless ``keep_overlap``,
train and validation rows whose text (whitespace collapsed, case kept) occurs in test are
removed, and train rows whose text occurs in validation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from trainables.data.cleaning import (
    CleaningReport,
    clean_frame,
    normalise_texts,
    resolve_columns,
    text_repeats,
)
from trainables.data.sources import SPLITS, DataError, read_frames
from trainables.data.spec import DataSpec

# Share of the rows carved off when a split is missing (validation or test from train, ...).
_CARVED_FRACTION = 0.2


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
        validation = normalise_texts(self.validation.text)
        train = normalise_texts(self.train.text)
        return {
            "train_in_test": int(train.isin(test).sum()),
            "validation_in_test": int(validation.isin(test).sum()),
            "train_in_validation": int(train.isin(set(validation)).sum()),
        }

    def data_json(self) -> dict[str, Any]:
        """What a study records about its data (``data.json``; the caller adds the DataSpec).

        ``counts`` describe loading before the ``max_rows`` subset; ``sizes``, ``overlap``,
        ``repeats`` (per split: rows, distinct texts, duplicate rows, texts with conflicting
        labels and their first 50 characters, :func:`~trainables.data.cleaning.text_repeats`)
        and the fingerprints describe the final splits.
        """
        return {
            "source": self.source,
            "sizes": {split: len(self[split]) for split in SPLITS},
            "labels": self.labels,
            "counts": self.report.to_dict(),
            "overlap": self.overlap(),
            "repeats": {split: text_repeats(self[split]) for split in SPLITS},
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


def load_splits(spec: DataSpec, *, cache_dir: str | Path | None = None) -> DataSplits:
    """Load, clean and (where a split is missing) carve train / validation / test.

    ``cache_dir`` receives a downloaded MahaNews release or Hugging Face dataset.

    >>> splits = load_splits(DataSpec(data_dir="../shared/data/mahanews", variant="lpc"))
    >>> len(splits.train), len(splits.validation), len(splits.test), len(splits.labels)
    (1857, 469, 2539, 12)
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
