"""Knowledge distillation: the KD loss and the teacher's logits, computed once per split.

The loss is Hinton et al.'s, as used by block movement pruning (Lagunas et al. 2021, temperature
2.0, alpha_distil 0.9)::

    total = alpha_distil * T^2 * KL(softmax(teacher / T) || softmax(student / T))
            + (1 - alpha_distil) * CE(student, labels)

The teacher is frozen, so its logits for a split never change: ``TeacherLogitsCache`` computes
them in one pass and the training loop indexes them by example. The split's batches must carry
``idx`` (each example's position in its split), so a shuffled loader finds its batch's rows::

    cache = TeacherLogitsCache(teacher, "l3cube-pune/marathi-topic-all-doc-v2", device="cuda",
                               precision="fp16", cache_dir=results_dir / "teacher_logits")
    teacher_logits = cache.get("train", train_loader, tensor_fingerprint(train_input_ids))
    for batch in train_loader:
        logits = student(**model_inputs(batch)).logits
        loss = distillation_loss(logits, teacher_logits[batch["idx"]].to(logits.device),
                                 batch["labels"], temperature=2.0, alpha_distil=0.9)
        loss.total.backward()
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn
from torch.utils.data import DataLoader

from trainables.atomic import atomic_write
from trainables.evaluation import model_inputs
from trainables.precision import precision_autocast


class DistillationLoss(NamedTuple):
    """The loss to minimise and its two parts (all float32 scalars).

    ``distil`` already carries the T^2 factor, so ``total = alpha * distil + (1 - alpha) * ce``.
    """

    total: Tensor
    ce: Tensor
    distil: Tensor


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor,
    temperature: float,
    alpha_distil: float,
) -> DistillationLoss:
    """Hinton distillation loss; gradients reach only ``student_logits``.

    Both parts are computed in float32 whatever the logits' dtype: fp16 softmax at a temperature
    loses the small probabilities the KL term is about. The KL is averaged over the batch
    (``batchmean``, the true KL per example) and scaled by T^2 so its gradients keep the scale
    of the CE's as T changes. With ``alpha_distil=0`` the total is the plain CE; ``distil`` is
    still computed and reported.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0 <= alpha_distil <= 1:
        raise ValueError(f"alpha_distil must be in [0, 1], got {alpha_distil}")
    if student_logits.ndim != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(
            "student and teacher logits must both be [batch, num_labels]; got student "
            f"{tuple(student_logits.shape)} and teacher {tuple(teacher_logits.shape)}"
        )
    if labels.shape != student_logits.shape[:1]:
        raise ValueError(
            f"labels must be [batch] = [{student_logits.shape[0]}] to match the logits "
            f"{tuple(student_logits.shape)}; got {tuple(labels.shape)}"
        )

    student = student_logits.float()
    teacher = teacher_logits.detach().float()
    ce = F.cross_entropy(student, labels)
    kl = F.kl_div(
        F.log_softmax(student / temperature, dim=-1),
        F.log_softmax(teacher / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    distil = temperature**2 * kl
    total = alpha_distil * distil + (1 - alpha_distil) * ce
    return DistillationLoss(total=total, ce=ce, distil=distil)


@torch.no_grad()  # not inference_mode: its tensors could not be saved for the student's backward
def compute_teacher_logits(
    model: nn.Module,
    dataloader: Iterable[Mapping[str, Any]],
    device: torch.device | str,
    precision: str = "fp32",
) -> Tensor:
    """The teacher's logits for every example of a split, as a float32 CPU tensor [N, C].

    Row ``i`` belongs to the example whose batch entry ``idx`` is ``i``; the loader may shuffle,
    but together its batches must hold each index 0..N-1 exactly once (no ``drop_last``); N is
    the length of a ``DataLoader``'s dataset, else the number of examples seen.
    The model runs in eval mode (no dropout) and is given back in the mode it came in.
    """
    device = torch.device(device)
    autocast = precision_autocast(device, precision)
    indices: list[Tensor] = []
    rows: list[Tensor] = []
    was_training = model.training
    model.eval()
    try:
        with autocast:
            for batch in dataloader:
                if "idx" not in batch:
                    raise ValueError(
                        f"teacher-logit batches need an 'idx' entry (each example's position in "
                        f"its split); got keys {sorted(batch)}"
                    )
                inputs = {
                    key: value.to(device) if isinstance(value, Tensor) else value
                    for key, value in model_inputs(batch).items()
                }
                output = model(**inputs)
                logits = output.logits if hasattr(output, "logits") else output
                indices.append(torch.as_tensor(batch["idx"]).reshape(-1).cpu())
                rows.append(logits.float().cpu())
    finally:
        model.train(was_training)
    if not rows:
        raise ValueError("the dataloader yielded no batches")

    index = torch.cat(indices).long()
    logits = torch.cat(rows)
    # A DataLoader knows its split's size, which catches a drop_last that removed the tail.
    n = index.numel()
    if isinstance(dataloader, DataLoader) and hasattr(dataloader.dataset, "__len__"):
        n = len(dataloader.dataset)
    if index.numel() != n or not torch.equal(torch.sort(index).values, torch.arange(n)):
        raise ValueError(
            f"batch 'idx' values must be 0..{n - 1}, each once (a split's positions); got "
            f"{index.numel()} values, min {int(index.min())}, max {int(index.max())}, "
            f"{index.unique().numel()} distinct. Is drop_last set, or are the indices global "
            "rather than per split?"
        )
    table = torch.empty_like(logits)
    table[index] = logits
    return table


def tensor_fingerprint(*tensors: Tensor) -> str:
    """A sha256 hex digest of the tensors' dtypes, shapes and values: a data fingerprint."""
    digest = hashlib.sha256()
    for tensor in tensors:
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{tensor.dtype}{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class TeacherLogitsCache:
    """The teacher's logits per split, computed once and, with ``cache_dir``, kept on disk.

    An entry is keyed by ``teacher_id``, ``precision``, the split name and a data fingerprint
    (e.g. ``tensor_fingerprint(input_ids)``). ``teacher_id`` must change whenever the teacher's
    weights do (a hub id with revision, or a path plus a checkpoint hash): the cache cannot see
    the weights. The logits are saved as safetensors (through ``atomic_write``, so parallel
    trials never read a half-written file) and later trials load them instead of running the
    teacher. A trial asks once per split, so nothing is kept in memory.
    """

    def __init__(
        self,
        teacher: nn.Module,
        teacher_id: str,
        *,
        device: torch.device | str,
        precision: str = "fp32",
        cache_dir: str | Path | None = None,
    ) -> None:
        precision_autocast(device, precision)  # fail on a bad precision now, not mid-training
        self.teacher = teacher
        self.teacher_id = teacher_id
        self.device = torch.device(device)
        self.precision = precision
        self.cache_dir = None if cache_dir is None else Path(cache_dir)

    def get(self, split: str, dataloader: Iterable[Mapping[str, Any]], fingerprint: str) -> Tensor:
        """Logits [N, C] for ``split``: from disk, else run the teacher (and save them)."""
        metadata = {
            "teacher_id": self.teacher_id,
            "precision": self.precision,
            "split": split,
            "fingerprint": fingerprint,
        }
        path = self._path(metadata)
        logits = self._load(path, metadata) if path is not None else None
        if logits is None:
            logits = compute_teacher_logits(self.teacher, dataloader, self.device, self.precision)
            if path is not None:
                with atomic_write(path) as tmp:
                    save_file({"logits": logits}, str(tmp), metadata=metadata)
        return logits

    def _path(self, metadata: dict[str, str]) -> Path | None:
        if self.cache_dir is None:
            return None
        key = hashlib.sha256(repr(sorted(metadata.items())).encode()).hexdigest()[:20]
        return self.cache_dir / f"teacher_logits-{metadata['split']}-{key}.safetensors"

    @staticmethod
    def _load(path: Path, metadata: dict[str, str]) -> Tensor | None:
        if not path.exists():
            return None
        with safe_open(str(path), framework="pt") as stored:
            if stored.metadata() != metadata:  # a hash collision or a foreign file: recompute
                return None
            return stored.get_tensor("logits")
