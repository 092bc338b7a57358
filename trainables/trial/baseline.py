"""The ``baseline`` trial: the teacher itself, measured as every student is.

With ``vocab_trim`` or ``quantize`` the measured model is the teacher so changed, timed against
the teacher; otherwise the teacher is its own reference (speedup 1, density 1). Nothing is
trained or saved; ``model_mb`` is the teacher's files (or the changed model's folder, written to
a temporary folder to be weighed).
"""

from __future__ import annotations

from trainables import metrics as M
from trainables.trial.context import Trial
from trainables.trial.final import final_model, measure, shipped_megabytes
from trainables.trial.result import Outcome


def run(trial: Trial) -> Outcome:
    """Measure the teacher (trimmed and int8 when asked) against the teacher."""
    cfg = trial.cfg
    tokens = trial.tokenize(trial.tokenizer)
    with trial.clock.phase(M.PHASE_COMPACT):  # vocabulary trim, int8 (or nothing)
        final = final_model(trial, trial.teacher, tokens)
    changed = cfg.vocab_trim or cfg.quantize == "int8"
    reference = trial.teacher if changed else None
    measured, predictions = measure(trial, final, tokens, reference=reference)
    size = {M.MODEL_MB: shipped_megabytes(trial, final, changed=bool(changed))}
    return Outcome({**measured, **final.vocabulary, **size}, predictions)
