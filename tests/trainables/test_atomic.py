"""Write-then-rename: concurrent writers of one cache entry, a failed write, a folder twice."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import torch

from trainables.atomic import atomic_write
from trainables.data import SPLITS, DataSpec, DataSplits, load_splits, tokenize_splits


def _tokenize_in_a_process(
    splits: DataSplits,
    tokenizer,
    label2id: dict[str, int],
    cache_dir: Path,
    out: Path,
    barrier,
) -> None:
    """Runs in a spawned process: start together with the other one, then tokenize."""
    torch.set_num_threads(1)
    barrier.wait(timeout=120)  # both past their imports: both find the cache empty
    tokens = tokenize_splits(splits, tokenizer, label2id, max_length=32, cache_dir=cache_dir)
    torch.save({s: [t.input_ids, t.attention_mask, t.labels] for s, t in tokens.items()}, out)


def test_two_processes_tokenize_into_one_empty_cache(mahanews_dir: Path, tmp_path: Path) -> None:
    # Imported here: a spawned child imports this module and needs only the data package.
    from trainables.teachers.base import label2id_for
    from trainables.teachers.tiny_family import train_wordpiece

    splits = load_splits(DataSpec(data_dir=str(mahanews_dir), variant="shc", max_rows=300))
    tokenizer = train_wordpiece(list(splits.train.text), vocab_size=800)
    label2id = label2id_for(splits.labels)
    cache = tmp_path / "tokens"
    cache.mkdir()
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    outs = [tmp_path / f"result-{i}.pt" for i in range(2)]
    workers = [
        spawn.Process(
            target=_tokenize_in_a_process,
            args=(splits, tokenizer, label2id, cache, out, barrier),
        )
        for out in outs
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    assert [worker.exitcode for worker in workers] == [0, 0]

    first, second = (torch.load(out) for out in outs)
    for split in SPLITS:
        for a, b in zip(first[split], second[split], strict=True):
            assert torch.equal(a, b)
    files = [path.name for path in cache.iterdir()]
    assert len(files) == 1, files  # one entry, no leftover temporary file
    assert files[0].startswith("tokens-") and files[0].endswith(".safetensors")
    again = tokenize_splits(splits, tokenizer, label2id, max_length=32, cache_dir=cache)
    assert torch.equal(again["train"].input_ids, first["train"][0])


def test_a_failed_write_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "entry.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"

    folder = tmp_path / "teacher"
    with pytest.raises(RuntimeError, match="disk full"), atomic_write(folder) as tmp:
        tmp.mkdir()
        (tmp / "model.safetensors").write_text("half")
        raise RuntimeError("disk full")
    assert not folder.exists()
    assert [path.name for path in tmp_path.iterdir()] == ["entry.json"]  # no temporary left


def test_a_folder_written_twice_keeps_the_first(tmp_path: Path) -> None:
    target = tmp_path / "teacher"
    for content in ("first", "second"):
        with atomic_write(target) as tmp:
            tmp.mkdir()
            (tmp / "teacher.json").write_text(content)
    assert (target / "teacher.json").read_text() == "first"
    assert [path.name for path in tmp_path.iterdir()] == ["teacher"]
