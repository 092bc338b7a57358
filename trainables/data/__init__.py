"""Find, clean, split and tokenize a text-classification dataset.

A :class:`DataSpec` names one source and how to split it; :func:`load_splits` turns it into
:class:`DataSplits` (train / validation / test frames with the columns ``text`` and ``label``);
:func:`tokenize_splits` turns those into a model's token ids. Unless ``keep_overlap``, train
and validation rows whose text also occurs in test are removed, and train rows whose text also
occurs in validation (the upstream MahaNews splits share texts); :class:`CleaningReport` counts
them; :func:`add_data_flags` and :func:`data_spec` make a command line's data flags from
DataSpec's fields and read the spec back. Three sources:

- a local folder of CSV or parquet files, in MahaNews naming (``LPC_Valid.csv``,
  ``Marathi_LPC_Test.csv``) or generic naming (``train.csv``, ``validation.parquet``, ...);
- the MahaNews release by variant (``mahanews-lpc`` ...), downloaded once into a cache directory;
- a Hugging Face dataset id, through ``datasets``.

Every problem a user can cause (a wrong column, an unknown label, an unreadable file, an empty
folder, no network) raises :class:`DataError` with one message naming the file, the value and the
fix, never a traceback from inside pandas.

>>> from trainables.data import DataSpec, load_splits, tokenize_splits
>>> spec = DataSpec(data_dir="../shared/data/mahanews", variant="lpc", max_rows=500)
>>> splits = load_splits(spec)  # doctest: +SKIP
>>> tokens = tokenize_splits(splits, tokenizer, label2id, max_length=128)  # doctest: +SKIP
"""

from trainables.data.cleaning import (
    CleaningReport,
    clean_frame,
    normalise_texts,
    resolve_columns,
    text_groups,
    text_repeats,
)
from trainables.data.flags import add_data_flags, data_spec
from trainables.data.sources import (
    MAHANEWS_LABELS,
    MAHANEWS_VARIANTS,
    SPLITS,
    DataError,
    default_cache_dir,
    download_mahanews,
    find_split_files,
)
from trainables.data.spec import DataSpec
from trainables.data.splits import DataSplits, load_splits
from trainables.data.tokens import TokenizedSplit, encode_labels, tokenize_splits

__all__ = [
    "MAHANEWS_LABELS",
    "MAHANEWS_VARIANTS",
    "SPLITS",
    "CleaningReport",
    "DataError",
    "DataSpec",
    "DataSplits",
    "TokenizedSplit",
    "add_data_flags",
    "clean_frame",
    "data_spec",
    "default_cache_dir",
    "download_mahanews",
    "encode_labels",
    "find_split_files",
    "load_splits",
    "normalise_texts",
    "resolve_columns",
    "text_groups",
    "text_repeats",
    "tokenize_splits",
]
