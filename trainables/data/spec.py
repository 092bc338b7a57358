"""Which data a study uses and how it is split: :class:`DataSpec`, built once from the command
line (:mod:`trainables.data.flags` makes its flags from the fields below), passed whole to the
teacher, the study's own load and every trial, so all of them see the same splits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from trainables.data.sources import DataError


def _setting(default: Any, help_text: str, flag: str | None = None) -> Any:
    """A DataSpec field; ``help_text`` and ``flag`` (else ``--field-name``) make its flag."""
    metadata = {"help": help_text, **({"flag": flag} if flag else {})}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class DataSpec:
    """Which data a study uses and how it is split.

    >>> spec = DataSpec(dataset="mahanews-lpc", max_rows=200)
    >>> DataSpec.from_dict(spec.to_dict()) == spec
    True
    """

    # Stored absolute, so a trial running in another working directory reads the same folder.
    data_dir: str | None = _setting(
        None, "folder of CSV/parquet files (e.g. ../shared/data/mahanews)"
    )
    dataset: str | None = _setting(
        None, "mahanews-lpc|mahanews-shc|mahanews-ldc or a Hugging Face dataset id"
    )
    variant: str | None = _setting(None, "MahaNews variant in --data-dir: lpc, shc or ldc")
    text_column: str | None = _setting(None, "the text column (default: found by common names)")
    label_column: str | None = _setting(None, "the label column (default: found by common names)")
    max_rows: int | None = _setting(None, "stratified subset of each split (quick runs)")
    # Independent of a trial's seed; the CLIs' --seed also seeds the teacher (and the trials).
    split_seed: int = _setting(42, "seed of the data splits (carving and subsetting)", "--seed")
    keep_overlap: bool = _setting(
        False,
        "keep train/validation rows whose text is also in test (and train rows also in "
        "validation), to reproduce numbers measured before they were removed",
    )

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
