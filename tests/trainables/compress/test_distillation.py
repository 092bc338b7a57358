import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from trainables.compress.distillation import (
    TeacherLogitsCache,
    compute_teacher_logits,
    distillation_loss,
    tensor_fingerprint,
)


def _logits(seed: int, shape: tuple[int, int] = (4, 3)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 3


def _hand_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> float:
    """KL(p_teacher || p_student) at a temperature, per example, averaged: plain Python."""
    total = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist(), strict=True):
        s_exp = [math.exp(v / temperature) for v in s_row]
        t_exp = [math.exp(v / temperature) for v in t_row]
        p_s = [v / sum(s_exp) for v in s_exp]
        p_t = [v / sum(t_exp) for v in t_exp]
        total += sum(t * math.log(t / s) for t, s in zip(p_t, p_s, strict=True))
    return total / len(student)


def test_distil_term_is_hand_computed_kl_times_t_squared():
    student, teacher, labels = _logits(0), _logits(1), torch.tensor([0, 2, 1, 2])
    for temperature in (1.0, 2.0, 4.0):
        loss = distillation_loss(student, teacher, labels, temperature, alpha_distil=0.5)
        expected = temperature**2 * _hand_kl(student, teacher, temperature)
        assert loss.distil.item() == pytest.approx(expected, rel=1e-5)


def test_alpha_zero_is_plain_ce_and_alpha_one_is_pure_distillation():
    student, teacher, labels = _logits(0), _logits(1), torch.tensor([0, 2, 1, 2])
    ce = nn.functional.cross_entropy(student, labels)

    plain = distillation_loss(student, teacher, labels, temperature=2.0, alpha_distil=0.0)
    assert plain.total.item() == pytest.approx(ce.item())
    assert plain.ce.item() == pytest.approx(ce.item())
    assert plain.distil.item() > 0  # still reported

    pure = distillation_loss(student, teacher, labels, temperature=2.0, alpha_distil=1.0)
    assert pure.total.item() == pytest.approx(pure.distil.item())

    mixed = distillation_loss(student, teacher, labels, temperature=2.0, alpha_distil=0.9)
    assert mixed.total.item() == pytest.approx(0.9 * mixed.distil.item() + 0.1 * ce.item())


def test_gradient_reaches_the_student_only():
    student = _logits(0).requires_grad_()
    teacher = _logits(1).requires_grad_()
    loss = distillation_loss(student, teacher, torch.tensor([0, 2, 1, 2]), 2.0, 0.9)
    loss.total.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_identical_logits_give_zero_distillation():
    logits = _logits(0)
    loss = distillation_loss(logits, logits.clone(), torch.tensor([0, 2, 1, 2]), 2.0, 0.9)
    assert loss.distil.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_logits_give_finite_float32_losses(dtype):
    student, teacher = (_logits(0) * 10).to(dtype), (_logits(1) * 10).to(dtype)
    loss = distillation_loss(student, teacher, torch.tensor([0, 2, 1, 2]), 2.0, 0.9)
    for part in loss:
        assert part.dtype == torch.float32
        assert torch.isfinite(part)


@pytest.mark.parametrize(
    ("temperature", "alpha", "match"),
    [(0.0, 0.5, "temperature must be > 0, got 0.0"), (2.0, 1.5, "alpha_distil.*got 1.5")],
)
def test_bad_hyperparameters_are_named(temperature, alpha, match):
    with pytest.raises(ValueError, match=match):
        distillation_loss(_logits(0), _logits(1), torch.tensor([0, 1, 2, 0]), temperature, alpha)


def test_shape_mismatches_are_named():
    with pytest.raises(ValueError, match=r"student \(4, 3\) and teacher \(4, 5\)"):
        distillation_loss(_logits(0), _logits(1, (4, 5)), torch.tensor([0, 1, 2, 0]), 2.0, 0.5)
    with pytest.raises(ValueError, match=r"labels must be \[batch\] = \[4\].*got \(3,\)"):
        distillation_loss(_logits(0), _logits(1), torch.tensor([0, 1, 2]), 2.0, 0.5)


class _Split(Dataset):
    def __init__(self, n: int) -> None:
        self.features = torch.randn(n, 5, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"features": self.features[i], "labels": torch.tensor(i % 3), "idx": torch.tensor(i)}


class _Teacher(nn.Module):
    """Counts its calls; would fail if given ``labels`` or ``idx``."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(5, 3)
        self.calls = 0

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.linear(features)


def test_teacher_logits_are_indexed_by_example_under_shuffling():
    split, teacher = _Split(10), _Teacher()
    loader = DataLoader(
        split, batch_size=3, shuffle=True, generator=torch.Generator().manual_seed(1)
    )
    logits = compute_teacher_logits(teacher, loader, device="cpu")
    with torch.no_grad():
        expected = teacher.linear(split.features)
    torch.testing.assert_close(logits, expected)
    assert teacher.training  # given back in the mode it came in

    for batch in loader:  # a shuffled training loop finds its batch's rows
        torch.testing.assert_close(logits[batch["idx"]], teacher.linear(batch["features"]).detach())


def test_teacher_logits_refuse_incomplete_indices():
    loader = DataLoader(_Split(10), batch_size=3, drop_last=True)
    with pytest.raises(ValueError, match="drop_last"):
        compute_teacher_logits(_Teacher(), loader, device="cpu")


def test_cache_computes_once_and_reloads_from_disk(tmp_path):
    split = _Split(7)
    loader = DataLoader(split, batch_size=4)
    fingerprint = tensor_fingerprint(split.features)
    teacher = _Teacher()

    cache = TeacherLogitsCache(teacher, "tiny-teacher", device="cpu", cache_dir=tmp_path)
    first = cache.get("train", loader, fingerprint)
    calls = teacher.calls
    torch.testing.assert_close(cache.get("train", loader, fingerprint), first)  # from disk
    assert teacher.calls == calls
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed, not left behind
    assert len(list(tmp_path.glob("*.safetensors"))) == 1

    other_teacher = _Teacher()  # a fresh process: same id and data -> read from disk
    reloaded = TeacherLogitsCache(other_teacher, "tiny-teacher", device="cpu", cache_dir=tmp_path)
    torch.testing.assert_close(reloaded.get("train", loader, fingerprint), first)
    assert other_teacher.calls == 0

    changed = tensor_fingerprint(split.features + 1)  # other data -> recomputed
    reloaded.get("train", loader, changed)
    assert other_teacher.calls > 0
    assert len(list(tmp_path.glob("*.safetensors"))) == 2


def test_fingerprint_sees_values_dtype_and_shape():
    x = torch.arange(6)
    assert tensor_fingerprint(x) == tensor_fingerprint(x.clone())
    assert tensor_fingerprint(x) != tensor_fingerprint(x.reshape(2, 3))
    assert tensor_fingerprint(x) != tensor_fingerprint(x.int())
    assert tensor_fingerprint(x) != tensor_fingerprint(x + 1)
