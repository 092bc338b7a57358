"""Timing from raw text: the tokenising is inside each timed call, timed apart on a fake clock,
and the forward-only time is the rest of the same call."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from tests.trainables.measure.conftest import FakeClock
from trainables.measure import (
    TOKENISE,
    TimingBudget,
    TimingResult,
    measure_by_budget,
    measuring,
    speedup,
    text_heads,
    text_passes,
    time_calls,
    tokenizer_threads,
)


class _Tokenizer:
    """Counts its calls and takes ``seconds`` of the fake clock per call; pads to the longest
    text (one piece per character), truncated to ``max_length``."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock, self.seconds, self.calls = clock, seconds, []

    def __call__(self, texts, *, truncation, max_length, padding, return_tensors):
        assert truncation and padding is True and return_tensors == "pt"
        self.calls.append(list(texts))
        self.clock.now += self.seconds
        width = min(max_length, max(len(text) for text in texts))
        ids = torch.ones(len(texts), width, dtype=torch.long)
        return {"input_ids": ids, "attention_mask": ids, "token_type_ids": ids * 0}


class _Model(nn.Module):
    """Takes ``seconds`` of the fake clock per forward pass; records the widths it ran."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds, self.widths = clock, seconds, []

    def forward(self, input_ids, attention_mask):
        self.widths.append(input_ids.shape[1])
        self.clock.now += self.seconds
        return SimpleNamespace(logits=torch.zeros(len(input_ids), 3))


def test_a_slow_tokenizer_shows_in_the_end_to_end_time_not_in_the_forward_time(clock):
    chunks = [["a" * 10, "b" * 50], ["c" * 5]]
    # the same forward pass; the student's tokenizer is five times slower
    teacher, student = _Model(clock, 2.0), _Model(clock, 2.0)
    fast, slow = _Tokenizer(clock, 0.5), _Tokenizer(clock, 2.5)
    calls = text_passes(
        {"teacher": (teacher, fast), "student": (student, slow)},
        chunks,
        max_length=32,
        device="cpu",
    )
    measured = measure_by_budget(calls, [2, 1], TimingBudget(repeats=3, seconds=0.0))
    timings = measured.timings
    # every batch tokenised once per warm-up and round, with the model's own tokenizer
    assert fast.calls == slow.calls == chunks * 4
    assert teacher.widths[:2] == [32, 5]  # truncated to max_length, padded to the longest
    # end to end: two batches of (tokenise + forward) per round
    assert timings["teacher"].seconds == (5.0, 5.0, 5.0)
    assert timings["student"].seconds == (9.0, 9.0, 9.0)
    assert speedup(timings, "teacher", "student") == pytest.approx(5.0 / 9.0)
    # forward only, from the same calls in the same rounds: the tokenising is taken out
    forward = {name: result.without(TOKENISE) for name, result in timings.items()}
    assert forward["teacher"].seconds == forward["student"].seconds == (4.0, 4.0, 4.0)
    assert speedup(forward, "teacher", "student") == 1.0
    assert timings["student"].share(TOKENISE) == pytest.approx(5.0 / 9.0)


def test_calls_without_parts_have_none_and_without_names_the_parts(clock):
    def take() -> None:
        clock.now += 1.0

    result = time_calls({"a": take}, repeats=3, warmup=0)["a"]
    assert result.seconds == (1.0, 1.0, 1.0) and dict(result.parts) == {}
    with pytest.raises(KeyError, match=r"no part 'tokenise' was timed; timed parts: \[\]"):
        result.without(TOKENISE)
    assert TimingResult((2.0,), {TOKENISE: (0.5,)}).without(TOKENISE).seconds == (1.5,)


def test_heads_tokenise_the_first_rows_of_the_first_batch(clock):
    model, tokenizer = _Model(clock, 1.0), _Tokenizer(clock, 0.25)
    chunk = [str(i) * (i + 1) for i in range(10)]
    head = text_heads({"m": (model, tokenizer)}, chunk, max_length=64, device="cpu")["m"]
    assert head(3)() == {TOKENISE: 0.25}
    assert tokenizer.calls == [chunk[:3]] and model.widths == [3]


def test_tokenizer_threads_are_capped_while_timing_and_given_back(monkeypatch):
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    monkeypatch.setenv("RAYON_NUM_THREADS", "7")
    with measuring("cpu", "fp32", threads=1):
        # read by the Rust tokenizers at every batch call: one thread from here on
        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    assert "TOKENIZERS_PARALLELISM" not in os.environ
    with tokenizer_threads(2):
        assert "TOKENIZERS_PARALLELISM" not in os.environ
        assert os.environ["RAYON_NUM_THREADS"] == "2"
    assert os.environ["RAYON_NUM_THREADS"] == "7"
    with measuring("cpu", "fp32", threads=0):  # unchanged: as torch's threads
        assert "TOKENIZERS_PARALLELISM" not in os.environ


_ENCODE = """
import os, sys
from tokenizers import Tokenizer, models, pre_tokenizers
from trainables.measure import tokenizer_threads

tokenizer = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1, "##a": 2}, unk_token="[UNK]"))
tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
before = len(os.listdir("/proc/self/task"))
with tokenizer_threads(int(sys.argv[1])):
    tokenizer.encode_batch(["a aa aaa " * 50] * 500)
print(len(os.listdir("/proc/self/task")) - before)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_one_timing_thread_keeps_the_tokenizer_off_its_thread_pool():
    def new_threads(threads: int) -> int:
        env = {**os.environ, "PYTHONPATH": os.getcwd()}
        env.pop("TOKENIZERS_PARALLELISM", None)
        out = subprocess.run(
            [sys.executable, "-c", _ENCODE, str(threads)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return int(out.stdout.strip())

    assert new_threads(0) >= 1  # uncapped: batch encoding starts the Rust pool's threads
    assert new_threads(1) == 0  # one timing thread: no pool at all


def test_only_parts_count_as_parts_not_a_model_output_dict() -> None:
    from trainables.measure.timing import Parts

    outputs = {"logits": torch.zeros(2, 3)}  # what ONNX Runtime's rows return
    timings = time_calls({"a": lambda: outputs, "b": lambda: Parts({TOKENISE: 0.0})}, repeats=2)
    assert not timings["a"].parts and set(timings["b"].parts) == {TOKENISE}
