"""Where the raw tables come from: a local folder, the MahaNews release, a Hugging Face dataset.

Each source gives the frames of the splits it has, as read (no cleaning), each with the origin
its error messages name (a file path or ``dataset[split]``).
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from trainables.atomic import atomic_write
from trainables.errors import TrainablesError, first_line

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

# One split's table as read, and the origin (file or dataset split) its messages name.
Frames = dict[str, tuple[pd.DataFrame, str]]


class DataError(TrainablesError, ValueError):
    """A dataset could not be found, read or understood; the message says what to do."""


def read_frames(
    *,
    data_dir: str | None,
    dataset: str | None,
    variant: str | None,
    cache_dir: str | Path | None,
) -> tuple[Frames, str]:
    """The raw frames of the splits one source has, and a description of that source.

    ``dataset`` ``mahanews-lpc|shc|ldc`` downloads the upstream release into ``cache_dir`` and
    reads it as a folder; any other ``dataset`` is a Hugging Face dataset id.
    """
    if dataset is not None and dataset.lower().startswith("mahanews-"):
        variant = dataset.lower().removeprefix("mahanews-")
        data_dir = str(download_mahanews(variant, cache_dir=cache_dir))
    if data_dir is not None:
        files = find_split_files(data_dir, variant=variant)
        frames = {split: (read_table(path), str(path)) for split, path in files.items()}
        return frames, f"{_variant_of(files) or 'data'} in {data_dir}"
    assert dataset is not None, "DataSpec checks that one source is given"
    return _load_hf_dataset(dataset, cache_dir=cache_dir), f"Hugging Face dataset {dataset}"


def default_cache_dir() -> Path:
    """``$LOWRES_CACHE`` or ``~/.cache/lowres-study``."""
    return Path(os.environ.get("LOWRES_CACHE", Path.home() / ".cache" / "lowres-study"))


# --------------------------------------------------------------------------------------------
# A local folder


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


def read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=True)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty; remove it or fill it with a header and rows") from None
    except pd.errors.ParserError as exc:
        raise DataError(
            f"{path} is not a well-formed {'TSV' if path.suffix == '.tsv' else 'CSV'} "
            f"({first_line(exc)}); check the quoting of texts with commas or newlines"
        ) from None
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"cannot read {path} ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------------------------
# The MahaNews release and Hugging Face datasets


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
        with atomic_write(target) as tmp:
            tmp.write_bytes(payload)
    return folder


def _load_hf_dataset(dataset_id: str, cache_dir: str | Path | None) -> Frames:
    import datasets

    try:
        loaded = datasets.load_dataset(dataset_id, cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as exc:  # datasets raises many kinds; the user needs one line
        raise DataError(
            f"cannot load Hugging Face dataset {dataset_id!r} ({first_line(exc)}); check the id, "
            "the network or pass --data-dir with local CSV/parquet files"
        ) from None
    frames: Frames = {}
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
