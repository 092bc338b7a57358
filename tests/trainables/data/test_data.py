"""Data loading on the real shared MahaNews files and on broken inputs made in temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from trainables.data import (
    MAHANEWS_LABELS,
    DataError,
    DataSpec,
    DataSplits,
    data_spec,
    download_mahanews,
    encode_labels,
    find_split_files,
    load_splits,
    normalise_texts,
    text_groups,
    tokenize_splits,
)


def _local(folder: Path, **settings) -> DataSplits:
    """The splits of a local folder; ``settings`` are the other DataSpec fields."""
    return load_splits(DataSpec(data_dir=str(folder), **settings))


# Loading a variant takes seconds on the shared cores: once per module and setting.
@pytest.fixture(scope="module")
def lpc(mahanews_dir: Path) -> DataSplits:
    return _local(mahanews_dir, variant="lpc")


@pytest.fixture(scope="module")
def shc(mahanews_dir: Path) -> DataSplits:
    return _local(mahanews_dir, variant="shc")


# --- the real files, with their quirks ------------------------------------------------------


def test_lpc_cleaning_counts_match_the_files(mahanews_dir: Path, lpc: DataSplits) -> None:
    splits = lpc
    raw = pd.read_csv(mahanews_dir / "LPC_Valid.csv", dtype=str)
    headers = int((raw["labels"] == "Label").sum())
    empty = int(raw["text"].isna().sum()) - headers
    rep = splits.report
    assert rep.header_rows["validation"] == headers == 11
    assert rep.empty_texts["validation"] == empty
    assert rep.rows_read["validation"] == len(raw)
    removed = rep.overlap_test["validation"] + rep.overlap_validation["train"]
    assert len(splits.train) + len(splits.validation) == len(raw) - headers - empty - removed
    assert "NO TRAIN SPLIT" in rep.carved
    assert set(splits.labels) == set(MAHANEWS_LABELS)
    for split in ("train", "validation", "test"):
        frame = splits[split]
        assert list(frame.columns) == ["text", "label"]
        assert (frame.text.str.len() > 0).all()
        assert (frame.text == frame.text.str.strip()).all()
        assert not frame.label.isin(["Label", "labels", "Text"]).any()


def test_carved_split_is_stratified_and_deterministic(mahanews_dir: Path) -> None:
    a = _local(mahanews_dir, variant="lpc", split_seed=7)
    b = _local(mahanews_dir, variant="lpc", split_seed=7)
    c = _local(mahanews_dir, variant="lpc", split_seed=8)
    pd.testing.assert_frame_equal(a.train, b.train)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    # every label appears in both carved parts in about the same proportion
    ratio = a.validation.label.value_counts() / a.train.label.value_counts()
    assert set(a.validation.label) == set(a.train.label)
    assert ratio.between(0.15, 0.35).all()
    # rows grouped by class in the file are shuffled
    assert a.train.label.iloc[:50].nunique() > 5


def test_shc_headlines_keep_and_count_duplicates(shc: DataSplits) -> None:
    splits = shc
    assert splits.report.header_rows["test"] == 11
    assert splits.report.duplicates["test"] > 300
    # the test split loses nothing to overlap, so its duplicates are all still there
    assert normalise_texts(splits.test.text).duplicated().sum() == splits.report.duplicates["test"]
    assert splits.report.stripped["test"] > 0


def test_data_json_reports_shc_test_repeats_and_conflicting_labels(
    mahanews_dir: Path, shc: DataSplits
) -> None:
    # Measured on the raw file, independently of the loader (header and empty rows left out).
    raw = pd.read_csv(mahanews_dir / "SHC_Test.csv", dtype=str)
    text, label = raw.iloc[:, 0], raw.iloc[:, 1].str.strip()
    keep = text.notna() & (label != "Label") & (text.str.strip() != "")
    texts = text[keep].map(lambda t: " ".join(t.split()))
    labels_per_text = label[keep].groupby(texts.to_numpy()).nunique()
    repeats = json.loads(json.dumps(shc.data_json()))["repeats"]["test"]
    assert repeats["rows"] == int(keep.sum()) == 2761  # DESIGN.md's SHC_Test facts
    assert repeats["distinct_texts"] == texts.nunique() == 2402
    assert repeats["duplicate_rows"] == 2761 - 2402
    assert repeats["conflicting_texts"] == int((labels_per_text > 1).sum()) == 5
    conflicting = {t[:50] for t in labels_per_text.index[labels_per_text > 1]}
    assert set(repeats["conflicting"]) == conflicting
    # the test split's groups: one id per distinct text, in order of first appearance
    groups = text_groups(shc.test.text)
    assert groups.dtype == "int64" and groups.max() + 1 == 2402 and groups[0] == 0
    assert (pd.Series(groups).drop_duplicates().diff().dropna() == 1).all()


# --- texts shared across splits ------------------------------------------------------------


def _upstream_overlap(folder: Path, variant: str) -> tuple[int, int, int]:
    """Measured on the raw files, independently of the loader: (Valid rows whose text is in
    Test, Test rows whose text is in Valid, distinct such texts), header and empty rows left out."""

    def texts(name: str) -> pd.Series:
        raw = pd.read_csv(folder / f"{variant.upper()}_{name}.csv", dtype=str)
        text, label = raw.iloc[:, 0], raw.iloc[:, 1].str.strip()
        keep = text.notna() & (label != "Label") & (text.str.strip() != "")
        return text[keep].map(lambda t: " ".join(t.split()))

    valid, test = texts("Valid"), texts("Test")
    in_test, in_valid = valid.isin(set(test)), test.isin(set(valid))
    return int(in_test.sum()), int(in_valid.sum()), int(test[in_valid].nunique())


# Measured on the shared files. DESIGN.md's 418 SHC_Test rows (71 distinct) count the 11
# repeated header rows (one distinct "Text") as well: 407 + 11, 70 + 1.
UPSTREAM_OVERLAP = {"lpc": (197, 195, 149), "shc": (408, 407, 70)}
# Rows of the carved train whose text is in the carved validation (duplicates inside the Valid
# file landing on both sides), split seed 42.
STRADDLING = {"lpc": 18, "shc": 7}


@pytest.mark.parametrize("variant", ["lpc", "shc"])
def test_upstream_overlap_is_removed_and_counted(
    variant: str, mahanews_dir: Path, request: pytest.FixtureRequest
) -> None:
    splits: DataSplits = request.getfixturevalue(variant)
    assert _upstream_overlap(mahanews_dir, variant) == UPSTREAM_OVERLAP[variant]
    rep = splits.report
    # removed from the Valid file before carving; the test file loses nothing
    assert rep.overlap_test == {"validation": UPSTREAM_OVERLAP[variant][0], "train": 0}
    assert rep.overlap_validation == {"train": STRADDLING[variant]}
    assert "test" not in rep.overlap_test and not rep.overlap_kept
    test = set(normalise_texts(splits.test.text))
    validation = set(normalise_texts(splits.validation.text))
    assert not normalise_texts(splits.train.text).isin(test).any()
    assert not normalise_texts(splits.validation.text).isin(test).any()
    assert not normalise_texts(splits.train.text).isin(validation).any()
    assert splits.overlap() == {
        "train_in_test": 0,
        "validation_in_test": 0,
        "train_in_validation": 0,
    }
    clean = (
        rep.rows_read["validation"] - rep.header_rows["validation"] - rep.empty_texts["validation"]
    )
    removed = UPSTREAM_OVERLAP[variant][0] + STRADDLING[variant]
    assert len(splits.train) + len(splits.validation) == clean - removed
    lines = "\n".join(rep.lines())
    assert f"removed {UPSTREAM_OVERLAP[variant][0]} rows whose text is also in test" in lines
    carved = f"train (carved): removed 0 rows whose text is also in test, {STRADDLING[variant]}"
    assert f"{carved} also in validation" in lines


def test_keep_overlap_reproduces_the_old_splits(mahanews_dir: Path, lpc: DataSplits) -> None:
    kept = _local(mahanews_dir, variant="lpc", keep_overlap=True)
    # the sizes of the splits before overlap was removed (the loader's old docstring)
    assert (len(kept.train), len(kept.validation), len(kept.test)) == (2033, 508, 2539)
    assert kept.report.overlap_test == {} and kept.report.overlap_validation == {}
    assert kept.report.overlap_kept and "KEPT OVERLAP (--keep-overlap)" in kept.report.lines()[-1]
    # the kept rows: the 197 Valid rows whose text is in test, spread over train and validation
    overlap = kept.overlap()
    assert overlap["train_in_test"] + overlap["validation_in_test"] == UPSTREAM_OVERLAP["lpc"][0]
    assert overlap == {"train_in_test": 158, "validation_in_test": 39, "train_in_validation": 36}
    assert kept.fingerprints()["test"] == lpc.fingerprints()["test"]
    assert kept.fingerprint() != lpc.fingerprint()


def test_data_json_counts_before_and_sizes_after_max_rows(
    mahanews_dir: Path, lpc: DataSplits
) -> None:
    small = _local(mahanews_dir, variant="lpc", max_rows=100)
    data = json.loads(json.dumps(small.data_json()))
    assert data["sizes"] == {"train": 100, "validation": 100, "test": 100}
    assert data["source"] == small.source and data["labels"] == list(MAHANEWS_LABELS)
    # counts describe the whole files (before the subset), equal to the full load's
    assert data["counts"] == json.loads(json.dumps(lpc.data_json()["counts"]))
    valid = data["counts"]["splits"]["validation"]
    assert valid["rows_read"] == 2761 and valid["overlap_test"] == UPSTREAM_OVERLAP["lpc"][0]
    # a carved split has only the overlap counts: nothing was read into it
    assert data["counts"]["splits"]["train"] == {"overlap_test": 0, "overlap_validation": 18}
    assert data["overlap"] == {
        "train_in_test": 0,
        "validation_in_test": 0,
        "train_in_validation": 0,
    }
    assert data["fingerprint"] == small.fingerprint()
    assert data["fingerprints"] == small.fingerprints()
    assert len(set(data["fingerprints"].values())) == 3
    assert small.fingerprints()["test"] != lpc.fingerprints()["test"]


def _write_text_rows(folder: Path, name: str, rows: list[tuple[str, str]]) -> None:
    # csv module quoting keeps inner newlines and double spaces exactly as given
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(folder / name, index=False)


def test_given_splits_lose_exactly_their_shared_texts(tmp_path: Path) -> None:
    test = [("सामायिक मजकूर", "Sports"), ("case text", "Crime"), ("दोन्हीकडे आहे", "Auto")]
    validation = [
        ("वैध एक", "Sports"),
        ("वैध  दोन", "Crime"),  # double space: also in train as "वैध दोन"
        ("दोन्हीकडे\nआहे", "Auto"),  # a newline instead of the space: in test
        ("वैध तीन", "Auto"),
    ]
    train = [
        ("प्रशिक्षण एक", "Sports"),
        ("सामायिक   मजकूर", "Sports"),  # in test, spaced differently
        ("Case Text", "Crime"),  # not in test: case is kept
        ("वैध दोन", "Crime"),  # in validation
        ("वैध दोन", "Crime"),  # twice: both copies go
        ("दोन्हीकडे आहे", "Auto"),  # in test and validation: counted once, for test
        ("प्रशिक्षण दोन", "Auto"),
    ]
    _write_text_rows(tmp_path, "train.csv", train)
    _write_text_rows(tmp_path, "validation.csv", validation)
    _write_text_rows(tmp_path, "test.csv", test)
    splits = _local(tmp_path)
    rep = splits.report
    assert rep.overlap_test == {"train": 2, "validation": 1}
    assert rep.overlap_validation == {"train": 2}
    assert list(splits.test.text) == [t for t, _ in test]  # test is never touched
    assert sorted(splits.train.text) == sorted(["प्रशिक्षण एक", "Case Text", "प्रशिक्षण दोन"])
    assert sorted(splits.validation.text) == sorted(["वैध एक", "वैध  दोन", "वैध तीन"])
    assert rep.carved == ""
    assert rep.duplicates == {"train": 1, "validation": 0, "test": 0}
    assert rep.lines()[0].endswith(
        "removed 2 rows whose text is also in test, 2 also in validation"
    )

    kept = _local(tmp_path, keep_overlap=True)
    assert (len(kept.train), len(kept.validation), len(kept.test)) == (7, 4, 3)
    assert kept.overlap() == {"train_in_test": 2, "validation_in_test": 1, "train_in_validation": 3}


def test_duplicates_inside_the_carved_file_do_not_straddle(tmp_path: Path) -> None:
    # each text five times in the one file that train and validation are carved from
    rows = [(f"मथळा {i % 8}", MAHANEWS_LABELS[i % 2]) for i in range(40)]
    _write_text_rows(tmp_path, "LPC_Valid.csv", rows)
    _write_text_rows(tmp_path, "LPC_Test.csv", [("मथळा 7", "Auto"), ("वेगळा", "Bhakti")])
    splits = _local(tmp_path, split_seed=3)
    rep = splits.report
    assert rep.overlap_test == {"validation": 5, "train": 0}  # the five copies of "मथळा 7"
    assert not set(splits.train.text) & set(splits.validation.text)
    assert len(splits.train) + len(splits.validation) + rep.overlap_validation["train"] == 35
    assert rep.overlap_validation["train"] > 0  # 7 carved texts over 7 validation rows straddle
    again = _local(tmp_path, split_seed=3)
    assert again.fingerprint() == splits.fingerprint()


def test_overlap_that_leaves_nothing_names_the_file_and_the_flag(tmp_path: Path) -> None:
    _write_text_rows(tmp_path, "train.csv", ROWS[:6])
    _write_text_rows(tmp_path, "validation.csv", ROWS[6:12])
    _write_text_rows(tmp_path, "test.csv", ROWS[:12])
    with pytest.raises(DataError, match=r"every one of the 6 rows of .*train\.csv.*--keep-overlap"):
        _local(tmp_path)
    assert len(_local(tmp_path, keep_overlap=True).train) == 6


def test_keep_overlap_flag_in_both_clis() -> None:
    import argparse

    from study.cli import build_parser
    from trainables.commands.teacher import build_parser as teacher_parser

    base = ["--data-dir", "data"]
    assert data_spec(teacher_parser().parse_args([*base, "--keep-overlap"])).keep_overlap is True
    assert data_spec(teacher_parser().parse_args(base)).keep_overlap is False
    study = build_parser().parse_args([*base, "--grid", "paper", "--keep-overlap"])
    assert data_spec(study).keep_overlap is True
    # a namespace from a CLI without the flag: the default, removal
    old = argparse.Namespace(
        data_dir="data",
        dataset=None,
        variant=None,
        text_column=None,
        label_column=None,
        max_rows=None,
        seed=1,
    )
    assert data_spec(old).keep_overlap is False
    assert DataSpec.from_dict({"data_dir": "data"}).keep_overlap is False


def test_both_clis_take_every_data_flag_and_show_each_default_once() -> None:
    from study.cli import build_parser
    from trainables.commands.teacher import build_parser as teacher_parser

    given = ["--data-dir", "data", "--variant", "lpc", "--text-column", "Text", "--label-column"]
    given += ["Label", "--max-rows", "50", "--seed", "3", "--keep-overlap"]
    expected = DataSpec(
        data_dir="data",
        variant="lpc",
        text_column="Text",
        label_column="Label",
        max_rows=50,
        split_seed=3,
        keep_overlap=True,
    )
    for parser in (build_parser(), teacher_parser()):
        assert data_spec(parser.parse_args(given)) == expected
        assert data_spec(parser.parse_args(["--dataset", "x"])) == DataSpec(dataset="x")
        text = " ".join(parser.format_help().split())
        assert "(default: None)" not in text
        assert text.count("the text column (default: found by common names)") == 1
        assert "(default: 42)" in text  # --seed


def test_variant_must_be_chosen_when_several(mahanews_dir: Path) -> None:
    with pytest.raises(DataError, match="--variant"):
        find_split_files(mahanews_dir)
    with pytest.raises(DataError, match="LDC.*--variant"):
        find_split_files(mahanews_dir, variant="ldc")


def test_max_rows_keeps_a_stratified_subset(mahanews_dir: Path) -> None:
    splits = _local(mahanews_dir, variant="lpc", max_rows=120)
    assert len(splits.train) == len(splits.test) == 120
    assert splits.train.label.nunique() == 12


# --- the data spec: one source, one shape everywhere ----------------------------------------


def test_spec_needs_exactly_one_source() -> None:
    with pytest.raises(DataError, match="exactly one data source.*--data-dir.*--dataset"):
        DataSpec()
    with pytest.raises(DataError, match="exactly one data source"):
        DataSpec(data_dir="data", dataset="mahanews-lpc")


def test_spec_max_rows_must_be_positive() -> None:
    with pytest.raises(DataError, match=r"max_rows must be >= 1, got 0.*--max-rows"):
        DataSpec(dataset="mahanews-lpc", max_rows=0)


def test_spec_round_trips_through_json_with_an_absolute_folder(
    mahanews_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(mahanews_dir.parent)
    spec = DataSpec(data_dir=mahanews_dir.name, variant="shc", max_rows=50, split_seed=3)
    assert spec.data_dir == str(mahanews_dir.resolve())
    stored = json.loads(json.dumps(spec.to_dict()))
    assert stored["split_seed"] == 3 and stored["dataset"] is None
    # a trial reads the spec in another working directory and gets the same splits
    monkeypatch.chdir(tmp_path)
    again = DataSpec.from_dict(stored)
    assert again == spec
    assert load_splits(again).fingerprint() == load_splits(spec).fingerprint()


def test_spec_names_an_unknown_key_and_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown data setting\(s\) seed; known keys: data_dir, "):
        DataSpec.from_dict({"data_dir": "data", "seed": 1})


# --- generic layouts -----------------------------------------------------------------------


def _write(folder: Path, name: str, rows: list[tuple[str, str]], cols=("text", "label")) -> Path:
    path = folder / name
    frame = pd.DataFrame(rows, columns=list(cols))
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    return path


def _rows(n: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"बातमी क्रमांक {i}", MAHANEWS_LABELS[i % 3]) for i in range(start, start + n)]


ROWS = _rows(30)


def test_generic_names_parquet_and_column_aliases(tmp_path: Path) -> None:
    _write(tmp_path, "train.parquet", ROWS, cols=("headline", "category"))
    # texts of their own: rows shared with test would be removed from train and validation
    _write(tmp_path, "dev.csv", _rows(9, start=100), cols=("headline", "category"))
    _write(tmp_path, "test.csv", _rows(12, start=200), cols=("headline", "category"))
    splits = _local(tmp_path)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (30, 9, 12)
    assert splits.report.carved == ""


def test_explicit_columns_and_missing_test_split(tmp_path: Path) -> None:
    rows = [("x", "y", t, lab) for t, lab in ROWS]
    pd.DataFrame(rows, columns=["id", "src", "body_text", "topic_name"]).to_csv(
        tmp_path / "train.csv", index=False
    )
    splits = _local(tmp_path, text_column="body_text", label_column="topic_name")
    assert len(splits.train) + len(splits.validation) + len(splits.test) == 30
    assert "no validation split" in splits.report.carved
    assert "no test split" in splits.report.carved


# --- broken inputs: one clear error naming the file, the value and the fix ----------------------


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no \.csv or \.parquet files in .*LPC_Valid"):
        _local(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist.*--data-dir"):
        _local(tmp_path / "nope")


def test_wrong_columns_names_the_file_and_the_columns(tmp_path: Path) -> None:
    _write(tmp_path, "train.csv", ROWS, cols=("sentence", "stars"))
    with pytest.raises(DataError) as err:
        _local(tmp_path)
    msg = str(err.value)
    assert "train.csv" in msg and "stars" in msg and "--label-column" in msg


def test_no_text_column(tmp_path: Path) -> None:
    _write(tmp_path, "train.csv", ROWS, cols=("id", "label"))
    with pytest.raises(DataError, match=r"train\.csv has no text column.*id, label.*--text-column"):
        _local(tmp_path)


def test_given_column_that_does_not_exist(tmp_path: Path) -> None:
    _write(tmp_path, "train.csv", ROWS)
    with pytest.raises(DataError, match=r"no text column 'body'.*--text-column"):
        _local(tmp_path, text_column="body")


def test_only_header_rows(tmp_path: Path) -> None:
    (tmp_path / "LPC_Valid.csv").write_text("text,labels\n,Label\n,Label\ntext,labels\n")
    with pytest.raises(DataError, match=r"LPC_Valid\.csv has no usable rows.*header rows"):
        _local(tmp_path)


def test_unreadable_file_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_bytes(b"text,label\n" + "खेळ,Sports\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"train\.csv is not UTF-8.*re-save"):
        _local(tmp_path)


def test_malformed_csv(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text('text,label\n"unclosed quote,Sports\nx,y,z,w\n')
    with pytest.raises(DataError, match=r"train\.csv"):
        _local(tmp_path)


def test_unnamed_files(tmp_path: Path) -> None:
    _write(tmp_path, "part1.csv", ROWS)
    with pytest.raises(DataError, match=r"part1\.csv.*train/validation/test"):
        _local(tmp_path)


def test_unknown_label_is_named(tmp_path: Path) -> None:
    _write(tmp_path, "train.csv", [*ROWS, ("नवीन", "Weather")])
    splits = _local(tmp_path)
    label2id = {label: i for i, label in enumerate(MAHANEWS_LABELS)}
    with pytest.raises(DataError, match=r"label 'Weather'.*not one the model knows"):
        encode_labels(splits, label2id)


def test_download_failure_names_data_dir(tmp_path: Path) -> None:
    urls = {"lpc": "http://127.0.0.1:9/{split}.csv"}
    with pytest.raises(DataError, match=r"cannot download MahaNews LPC.*--data-dir"):
        download_mahanews("lpc", cache_dir=tmp_path, urls=urls)
    assert not list((tmp_path / "mahanews" / "lpc").glob("*.csv"))  # nothing half-written


def test_unknown_variant(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown MahaNews variant 'xyz'"):
        download_mahanews("xyz", cache_dir=tmp_path)


def test_cli_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "trainables.commands.teacher",
            "--data-dir",
            str(tmp_path),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: no .csv or .parquet files")


def test_cli_without_a_source_names_both_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from trainables.commands.teacher import main

    assert main(["--quiet"]) == 2
    assert capsys.readouterr().err.startswith("error: give exactly one data source: --data-dir")


# --- tokenization --------------------------------------------------------------------------


def _unknown_token_rate(tokenizer, texts: Sequence[str], max_length: int = 128) -> float:
    """Fraction of produced tokens that are ``[UNK]`` (a broken vocabulary shows up here)."""
    enc = tokenizer(list(texts), max_length=max_length, truncation=True, add_special_tokens=False)
    unk = tokenizer.unk_token_id
    total = sum(len(ids) for ids in enc["input_ids"])
    hits = sum(sum(1 for i in ids if i == unk) for ids in enc["input_ids"])
    return hits / max(1, total)


def test_tokenization_is_cached_and_knows_devanagari(mahanews_dir: Path, tmp_path: Path) -> None:
    from trainables.teachers.base import label2id_for
    from trainables.teachers.tiny_family import train_wordpiece

    splits = _local(mahanews_dir, variant="lpc", max_rows=150)
    tokenizer = train_wordpiece(list(splits.train.text), vocab_size=2000)
    assert _unknown_token_rate(tokenizer, list(splits.test.text)) < 0.01
    label2id = label2id_for(splits.labels)
    first = tokenize_splits(splits, tokenizer, label2id, max_length=64, cache_dir=tmp_path)
    files = list(tmp_path.glob("tokens-*.safetensors"))
    assert len(files) == 1
    again = tokenize_splits(splits, tokenizer, label2id, max_length=64, cache_dir=tmp_path)
    assert again["test"].input_ids.equal(first["test"].input_ids)
    assert first["train"].input_ids.shape == (150, 64)
    batch = first["train"].batch(first["train"].labels.new_tensor([0, 1, 2]))
    assert batch["input_ids"].shape[1] <= 64 and batch["labels"].shape == (3,)
