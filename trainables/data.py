"""Find, clean, split and tokenize a text-classification dataset.

Three sources, one result (:class:`DataSplits`: train / validation / test frames with the columns
``text`` and ``label``):

- a local folder of CSV or parquet files, in MahaNews naming (``LPC_Valid.csv``,
  ``Marathi_LPC_Test.csv``) or generic naming (``train.csv``, ``validation.parquet``, ...);
- the MahaNews release by variant (``mahanews-lpc`` ...), downloaded once into a cache directory;
- a Hugging Face dataset id, through ``datasets``.

Every problem a user can cause (a wrong column, an unknown label, an unreadable file, an empty
folder, no network) raises :class:`DataError` with one message naming the file, the value and the
fix, never a traceback from inside pandas.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from sklearn.model_selection import train_test_split

# The 12 MahaNews topics, in the order the l3cube-pune topic models use (ids 0..11).
MAHANEWS_LABELS: tuple[str, ...] = (
    "Auto",
    "Bhakti",
    "Crime",
    "Education",
    "Fashion",
    "Health",
    "International",
    "Manoranjan",
    "Politics",
    "Sports",
    "Tech",
    "Travel",
)
MAHANEWS_VARIANTS: tuple[str, ...] = ("lpc", "shc", "ldc")
SPLITS: tuple[str, ...] = ("train", "validation", "test")

# Upstream release. SHC lives in MarathiNLP; the paragraph and document corpora in indic-nlp.
_MAHANEWS_URLS: dict[str, str] = {
    "shc": "https://raw.githubusercontent.com/l3cube-pune/MarathiNLP/main/L3Cube-MahaNews/SHC/SHC_{split}.csv",
    "lpc": "https://raw.githubusercontent.com/l3cube-pune/indic-nlp/main/L3Cube-IndicNews/Marathi/LPC/Marathi_LPC_{split}.csv",
    "ldc": "https://raw.githubusercontent.com/l3cube-pune/indic-nlp/main/L3Cube-IndicNews/Marathi/LDC/Marathi_LDC_{split}.csv",
}
_FILE_SPLIT_NAMES = {"train": "Train", "validation": "Valid", "test": "Test"}

_TEXT_COLUMNS = ("text", "texts", "headline", "sentence", "content", "body", "document", "news")
_LABEL_COLUMNS = ("label", "labels", "category", "class", "target", "topic")
_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "valid": "validation",
    "validation": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
}
_SUFFIXES = (".csv", ".parquet", ".pq", ".tsv")
_MAHANEWS_NAME = re.compile(r"^(?:\w+_)?(SHC|LPC|LDC)_(train|valid|validation|test)$", re.I)


class DataError(ValueError):
    """A dataset could not be found, read or understood; the message says what to do."""


@dataclass
class CleaningReport:
    """What cleaning removed or noticed, per split (counts, never silent)."""

    rows_read: dict[str, int] = field(default_factory=dict)
    header_rows: dict[str, int] = field(default_factory=dict)
    empty_texts: dict[str, int] = field(default_factory=dict)
    missing_labels: dict[str, int] = field(default_factory=dict)
    stripped: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    carved: str = ""

    def lines(self) -> list[str]:
        out = []
        for split in self.rows_read:
            out.append(
                f"{split}: read {self.rows_read[split]} rows; dropped "
                f"{self.header_rows.get(split, 0)} repeated header rows, "
                f"{self.empty_texts.get(split, 0)} empty texts, "
                f"{self.missing_labels.get(split, 0)} missing labels; "
                f"stripped whitespace in {self.stripped.get(split, 0)}; "
                f"kept {self.duplicates.get(split, 0)} duplicate texts"
            )
        if self.carved:
            out.append(self.carved)
        return out


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
            frame = self[split]
            h.update(split.encode())
            for text, label in zip(frame.text, frame.label, strict=True):
                h.update(text.encode())
                h.update(b"\x1f")
                h.update(label.encode())
                h.update(b"\x1e")
        return h.hexdigest()[:16]

    def summary(self) -> str:
        sizes = ", ".join(f"{s} {len(self[s])}" for s in SPLITS)
        return f"{self.source}: {sizes} rows, {len(self.labels)} labels"


# --------------------------------------------------------------------------------------------
# Entry point


def load_splits(
    data_dir: str | Path | None = None,
    *,
    variant: str | None = None,
    dataset: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    seed: int = 42,
    validation_fraction: float = 0.2,
    cache_dir: str | Path | None = None,
    max_rows: int | None = None,
) -> DataSplits:
    """Load, clean and (where a split is missing) carve train / validation / test.

    Exactly one source: ``data_dir`` (a local folder; ``variant`` picks ``lpc|shc|ldc`` when the
    folder holds several MahaNews variants), or ``dataset`` (``mahanews-lpc|shc|ldc`` for the
    upstream release, anything else is a Hugging Face dataset id).
    ``max_rows`` keeps a stratified subset of each split (for quick runs and tests).

    >>> splits = load_splits("../shared/data/mahanews", variant="lpc")  # doctest: +SKIP
    >>> splits.summary()  # doctest: +SKIP
    'LPC in ../shared/data/mahanews: train 2032, validation 509, test 2539 rows, 12 labels'
    """
    if (data_dir is None) == (dataset is None):
        raise DataError(
            "give exactly one data source: --data-dir FOLDER (local CSV/parquet files) or "
            "--dataset mahanews-lpc|mahanews-shc|mahanews-ldc|<Hugging Face dataset id>"
        )
    if dataset is not None and dataset.lower().startswith("mahanews-"):
        v = dataset.lower().removeprefix("mahanews-")
        data_dir = download_mahanews(v, cache_dir=cache_dir)
        variant = v
    if data_dir is not None:
        files = find_split_files(data_dir, variant=variant)
        frames = {split: _read_table(path) for split, path in files.items()}
        source = f"{_variant_of(files) or 'data'} in {data_dir}"
    else:
        assert dataset is not None
        frames = _load_hf_dataset(dataset, cache_dir=cache_dir)
        source = f"Hugging Face dataset {dataset}"

    report = CleaningReport()
    cleaned: dict[str, pd.DataFrame] = {}
    for split, (frame, origin) in frames.items():
        tcol, lcol = resolve_columns(frame, origin, text_column, label_column)
        cleaned[split] = clean_frame(frame, tcol, lcol, split=split, report=report, origin=origin)
    splits = _complete_splits(cleaned, seed=seed, fraction=validation_fraction, report=report)
    if max_rows is not None:
        splits = {s: _stratified_head(f, max_rows, seed) for s, f in splits.items()}
    return DataSplits(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        source=source,
        report=report,
    )


# --------------------------------------------------------------------------------------------
# Finding files


def find_split_files(data_dir: str | Path, variant: str | None = None) -> dict[str, Path]:
    """Map ``train|validation|test`` to the files in ``data_dir`` (only the splits that exist)."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(
            f"data folder {folder} does not exist or is not a folder; pass --data-dir with a "
            "folder of CSV/parquet files (e.g. ../shared/data/mahanews)"
        )
    candidates = sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES)
    if not candidates:
        raise DataError(
            f"no .csv or .parquet files in {folder}; expected MahaNews names like LPC_Valid.csv "
            "or generic names train.csv / validation.csv / test.csv"
        )
    by_variant: dict[str, dict[str, Path]] = {}
    generic: dict[str, Path] = {}
    for path in candidates:
        match = _MAHANEWS_NAME.match(path.stem)
        if match:
            v, split = match.group(1).lower(), _SPLIT_ALIASES[match.group(2).lower()]
            by_variant.setdefault(v, {})[split] = path
        elif path.stem.lower() in _SPLIT_ALIASES:
            generic[_SPLIT_ALIASES[path.stem.lower()]] = path
    if by_variant:
        if variant is None:
            if len(by_variant) > 1:
                raise DataError(
                    f"{folder} holds several MahaNews variants ({', '.join(sorted(by_variant))}); "
                    "choose one with --variant"
                )
            variant = next(iter(by_variant))
        variant = variant.lower()
        if variant not in by_variant:
            raise DataError(
                f"no {variant.upper()}_* files in {folder} (found variants: "
                f"{', '.join(sorted(by_variant))}); pick one of those with --variant"
            )
        return by_variant[variant]
    if generic:
        return generic
    names = ", ".join(p.name for p in candidates)
    raise DataError(
        f"cannot tell the splits apart in {folder} (files: {names}); name them "
        "train/validation/test.csv or in MahaNews form LPC_Train.csv, LPC_Valid.csv, LPC_Test.csv"
    )


def _variant_of(files: Mapping[str, Path]) -> str | None:
    for path in files.values():
        match = _MAHANEWS_NAME.match(path.stem)
        if match:
            return match.group(1).upper()
    return None


def download_mahanews(
    variant: str,
    cache_dir: str | Path | None = None,
    *,
    urls: Mapping[str, str] = _MAHANEWS_URLS,
) -> Path:
    """Download a MahaNews variant once into ``cache_dir`` and return the folder.

    ``urls`` maps a variant to a URL template with ``{split}`` (Train / Valid / Test).
    """
    variant = variant.lower()
    if variant not in urls:
        raise DataError(
            f"unknown MahaNews variant {variant!r}; use one of {', '.join(MAHANEWS_VARIANTS)}"
        )
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    folder = root / "mahanews" / variant
    folder.mkdir(parents=True, exist_ok=True)
    for split, name in _FILE_SPLIT_NAMES.items():
        target = folder / f"{variant.upper()}_{name}.csv"
        if target.exists():
            continue
        url = urls[variant].format(split=name)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                payload = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise DataError(
                f"cannot download MahaNews {variant.upper()} {split} from {url} ({exc}); "
                "without network, pass --data-dir with a local copy (e.g. ../shared/data/mahanews)"
            ) from None
        partial = target.with_suffix(".part")
        partial.write_bytes(payload)
        partial.rename(target)
    return folder


def default_cache_dir() -> Path:
    """``$LOWRES_CACHE`` or ``~/.cache/lowres-study``."""
    import os

    return Path(os.environ.get("LOWRES_CACHE", Path.home() / ".cache" / "lowres-study"))


# --------------------------------------------------------------------------------------------
# Reading and cleaning


def _read_table(path: Path) -> tuple[pd.DataFrame, str]:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=True)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; remove it or fill it with a header and rows") from None
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(
            f"{path} is not a well-formed {'TSV' if path.suffix == '.tsv' else 'CSV'} ({first}); "
            "check the quoting of texts with commas or newlines"
        ) from None
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"cannot read {path} ({type(exc).__name__}: {exc})") from None
    return frame, str(path)


def resolve_columns(
    frame: pd.DataFrame,
    origin: str,
    text_column: str | None = None,
    label_column: str | None = None,
) -> tuple[str, str]:
    """Find the text and label columns among common names (any case), or check given ones."""
    columns = [str(c) for c in frame.columns]
    lower = {c.lower(): c for c in columns}

    def pick(given: str | None, names: Sequence[str], what: str, flag: str) -> str:
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

    tcol = pick(text_column, _TEXT_COLUMNS, "text", "--text-column")
    lcol = pick(label_column, _LABEL_COLUMNS, "label", "--label-column")
    if tcol == lcol:
        raise DataError(
            f"{origin}: text and label column are both {tcol!r}; pass --text-column and "
            "--label-column"
        )
    return tcol, lcol


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
    report.duplicates[split] = int(out.text.duplicated().sum())
    return out


def _stratified_head(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    if len(frame) <= n:
        return frame
    counts = frame.label.value_counts()
    stratify = frame.label if counts.min() >= 2 and n >= len(counts) else None
    subset, _ = train_test_split(frame, train_size=n, random_state=seed, stratify=stratify)
    return subset.reset_index(drop=True)


def _split(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    counts = frame.label.value_counts()
    stratify = frame.label if counts.min() >= 2 else None
    n_small = max(1, round(len(frame) * fraction))
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
    cleaned: dict[str, pd.DataFrame], *, seed: int, fraction: float, report: CleaningReport
) -> dict[str, pd.DataFrame]:
    """Carve whatever split is missing from what exists, stratified and deterministic by seed."""
    have = set(cleaned)
    notes = []
    out = dict(cleaned)
    if "train" not in have:
        if "validation" in have:
            out["train"], out["validation"] = _split(cleaned["validation"], fraction, seed)
            notes.append(
                f"NO TRAIN SPLIT: carved train ({len(out['train'])}) and validation "
                f"({len(out['validation'])}) from the validation file, stratified, seed {seed}"
            )
        elif "test" in have:
            rest, out["test"] = _split(cleaned["test"], fraction, seed)
            out["train"], out["validation"] = _split(rest, fraction, seed)
            notes.append(
                f"ONLY A TEST SPLIT: carved train ({len(out['train'])}), validation "
                f"({len(out['validation'])}) and test ({len(out['test'])}) from it, seed {seed}"
            )
    if "validation" not in out:
        out["train"], out["validation"] = _split(out["train"], fraction, seed)
        notes.append(f"no validation split: carved {len(out['validation'])} rows from train")
    if "test" not in out:
        out["train"], out["test"] = _split(out["train"], fraction, seed)
        notes.append(f"no test split: carved {len(out['test'])} rows from train")
    for split in SPLITS:
        out[split] = out[split].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    report.carved = "; ".join(notes)
    return out


def _load_hf_dataset(
    dataset_id: str, cache_dir: str | Path | None
) -> dict[str, tuple[pd.DataFrame, str]]:
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as exc:  # datasets raises many kinds; the user needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"cannot load Hugging Face dataset {dataset_id!r} ({first}); check the id, the network "
            "or pass --data-dir with local CSV/parquet files"
        ) from None
    frames: dict[str, tuple[pd.DataFrame, str]] = {}
    for name, part in loaded.items():
        split = _SPLIT_ALIASES.get(name.lower())
        if split is None:
            continue
        frames[split] = (part.to_pandas(), f"{dataset_id}[{name}]")
    if not frames:
        raise DataError(
            f"Hugging Face dataset {dataset_id!r} has splits {list(loaded)}, none named "
            "train/validation/test; export them to a local folder and pass --data-dir"
        )
    return frames


# --------------------------------------------------------------------------------------------
# Labels and tokenization


def encode_labels(splits: DataSplits, label2id: Mapping[str, int]) -> dict[str, torch.Tensor]:
    """Map label names onto the model's ids; a label the model does not know is an error."""
    known = {str(k): int(v) for k, v in label2id.items()}
    lowered = {k.lower(): v for k, v in known.items()}
    out = {}
    for split in SPLITS:
        ids = []
        for label in splits[split].label:
            idx = known.get(label, lowered.get(label.lower()))
            if idx is None:
                raise DataError(
                    f"label {label!r} in the {split} split ({splits.source}) is not one the model "
                    f"knows ({', '.join(sorted(known))}); fix the data or use a model trained on "
                    "these labels"
                )
            ids.append(idx)
        out[split] = torch.tensor(ids, dtype=torch.long)
    return out


@dataclass
class TokenizedSplit:
    """Padded token ids of one split plus labels; :meth:`batches` trims padding per batch."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        mask = self.attention_mask[index]
        width = max(1, int(mask.sum(dim=1).max()))
        return {
            "input_ids": self.input_ids[index, :width],
            "attention_mask": mask[:, :width],
            "labels": self.labels[index],
            "idx": index,
        }

    def batches(
        self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> list[dict[str, torch.Tensor]]:
        order = (
            torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        )
        return [self.batch(order[i : i + batch_size]) for i in range(0, len(self), batch_size)]


def tokenize_splits(
    splits: DataSplits,
    tokenizer,
    label2id: Mapping[str, int],
    *,
    max_length: int,
    cache_dir: str | Path | None = None,
) -> dict[str, TokenizedSplit]:
    """Tokenize every split with the model's fast tokenizer, batched; cached on disk by content.

    The cache key covers the data fingerprint, the tokenizer's vocabulary and ``max_length``, so
    trials of a study read the tensors instead of re-tokenizing.
    """
    labels = encode_labels(splits, label2id)
    key = _tokenizer_key(tokenizer, splits.fingerprint(), max_length)
    path = Path(cache_dir) / f"tokens-{key}.safetensors" if cache_dir else None
    if path is not None and path.exists():
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        return {
            s: TokenizedSplit(tensors[f"{s}.input_ids"], tensors[f"{s}.attention_mask"], labels[s])
            for s in SPLITS
        }
    out = {}
    for split in SPLITS:
        enc = tokenizer(
            list(splits[split].text),
            max_length=max_length,
            truncation=True,
            padding="max_length",
            return_tensors="pt",
        )
        out[split] = TokenizedSplit(
            enc["input_ids"].to(torch.int32), enc["attention_mask"].to(torch.int8), labels[split]
        )
    if path is not None:
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for s, t in out.items():
            tensors[f"{s}.input_ids"] = t.input_ids.contiguous()
            tensors[f"{s}.attention_mask"] = t.attention_mask.contiguous()
        tmp = path.with_suffix(".part")
        save_file(tensors, str(tmp))
        tmp.rename(path)
    return out


def _tokenizer_key(tokenizer, fingerprint: str, max_length: int) -> str:
    h = hashlib.sha256()
    h.update(fingerprint.encode())
    h.update(str(max_length).encode())
    h.update(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        h.update(backend.to_str().encode())
    else:
        h.update(json.dumps(sorted(tokenizer.get_vocab().items())).encode())
    return h.hexdigest()[:16]


def unknown_token_rate(tokenizer, texts: Sequence[str], max_length: int = 128) -> float:
    """Fraction of produced tokens that are ``[UNK]`` (a broken vocabulary shows up here)."""
    enc = tokenizer(list(texts), max_length=max_length, truncation=True, add_special_tokens=False)
    unk = tokenizer.unk_token_id
    total = sum(len(ids) for ids in enc["input_ids"])
    hits = sum(sum(1 for i in ids if i == unk) for ids in enc["input_ids"])
    return hits / max(1, total)
