"""Parity with the reference implementation, nn_pruning 0.1.2 (Lagunas et al. 2021).

Both implementations train the same small BERT with the same seeds, batches, optimiser and
schedule; the blocks and neurons their masks keep must be the same, and so must the losses along
the way. Runs only where nn_pruning is installed (``pip install --no-deps nn-pruning==0.1.2``):
it is never imported from site-packages, because it does not import on Python 3.11. Its sources
are copied to a temporary directory, fixed there, and imported from that copy.

Compaction is not compared: nn_pruning removes a head whose query/key blocks are all pruned even
when its value/output blocks live, which changes the output (such a head attends uniformly; see
test_compaction.py), and it calls ``model.prune_heads``, which transformers 5 no longer has.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from trainables.compress.pruning import (
    PruningConfig,
    apply_threshold,
    mask_score_parameters,
    prune_model,
    regularization_loss,
    weight_parameters,
)
from trainables.compress.schedules import cubic_threshold

pytestmark = pytest.mark.parity

# Text fixes the 2021 sources need on Python 3.11; everything else runs as published.
FIXES = {
    "modules/masked_nn.py": [
        # A dataclass instance as a field default is an error since Python 3.11.
        ("from dataclasses import dataclass\n", "from dataclasses import dataclass, field\n"),
        (
            "mask_init: InitDirective = InitDirective()",
            "mask_init: InitDirective = field(default_factory=InitDirective)",
        ),
        (
            "ampere_init: InitDirective = InitDirective()",
            "ampere_init: InitDirective = field(default_factory=InitDirective)",
        ),
    ],
}

TOTAL_STEPS = 40
BLOCK = 32
SHAPE = {"hidden_size": 128, "num_attention_heads": 4, "intermediate_size": 256}


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny matrices on shared cores: one thread is many times faster than two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def nn_pruning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """nn_pruning's patch coordinator, imported from a fixed copy of the installed sources."""
    spec = importlib.util.find_spec("nn_pruning")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("nn_pruning is not installed: pip install --no-deps nn-pruning==0.1.2")
    source = Path(next(iter(spec.submodule_search_locations)))
    copied = tmp_path / "reference" / "nn_pruning"
    shutil.copytree(source, copied, ignore=shutil.ignore_patterns("__pycache__"))
    for relative, replacements in FIXES.items():
        path = copied / relative
        text = path.read_text()
        for old, new in replacements:
            assert old in text, f"nn_pruning's {relative} is not the 0.1.2 text this test fixes"
            text = text.replace(old, new)
        path.write_text(text)
    monkeypatch.syspath_prepend(str(copied.parent))
    for name in [name for name in sys.modules if name.split(".")[0] == "nn_pruning"]:
        monkeypatch.delitem(sys.modules, name)
    import nn_pruning.patch_coordinator as coordinator

    yield coordinator
    for name in [name for name in sys.modules if name.split(".")[0] == "nn_pruning"]:
        del sys.modules[name]


def small_bert() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=200,
        num_hidden_layers=2,
        num_labels=3,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        **SHAPE,
    )
    return BertForSequenceClassification(config).train()


def batches() -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        {
            "input_ids": torch.randint(0, 200, (8, 16), generator=generator),
            "attention_mask": torch.ones(8, 16, dtype=torch.long),
            "labels": torch.randint(0, 3, (8,), generator=generator),
        }
        for _ in range(TOTAL_STEPS)
    ]


# Per recipe: nn_pruning's settings, ours, and the warm-ups as nn_pruning counts them (multiples of
# a learning-rate warm-up of `warmup_steps`; ours are fractions of the total steps).
RECIPES = {
    # The paper's hybrid recipe: 32x32 attention blocks, per-neuron FFN, sigmoid threshold + L1,
    # warm-ups of 10% and 20% of the steps.
    "sigmoid_threshold": (
        {
            "attention_pruning_method": "sigmoied_threshold",
            "dense_pruning_method": "sigmoied_threshold:1d_alt",
            "initial_threshold": 0.0,
            "final_threshold": 0.1,
            "regularization": "l1",
            "regularization_final_lambda": 0.5,
        },
        {"method": "sigmoid_threshold", "final_threshold": 0.1, "regularization_lambda": 0.5},
        {"warmup_steps": 4, "initial_warmup": 1, "final_warmup": 2},
    ),
    # nn_pruning's topK ranks the FFN scores expanded over the whole matrix: at a threshold that is
    # not a multiple of 1/neurons it keeps part of one neuron's row, where ours keeps whole neurons.
    # So this run jumps from keeping everything (steps 0-20) to the final density 0.5 (21-39),
    # where both keep whole neurons.
    "topk": (
        {
            "attention_pruning_method": "topK",
            "dense_pruning_method": "topK:1d_alt",
            "initial_threshold": 1.0,
            "final_threshold": 0.5,
            "regularization": "disabled",
        },
        {"method": "topk", "target_density": 0.5},
        {"warmup_steps": 1, "initial_warmup": 20, "final_warmup": 19},
    ),
}


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_learned_masks_match_nn_pruning(nn_pruning: ModuleType, recipe: str) -> None:
    reference_settings, settings, warmups = RECIPES[recipe]
    warmup_steps = warmups["warmup_steps"]
    sparse_args = nn_pruning.SparseTrainingArguments(
        attention_block_rows=BLOCK,
        attention_block_cols=BLOCK,
        dense_block_rows=1,
        dense_block_cols=1,
        attention_output_with_dense=False,
        bias_mask=True,
        initial_warmup=warmups["initial_warmup"],
        final_warmup=warmups["final_warmup"],
        mask_scores_learning_rate=0.1,
        linear_min_parameters=0.0,  # no minimum kept fraction: not part of the paper's method
        **reference_settings,
    )
    config = PruningConfig(
        block_shape=(BLOCK, BLOCK),
        initial_warmup=warmups["initial_warmup"] * warmup_steps / TOTAL_STEPS,
        final_warmup=warmups["final_warmup"] * warmup_steps / TOTAL_STEPS,
        score_learning_rate=sparse_args.mask_scores_learning_rate,
        **settings,
    )

    reference = small_bert()
    ours = prune_model(copy.deepcopy(reference), config)
    coordinator = nn_pruning.ModelPatchingCoordinator(
        sparse_args, device="cpu", cache_dir=None, logit_names=["logits"], teacher_constructor=None
    )
    coordinator.patch_model(reference)

    groups = coordinator.create_optimizer_groups(
        reference, SimpleNamespace(learning_rate=1e-3, weight_decay=0.0), sparse_args
    )
    optimizers = [
        torch.optim.AdamW(groups, lr=1e-3, weight_decay=0.0),
        torch.optim.AdamW(
            [
                {"params": weight_parameters(ours), "lr": 1e-3},
                {"params": mask_score_parameters(ours), "lr": config.score_learning_rate},
            ],
            weight_decay=0.0,
        ),
    ]
    for step, batch in enumerate(batches()):
        coordinator.schedule_threshold(step, TOTAL_STEPS, warmup_steps, training=True)
        expected_threshold = coordinator.patcher_context.get_context_data("threshold")
        threshold = cubic_threshold(step, TOTAL_STEPS, config)
        assert threshold == pytest.approx(expected_threshold)
        apply_threshold(ours, threshold)

        reference_loss = reference(**batch).loss  # before regularization_loss, as nn_pruning
        regularization, strength, _ = coordinator.regularization_loss(reference)
        reference_loss = reference_loss + regularization * strength
        our_loss = ours(**batch).loss + regularization_loss(ours, config, threshold)
        torch.testing.assert_close(our_loss, reference_loss, rtol=1e-5, atol=1e-5)
        for optimizer, loss in zip(optimizers, (reference_loss, our_loss), strict=True):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    coordinator.schedule_threshold(training=False)  # nn_pruning's final masks
    threshold = coordinator.patcher_context.get_context_data("threshold")
    apply_threshold(ours, config.schedule_end)
    kept = pruned = 0
    for name, module in ours.named_modules():
        if not hasattr(module, "block_mask"):
            continue
        theirs = reference.get_submodule(name)
        with torch.no_grad():
            expected = theirs.mask_module(theirs.weight, threshold) != 0
            rows, cols = module.block_shape
            mask = module.block_mask().repeat_interleave(rows, 0).repeat_interleave(cols, 1) != 0
        assert torch.equal(mask, expected), f"{name}: the kept blocks differ from nn_pruning's"
        kept, pruned = kept + int(mask.sum()), pruned + int((~mask).sum())
    assert kept and pruned, "the run must prune some weights and keep others to mean anything"


def test_cubic_schedule_matches_nn_pruning(nn_pruning: ModuleType) -> None:
    sparse_args = nn_pruning.SparseTrainingArguments(
        initial_threshold=1.0, final_threshold=0.25, initial_warmup=1, final_warmup=2
    )
    coordinator = nn_pruning.ModelPatchingCoordinator(
        sparse_args, device="cpu", cache_dir=None, logit_names=["logits"], teacher_constructor=None
    )
    for step in range(101):
        coordinator.schedule_threshold(step, 100, 10, training=True)
        expected = coordinator.patcher_context.get_context_data("threshold")
        config = PruningConfig(target_density=0.25, initial_warmup=0.1, final_warmup=0.2)
        assert cubic_threshold(step, 100, config) == pytest.approx(expected)
