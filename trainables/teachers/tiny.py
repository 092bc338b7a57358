"""The tiny teacher: a small encoder trained here from scratch, cached by data + config.

A tokenizer trained on the training texts plus a small encoder trained on ~2k paragraphs: a
cased WordPiece BERT by default, or any family of :mod:`trainables.teachers.tiny_family`
(``TinyTeacherConfig.family``: its tokenizer kind and model). Two things lift the BERT from
~0.77 to ~0.84 test accuracy on the LPC paragraphs (measured, see the README): word embeddings
initialised from a PPMI + SVD factorisation of the training texts' co-occurrences, and a KL term
towards the cross-fitted probabilities of a character n-gram logistic regression. Masked-LM
pre-training is available for BERT (``mlm_epochs``) but off: in the CPU budget its loss stays
near the unigram entropy.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import BertTokenizerFast, get_linear_schedule_with_warmup

from trainables.atomic import atomic_write
from trainables.compress.families import FAMILIES
from trainables.data import DataSplits, TokenizedSplit, default_cache_dir, tokenize_splits
from trainables.evaluation import evaluate, model_inputs
from trainables.precision import precision_autocast, resolve_precision
from trainables.presets import TinyTeacherConfig
from trainables.teachers.base import TEACHER_INFO, Teacher, TeacherError, label2id_for
from trainables.teachers.tiny_family import (
    DEFAULT_FAMILY,
    check_family,
    masked_lm_class,
    tiny_config,
    train_tokenizer,
)
from trainables.tfidf import tfidf_pipeline
from trainables.training import optimizer_step

if TYPE_CHECKING:
    from transformers import BertForMaskedLM, BertForSequenceClassification

# Bump when the tiny teacher's recipe changes, so stale caches are not reused.
# 2: transformers' linear warm-up schedule (the first step at learning rate 0).
# Not bumped for the small-data adaptations: on data large enough before, nothing changed.
# Nor for the tokenizers made the same in every process (tiny_family): a teacher cached before
# is one of the vocabularies the recipe could give then, saved with its tokenizer, so still valid.
_TINY_RECIPE_VERSION = "2"

# Labels with this many training rows each, at least two of them: the n-gram model is
# cross-fitted over two folds and each fold's fit needs two labels; a classifier needs two.
_MIN_LABELS = 2
_MIN_ROWS_PER_LABEL_CROSS_FITTED = 2


def tiny_teacher_key(splits: DataSplits, cfg: TinyTeacherConfig, precision: str = "fp32") -> str:
    """The cache key of a tiny teacher: recipe version, data, config and the precision it
    trains in (``cfg.precision`` resolved on the device). An fp32 teacher keeps the key it had
    before the precision setting existed, so caches stay valid."""
    settings = cfg.to_dict()
    settings.pop("precision", None)
    if settings.get("family") == DEFAULT_FAMILY:  # BERT teachers keep their keys from before
        settings.pop("family")
    if precision != "fp32":
        settings["precision"] = precision
    h = hashlib.sha256()
    h.update(_TINY_RECIPE_VERSION.encode())
    h.update(splits.fingerprint().encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return h.hexdigest()[:16]


def build_tiny_teacher(
    splits: DataSplits,
    cfg: TinyTeacherConfig,
    *,
    cache_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Teacher:
    """Train the tiny teacher once per (data, config) and cache it; later calls read the cache.

    Raises :class:`TeacherError` when the training split is too small to train it at all.
    """
    check_trainable(splits, cfg)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    precision = resolve_precision(cfg.precision, device)
    try:
        precision_autocast(device, precision)  # fp16 on a CPU fails here, before any work
    except ValueError as error:
        raise TeacherError(f"tiny teacher: {error}") from None
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    target = root / "teachers" / f"tiny-{tiny_teacher_key(splits, cfg, precision)}"
    if (target / TEACHER_INFO).exists():
        _say(f"tiny teacher: cached at {target}", progress)
        return _cached(target)

    torch.manual_seed(cfg.seed)
    start = time.perf_counter()
    tokenizer = train_tokenizer(cfg.family, list(splits.train.text), cfg.vocab_size)
    label2id = label2id_for(splits.labels)
    tokens = tokenize_splits(
        splits, tokenizer, label2id, max_length=cfg.max_length, cache_dir=root / "tokens"
    )
    model_config = tiny_config(cfg.family, cfg, tokenizer, label2id)
    mlm = masked_lm_class(cfg.family)(model_config)
    if cfg.embedding_init == "ppmi_svd":
        ids = tokenizer(list(splits.train.text), add_special_tokens=False)["input_ids"]
        width = mlm.get_input_embeddings().embedding_dim  # ELECTRA's is below the hidden size
        vectors = cooccurrence_embeddings(ids, len(tokenizer), width, seed=cfg.seed)
        special = set(tokenizer.all_special_ids)
        rows = torch.tensor(
            [i for i in range(len(tokenizer)) if i not in special], dtype=torch.long
        )
        # Fewer columns than the embedding width on a small vocabulary: the rest keep their
        # random initialisation, which has the same scale (std 0.02).
        width = vectors.shape[1]
        with torch.no_grad():
            mlm.get_input_embeddings().weight[rows, :width] = vectors[rows]
    mlm.to(device)
    if cfg.mlm_epochs > 0:
        _pretrain_mlm(mlm, tokens["train"], tokenizer, cfg, device, progress, precision)
    classifier = FAMILIES[cfg.family].classifier_class(model_config)
    missing, _ = classifier.base_model.load_state_dict(mlm.base_model.state_dict(), strict=False)
    assert all(k.startswith("pooler.") for k in missing), missing
    del mlm
    classifier.to(device)
    soft = None
    if cfg.ngram_distillation > 0:
        soft = ngram_soft_labels(
            list(splits.train.text), tokens["train"].labels, len(label2id), seed=cfg.seed
        )
    best = _finetune(classifier, tokens, cfg, device, progress, soft, precision)
    train_seconds = time.perf_counter() - start

    test = evaluate(classifier, tokens["test"], batch_size=cfg.batch_size * 2, device=device)
    metrics = {
        "test_accuracy": test["accuracy"],
        "macro_f1": test["macro_f1"],
        "val_accuracy": best,
        "train_seconds": train_seconds,
        "num_parameters": sum(p.numel() for p in classifier.parameters()),
    }
    info = {"metrics": metrics, "config": cfg.to_dict(), "data": splits.source}
    with atomic_write(target) as tmp:
        tmp.mkdir()
        classifier.cpu().save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / TEACHER_INFO).write_text(json.dumps(info, indent=2))
    # Another process may have put its (equal) teacher there first: report the one kept.
    return _cached(target)


def _cached(folder: Path) -> Teacher:
    info = json.loads((folder / TEACHER_INFO).read_text())
    return Teacher(str(folder), info["metrics"])


def check_trainable(splits: DataSplits, cfg: TinyTeacherConfig) -> None:
    """Raise :class:`TeacherError` unless the training split has enough labelled rows.

    Everything else adapts to small data (the SVD dimension, the cross-fitting folds); this is
    the floor below which there is nothing to learn or nothing to cross-fit. Also refuses, before
    any work, a family without a tiny recipe and MLM pre-training outside BERT.
    """
    try:
        check_family(cfg.family)
    except ValueError as error:
        raise TeacherError(f"tiny teacher: {error}") from None
    if cfg.mlm_epochs > 0 and cfg.family != DEFAULT_FAMILY:
        raise TeacherError(
            f"tiny teacher: MLM pre-training is implemented for the bert family only, not "
            f"{cfg.family!r}; set --teacher-mlm-epochs 0 (the default)"
        )
    counts = splits.train.label.value_counts()
    per_label = _MIN_ROWS_PER_LABEL_CROSS_FITTED if cfg.ngram_distillation > 0 else 1
    if int((counts >= per_label).sum()) >= _MIN_LABELS:
        return
    got = ", ".join(f"{label} {n}" for label, n in counts.items()) or "no rows"
    why = (
        "the character n-gram model it distils from is cross-fitted over 2 folds"
        if cfg.ngram_distillation > 0
        else "a classifier needs two classes"
    )
    raise TeacherError(
        f"the tiny teacher needs at least {_MIN_LABELS} labels with at least {per_label} "
        f"training rows each ({why}); the train split of {splits.source} has {len(counts)} "
        f"label(s): {got}. Give more labelled rows (a larger --max-rows or more data), or pass "
        "a fine-tuned teacher with --model"
    )


# --------------------------------------------------------------------------------------------
# What the tiny teacher learns from besides the labels


def cooccurrence_embeddings(
    token_ids: list[list[int]], vocab_size: int, dim: int, *, window: int = 4, seed: int = 0
) -> torch.Tensor:
    """Word vectors from the training texts: truncated SVD of the positive PMI matrix.

    A classic count-based embedding (Levy & Goldberg 2014; context distribution smoothed with
    0.75). It gives a from-scratch model word similarity that a few hundred MLM steps on ~2k
    paragraphs do not. Rows are scaled to BERT's initialiser scale (std 0.02).

    Returns ``(vocab_size, k)`` with ``k = min(dim, tokens with a positive PMI)``: on a small
    corpus the matrix has lower rank than ``dim``, and further components would be noise.
    ``k`` is 0 when no two tokens co-occur (every text a single token).
    """
    import numpy as np
    from scipy import sparse
    from sklearn.decomposition import TruncatedSVD

    rows, cols = [], []
    for ids in token_ids:
        arr = np.asarray(ids, dtype=np.int64)
        for k in range(1, window + 1):
            if len(arr) > k:
                rows += [arr[:-k], arr[k:]]
                cols += [arr[k:], arr[:-k]]
    if not rows:
        return torch.zeros((vocab_size, 0), dtype=torch.float32)
    r, c = np.concatenate(rows), np.concatenate(cols)
    counts = sparse.coo_matrix(
        (np.ones_like(r, dtype=np.float64), (r, c)), shape=(vocab_size, vocab_size)
    ).tocsr()
    counts.sum_duplicates()
    # PMI(w, c) = log(n_wc * sum_c' n_c'^0.75 / (n_w * n_c^0.75)); the corpus total cancels.
    word = np.asarray(counts.sum(axis=1)).ravel()
    context = np.asarray(counts.sum(axis=0)).ravel() ** 0.75
    coo = counts.tocoo()
    pmi = np.log(coo.data * context.sum() / (word[coo.row] * context[coo.col]))
    keep = pmi > 0
    ppmi = sparse.csr_matrix(
        (pmi[keep], (coo.row[keep], coo.col[keep])), shape=(vocab_size, vocab_size)
    )
    # The rank is at most the number of non-empty rows; TruncatedSVD also wants k <= columns.
    k = min(dim, int(np.count_nonzero(ppmi.getnnz(axis=1))), vocab_size)
    if k == 0:
        return torch.zeros((vocab_size, 0), dtype=torch.float32)
    svd = TruncatedSVD(n_components=k, random_state=seed, n_iter=7)
    vectors = svd.fit_transform(ppmi)  # U * S
    vectors /= np.sqrt(svd.singular_values_)[None, :] + 1e-12  # U * sqrt(S)
    vectors *= 0.02 / (vectors.std() + 1e-12)
    return torch.tensor(vectors, dtype=torch.float32)


def ngram_soft_labels(
    texts: list[str], labels: torch.Tensor, num_labels: int, *, seed: int, folds: int = 5
) -> torch.Tensor:
    """Cross-fitted class probabilities of a character n-gram logistic regression.

    Each training example's probabilities come from a model fitted on the other folds, so they
    carry what a strong bag-of-n-grams model generalises (0.876 test accuracy on the LPC
    paragraphs), not a memorised label. The tiny teacher distils them alongside the labels.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = labels.numpy()
    present = np.bincount(y)
    present = present[present > 0]  # label ids of other splits that train lacks do not count
    if len(present) < 2 or int(np.sort(present)[-2]) < 2:
        raise TeacherError(
            "cross-fitting the n-gram model needs at least 2 labels with at least 2 training "
            f"rows each; got label counts {sorted(present.tolist(), reverse=True)}; give more "
            "labelled rows or set ngram_distillation to 0"
        )
    # As many folds as the rarest label allows (every fold then sees every label), at least 2;
    # with 2 folds a label of one row is missing from one fold's fit and gets probability 0.
    n_splits = max(2, min(folds, int(present.min())))
    model = tfidf_pipeline(C=10.0, max_iter=1000)
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    probs = cross_val_predict(model, texts, y, cv=cv, method="predict_proba", n_jobs=-1)
    out = np.zeros((len(y), num_labels), dtype=np.float32)
    out[:, np.unique(y)] = probs
    return torch.from_numpy(out)


# --------------------------------------------------------------------------------------------
# Training: optional masked-LM pre-training, then fine-tuning


def _mask_tokens(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    tokenizer: BertTokenizerFast,
    probability: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: of the chosen positions 80% [MASK], 10% a random token, 10% unchanged."""
    ids = input_ids.clone()
    special = (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id)
    candidates = attention_mask.bool() & ~special
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & candidates
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=generator)
    ids[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    random_pos = chosen & (roll >= 0.8) & (roll < 0.9)
    ids[random_pos] = torch.randint(
        len(tokenizer), (int(random_pos.sum()),), generator=generator, dtype=ids.dtype
    )
    return ids, labels


def _optimizer(
    model: nn.Module, learning_rate: float, total_steps: int, cfg: TinyTeacherConfig
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW with linear warm-up over ``cfg.warmup_fraction`` of the steps, then linear decay."""
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=learning_rate, weight_decay=cfg.weight_decay
    )
    warmup = round(total_steps * cfg.warmup_fraction)
    return optimizer, get_linear_schedule_with_warmup(optimizer, warmup, total_steps)


def _pretrain_mlm(
    mlm: BertForMaskedLM,
    train: TokenizedSplit,
    tokenizer: BertTokenizerFast,
    cfg: TinyTeacherConfig,
    device: torch.device,
    progress: bool,
    precision: str = "fp32",
) -> None:
    generator = torch.Generator().manual_seed(cfg.seed)
    total = math.ceil(len(train) / cfg.batch_size) * cfg.mlm_epochs
    optimizer, scheduler = _optimizer(mlm, cfg.mlm_learning_rate, total, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    mlm.train()
    bar = tqdm(total=total, desc="tiny teacher: MLM pre-training", disable=not progress)
    for epoch in range(cfg.mlm_epochs):
        for batch in train.batches(cfg.batch_size, shuffle=True, generator=generator):
            ids, labels = _mask_tokens(
                batch["input_ids"].long(),
                batch["attention_mask"],
                tokenizer,
                cfg.mlm_probability,
                generator,
            )
            # The vocabulary projection runs on the masked positions only: ~15% of the cost.
            with precision_autocast(device, precision):
                hidden = mlm.base_model(
                    input_ids=ids.to(device),
                    attention_mask=batch["attention_mask"].to(device, torch.long),
                ).last_hidden_state
                chosen = (labels != -100).to(device)
                logits = mlm.cls(hidden[chosen])
            loss = nn.functional.cross_entropy(logits.float(), labels.to(device)[chosen])
            optimizer_step(loss, mlm, optimizer, scheduler, scaler)
            bar.update()
            bar.set_postfix(epoch=epoch + 1, mlm_loss=f"{loss.item():.3f}")
    bar.close()


def _finetune(
    model: BertForSequenceClassification,
    tokens: dict[str, TokenizedSplit],
    cfg: TinyTeacherConfig,
    device: torch.device,
    progress: bool,
    soft_labels: torch.Tensor | None = None,
    precision: str = "fp32",
) -> float:
    """Fine-tune; keep the weights of the epoch with the best validation accuracy.

    With ``soft_labels`` the loss mixes in KL to them with weight ``cfg.ngram_distillation``.
    """
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    train = tokens["train"]
    total = math.ceil(len(train) / cfg.batch_size) * cfg.epochs
    optimizer, scheduler = _optimizer(model, cfg.learning_rate, total, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    best_acc, best_state = -1.0, None
    bar = tqdm(total=total, desc="tiny teacher: fine-tuning", disable=not progress)
    for epoch in range(cfg.epochs):
        model.train()
        for batch in train.batches(cfg.batch_size, shuffle=True, generator=generator):
            with precision_autocast(device, precision):
                logits = model(**model_inputs(batch, device, torch.long)).logits.float()
            loss = nn.functional.cross_entropy(logits, batch["labels"].to(device))
            if soft_labels is not None:
                target = soft_labels[batch["idx"]].to(device)
                kl = nn.functional.kl_div(logits.log_softmax(-1), target, reduction="batchmean")
                loss = (1 - cfg.ngram_distillation) * loss + cfg.ngram_distillation * kl
            optimizer_step(loss, model, optimizer, scheduler, scaler)
            bar.update()
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
        val = evaluate(model, tokens["validation"], batch_size=cfg.batch_size * 2, device=device)
        if progress:
            bar.write(f"epoch {epoch + 1}: val accuracy {val['accuracy']:.4f}", file=sys.stderr)
        if val["accuracy"] > best_acc:
            best_acc = val["accuracy"]
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    bar.close()
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    return best_acc


def _say(message: str, enabled: bool) -> None:
    if enabled:
        print(message, file=sys.stderr, flush=True)
