"""One trial = one experiment of the study: the start every kind shares, then the kind's recipe.

config -> seed, device, precision (resolved here, once) -> data and teacher -> the recipe of
``cfg.kind`` (:data:`RECIPES`: :mod:`.prune`, :mod:`.baseline`, :mod:`.classical`) -> one result
row (:func:`trainables.trial.result.result_row`) -> predictions and final metrics saved -> the
final report, which says where the trial's wall time went (its
:class:`~trainables.measure.PhaseClock`, :data:`trainables.metrics.PHASES`). A new kind is one
module with a ``run(trial) -> Outcome`` and one line in :data:`RECIPES`.

:func:`train_trial` is the Ray Tune function trainable; :func:`run_trial` is the same without
Ray (tests, notebooks): it takes a ``report`` callback and a trial directory.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainables import metrics as M
from trainables.atomic import atomic_write
from trainables.card import write_model_card
from trainables.compress.vocab_trim import check_trimmable
from trainables.config import TrialConfig
from trainables.data import default_cache_dir, load_splits
from trainables.evaluation import save_predictions
from trainables.measure import PhaseClock
from trainables.precision import precision_autocast, resolve_precision
from trainables.teachers.load import load_teacher
from trainables.trial import baseline, classical, prune
from trainables.trial.checkpoint import CHECKPOINT_FILE, newest_checkpoint
from trainables.trial.context import CHECKPOINTS_DIR, Reporter, Trial
from trainables.trial.result import MODEL_DIR, Outcome, phase_columns, result_row

FINAL_METRICS_FILE = "final_metrics.json"
PREDICTIONS_NPZ = "predictions.npz"
HISTORY = "history"  # the per-epoch reports, in the final metrics file beside the result

# Each kind's recipe: its own steps from the shared start to its metrics and predictions.
RECIPES: dict[str, Callable[[Trial], Outcome]] = {
    M.KIND_PRUNE: prune.run,
    M.KIND_BASELINE: baseline.run,
    M.KIND_CLASSICAL: classical.run,
}


def train_trial(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable (``tune.Tuner(tune.with_resources(train_trial, ...))``).

    Its epoch checkpoints go to a scratch folder outside the trial's working directory (Tune syncs
    that folder into storage and never prunes it); Tune copies each reported one into storage and
    the scratch copy goes, so Tune's is the only one (:mod:`trainables.trial.checkpoint`).
    """
    import contextlib
    import tempfile

    import pyarrow.fs
    import ray
    from ray import tune

    # Every report says which node ran it: a cluster's trials spread over nodes, and a trial
    # retried after its node died continues elsewhere.
    node = {M.NODE_ID: ray.get_runtime_context().get_node_id()}

    def report(metrics: dict[str, Any], checkpoint_dir: Path | None) -> None:
        checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        tune.report({**metrics, **node}, checkpoint=checkpoint)
        if checkpoint_dir is not None:
            shutil.rmtree(checkpoint_dir)  # Tune has copied it to storage before returning

    checkpoint = tune.get_checkpoint()
    trial_dir = Path(tune.get_context().get_trial_dir())
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        restore = None
        if checkpoint is not None:
            # Read in place where storage is a local (shared) folder: no copy of a ~3 GB state.
            restore = Path(stack.enter_context(checkpoint.as_directory()))
            if isinstance(checkpoint.filesystem, pyarrow.fs.LocalFileSystem):
                restore = newest_checkpoint(restore, restore.parent)
                final = restore.parent / FINAL_METRICS_FILE
                if not (restore / CHECKPOINT_FILE).exists() and final.exists():
                    # It finished and the study removed its checkpoints, but the experiment
                    # state saved before a crash still had it running: report it again.
                    payload = json.loads(final.read_text())
                    payload.pop(HISTORY, None)
                    tune.report({**payload, **node})
                    return
        run_trial(
            config,
            report=report,
            trial_dir=trial_dir,
            restore_from=restore,
            checkpoint_dir=Path(scratch) / CHECKPOINTS_DIR,
        )


def run_trial(
    config: dict[str, Any],
    *,
    report: Reporter,
    trial_dir: str | Path,
    restore_from: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run one trial; return (and report last) its final metrics.

    Its epoch checkpoints go to ``checkpoint_dir`` (default ``<trial_dir>/checkpoints``), the
    latest one kept while the trial can resume and removed once it has finished: its final
    report made, its model, predictions and final metrics written.
    """
    trial = start_trial(
        config,
        report=report,
        trial_dir=trial_dir,
        restore_from=restore_from,
        checkpoint_dir=checkpoint_dir,
    )
    outcome = RECIPES[trial.cfg.kind](trial)
    result = _finish(trial, outcome)
    shutil.rmtree(trial.checkpoints, ignore_errors=True)
    return result


def start_trial(
    config: dict[str, Any],
    *,
    report: Reporter,
    trial_dir: str | Path,
    restore_from: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
) -> Trial:
    """What every kind starts from: the checked config with its precision resolved on this
    device, the seeded RNGs, the study's splits and its teacher (on the device, in eval mode).
    The trial's clock starts here."""
    clock = PhaseClock()
    cfg = TrialConfig.from_dict(config)
    if not cfg.teacher or cfg.data is None:
        raise ValueError(
            f"a trial needs `teacher` (a folder or hub id) and `data` (a DataSpec); got "
            f"teacher={cfg.teacher!r}, data={cfg.data!r}: `python -m study.run` sets both"
        )
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    _seed_everything(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # From here on the precision this trial runs in ("auto" resolved on this device).
    cfg = dataclasses.replace(cfg, precision=resolve_precision(cfg.precision, device))
    precision_autocast(device, cfg.precision)  # fp16 on CPU fails here, before work
    if cfg.quantize != "none" and device.type != "cpu":
        raise ValueError(
            f"quantize={cfg.quantize} measures the model on the CPU, but this trial runs on "
            f"{device}: run int8 trials on CPU workers (--gpus-per-trial 0)"
        )

    # Data and teacher: the same splits and the same teacher as every other trial of the study.
    cache_dir = Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir()
    with clock.phase(M.PHASE_DATA):
        splits = load_splits(cfg.data, cache_dir=cache_dir)
    with clock.phase(M.PHASE_TEACHER):
        teacher, tokenizer = load_teacher(cfg.teacher)
        if cfg.vocab_trim:  # refused before any training, not after it
            check_trimmable(tokenizer)
        teacher.to(device).eval()
    return Trial(
        cfg=cfg,
        device=device,
        trial_dir=trial_dir,
        cache_dir=cache_dir,
        splits=splits,
        teacher=teacher,
        tokenizer=tokenizer,
        report=report,
        restore_from=None if restore_from is None else Path(restore_from),
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
        clock=clock,
    )


def _finish(trial: Trial, outcome: Outcome) -> dict[str, Any]:
    """Save the predictions; the result row with where the time went; save the final metrics
    and the model card of a shipped model folder, then the final report."""
    with trial.clock.phase(M.PHASE_SAVE):
        npz = save_predictions(outcome.predictions, trial.trial_dir / PREDICTIONS_NPZ)
    majority = M.majority_share(outcome.predictions["val_gold"])
    metrics = {**outcome.metrics, M.VAL_MAJORITY: majority, **phase_columns(trial.clock)}
    result = result_row(trial.cfg, metrics)
    if result.get(MODEL_DIR):
        write_model_card(result[MODEL_DIR], trial.cfg, result)
    result[M.PREDICTIONS_FILE] = str(npz)
    with atomic_write(trial.trial_dir / FINAL_METRICS_FILE) as tmp:
        payload = {**result, HISTORY: outcome.history}
        tmp.write_text(json.dumps(payload, indent=2, default=float))
    trial.report(result, None)
    return result


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
