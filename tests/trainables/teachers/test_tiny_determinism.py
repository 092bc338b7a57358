"""The tiny teacher's tokenizers are the same in every process (the trainers' hash maps are not).

tokenizers' Rust trainers iterate hash maps seeded per process: the WordPiece trainer numbered its
``##`` pieces in that order and broke merge ties by the numbers; the Unigram trainer ordered its
sentences, hence its float sums and its tied pieces, by it. Two fresh processes (with different
PYTHONHASHSEED too) must train the same vocabulary and segment the texts the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO, SHARED_DATA

# 300 headlines: the unfixed WordPiece trainer gave a different vocabulary in nearly every run.
_SCRIPT = """
import hashlib, json, sys
from trainables.data import DataSpec, load_splits
from trainables.teachers.tiny_family import train_tokenizer

splits = load_splits(DataSpec(data_dir=sys.argv[1], variant="shc", max_rows=300))
texts = list(splits.train.text)
out = {}
for family in ("bert", "roberta", "xlm-roberta"):
    tokenizer = train_tokenizer(family, texts, 800)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    ids = tokenizer(texts[:100])["input_ids"]
    digest = hashlib.sha256(json.dumps([vocab, ids], ensure_ascii=False).encode()).hexdigest()
    out[family] = [len(vocab), digest]
print(json.dumps(out))
"""


def _train_in_a_fresh_process(hash_seed: str) -> dict[str, list]:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(SHARED_DATA)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_tokenizers_are_the_same_in_two_processes(mahanews_dir) -> None:
    first, second = _train_in_a_fresh_process("1"), _train_in_a_fresh_process("2")
    assert set(first) == {"bert", "roberta", "xlm-roberta"}
    assert all(size == 800 for size, _ in first.values()), first
    assert first == second
