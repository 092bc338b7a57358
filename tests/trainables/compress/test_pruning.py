"""Masked layers, mask methods, schedule and regularisation of trainables.compress.pruning."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import LRScheduler
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
    get_linear_schedule_with_warmup,
)

from trainables.compress.families import BERT
from trainables.compress.pruning import (
    MaskedLinear,
    PruningConfig,
    apply_threshold,
    mask_score_parameters,
    masked_layers,
    minimum_kept_blocks,
    model_density,
    prune_model,
    regularization_loss,
    weight_parameters,
)
from trainables.compress.schedules import (
    cubic_threshold,
    learning_rate_scheduler,
    score_learning_rate,
)

# 4 heads of 16 dimensions: 16x16 blocks give a 4x4 grid per attention matrix.
SMALL = {
    "vocab_size": 100,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "num_labels": 3,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def small_model(seed: int = 0, **overrides: object) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    return BertForSequenceClassification(BertConfig(**{**SMALL, **overrides})).eval()


def inputs(seed: int = 1, batch: int = 3, length: int = 9) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, SMALL["vocab_size"], (batch, length), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[-1, length // 2 :] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "magnitude"}, "unknown pruning method"),
        ({"target_density": 0.0}, "target_density"),
        ({"target_density": 1.5}, "target_density"),
        ({"method": "sigmoid_threshold", "final_threshold": 1.0}, "final_threshold"),
        ({"regularization_lambda": 1.0}, "no effect with topk"),
        ({"method": "sigmoid_threshold", "regularization_lambda": -1.0}, ">= 0"),
        ({"block_shape": (32,)}, "block_shape"),
        ({"block_shape": (0, 32)}, "block_shape"),
        ({"ffn_block": "column"}, "ffn_block"),
        ({"initial_warmup": 0.6, "final_warmup": 0.5}, "keep their sum below 1"),
        ({"final_warmup": 1.0}, "final_warmup"),
        ({"score_learning_rate": 0.0}, "score_learning_rate"),
        ({"score_travel": -1.0}, "score_travel"),
        ({"score_travel": float("inf")}, "score_travel"),
        ({"min_density": 1.0}, "min_density"),
        ({"min_density": -0.1}, "min_density"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PruningConfig(**kwargs)


def test_config_schedule_ends() -> None:
    topk = PruningConfig(target_density=0.75)
    assert (topk.schedule_start, topk.schedule_end) == (1.0, 0.75)
    sigmoid = PruningConfig(method="sigmoid_threshold", regularization_lambda=5.0)
    assert (sigmoid.schedule_start, sigmoid.schedule_end) == (0.0, 0.1)
    assert PruningConfig(block_shape=[16, 8]).block_shape == (16, 8)


def test_block_shape_that_does_not_tile_names_both_numbers() -> None:
    model = small_model()
    with pytest.raises(ValueError, match=r"\(48, 48\).*64x64.*48 must divide 64"):
        prune_model(model, PruningConfig(block_shape=(48, 48)))
    assert not masked_layers(model), "a failed prune_model must leave the model untouched"


def test_prune_model_masks_only_the_encoder_and_starts_dense() -> None:
    model = small_model()
    before = model(**inputs()).logits
    prune_model(model, PruningConfig(block_shape=(16, 16)))
    assert len(masked_layers(model)) == 6 * SMALL["num_hidden_layers"]
    assert not any(isinstance(m, MaskedLinear) for m in model.bert.embeddings.modules())
    assert type(model.bert.pooler.dense) is nn.Linear
    assert type(model.classifier) is nn.Linear
    assert model_density(model) == 1.0
    torch.testing.assert_close(model(**inputs()).logits, before, rtol=0, atol=0)
    with pytest.raises(ValueError, match="already pruned"):
        prune_model(model, PruningConfig(block_shape=(16, 16)))


def test_prune_model_rejects_a_non_bert_model() -> None:
    with pytest.raises(ValueError, match="not a BERT-family model"):
        prune_model(nn.Sequential(nn.Linear(4, 4)), PruningConfig())
    with pytest.raises(ValueError, match="call prune_model first"):
        model_density(small_model())


def test_topk_keeps_the_density_per_matrix_and_whole_neurons() -> None:
    model = prune_model(small_model(), PruningConfig(block_shape=(16, 16), target_density=0.75))
    with torch.no_grad():
        for scores in mask_score_parameters(model):
            scores.normal_()
    apply_threshold(model, 0.75)
    assert model_density(model) == pytest.approx(0.75)
    layer = model.bert.encoder.layer[0]
    assert layer.attention.self.query.block_mask().sum() == 12  # of 16 blocks
    assert layer.attention.output.dense.block_mask().sum() == 12
    rows = layer.intermediate.dense.masked_weight_and_bias()[0].abs().sum(dim=1) != 0
    cols = layer.output.dense.masked_weight_and_bias()[0].abs().sum(dim=0) != 0
    assert rows.sum() == 96  # of 128 neurons
    assert torch.equal(rows, cols), "a neuron's row and column must share one score"
    assert layer.intermediate.dense.mask_scores is layer.output.dense.mask_scores


def test_a_block_as_tall_as_a_head_scores_whole_heads() -> None:
    model = prune_model(small_model(), PruningConfig(block_shape=(16, 64)))
    layer = model.bert.encoder.layer[0]
    assert layer.attention.self.value.mask_scores.shape == (4, 1)
    assert layer.attention.output.dense.mask_scores.shape == (1, 4)


def test_ffn_block_scores_ffn_matrices_separately() -> None:
    model = prune_model(small_model(), PruningConfig(block_shape=(16, 16), ffn_block="block"))
    layer = model.bert.encoder.layer[0]
    assert layer.intermediate.dense.mask_scores.shape == (8, 4)
    assert layer.output.dense.mask_scores.shape == (4, 8)
    assert layer.intermediate.dense.mask_scores is not layer.output.dense.mask_scores


def test_scores_learn_through_a_straight_through_estimator() -> None:
    torch.manual_seed(0)
    config = PruningConfig(block_shape=(4, 8), target_density=0.5)
    layer = MaskedLinear(nn.Linear(16, 8), (4, 8), nn.Parameter(torch.randn(2, 2)), config)
    layer.threshold = 0.5
    x = torch.randn(5, 16)
    (layer(x) ** 2).sum().backward()

    # The same forward pass with the expanded mask as a leaf: its gradient, summed per block,
    # is what the straight-through estimator must hand to the scores.
    mask = layer.block_mask().detach().repeat_interleave(4, 0).repeat_interleave(8, 1)
    mask.requires_grad_()
    alive = mask.detach().amax(dim=1)
    (F.linear(x, layer.weight * mask, layer.bias * alive) ** 2).sum().backward()
    expected = mask.grad.view(2, 4, 2, 8).sum(dim=(1, 3))
    torch.testing.assert_close(layer.mask_scores.grad, expected)


def test_a_row_without_weights_loses_its_bias() -> None:
    config = PruningConfig(block_shape=(4, 8))
    scores = nn.Parameter(torch.tensor([[1.0, 1.0], [-1.0, -1.0]]))
    layer = MaskedLinear(nn.Linear(16, 8), (4, 8), scores, config)
    layer.threshold = 0.5
    weight, bias = layer.masked_weight_and_bias()
    assert torch.equal(bias[4:], torch.zeros(4)) and bool((bias[:4] != 0).all())
    assert torch.equal(weight[4:], torch.zeros(4, 16))


def test_sigmoid_threshold_and_its_l1_penalty() -> None:
    config = PruningConfig(
        method="sigmoid_threshold", regularization_lambda=2.0, block_shape=(16, 16)
    )
    model = prune_model(small_model(), config)
    assert model_density(model) == 1.0  # sigmoid(0) = 0.5 > threshold 0
    # lambda grows with the threshold from 0
    assert regularization_loss(model, config, 0.0).item() == 0.0
    layer = model.bert.encoder.layer[1]
    with torch.no_grad():
        layer.attention.self.key.mask_scores[0, :] = -3.0  # sigmoid(-3) = 0.047 < 0.1
        layer.intermediate.dense.mask_scores[:32] = -3.0
    apply_threshold(model, 0.05)
    penalty = regularization_loss(model, config, 0.05)

    layers = model.bert.encoder.layer
    attention = [
        each.get_submodule(p).mask_scores for each in layers for p in BERT.attention_linears
    ]
    ffn = [each.intermediate.dense.mask_scores for each in layers]
    group_means = [
        torch.stack([torch.sigmoid(s).mean() for s in group]).mean() for group in (attention, ffn)
    ]
    expected = 2.0 * 0.05 / 0.1 * (group_means[0] + group_means[1]) / 2
    torch.testing.assert_close(penalty, expected)
    penalty.backward()
    assert all(scores.grad is not None for scores in mask_score_parameters(model))

    apply_threshold(model, 0.1)
    assert layer.attention.self.key.block_mask()[0].sum() == 0
    assert layer.intermediate.dense.block_mask().sum() == 96


def test_topk_has_no_penalty() -> None:
    config = PruningConfig(block_shape=(16, 16))
    model = prune_model(small_model(), config)
    assert regularization_loss(model, config, 0.5).item() == 0.0


def test_cubic_threshold_follows_warmups_and_cubic() -> None:
    topk = PruningConfig(target_density=0.25, initial_warmup=0.1, final_warmup=0.2)
    values = [cubic_threshold(step, 100, topk) for step in range(101)]
    assert values[:11] == [1.0] * 11  # initial warm-up: steps 0..10
    assert values[80:] == [0.25] * 21  # final warm-up: steps 80..100
    assert all(a >= b for a, b in itertools.pairwise(values))
    # Halfway through the 70 scheduled steps, 1/8 of the way is left.
    assert cubic_threshold(45, 100, topk) == pytest.approx(0.25 + 0.75 / 8)
    sigmoid = PruningConfig(
        method="sigmoid_threshold", final_threshold=0.1, initial_warmup=0.0, final_warmup=0.0
    )
    rising = [cubic_threshold(step, 50, sigmoid) for step in range(51)]
    assert rising[0] == 0.0 and rising[-1] == 0.1
    assert all(a <= b for a, b in itertools.pairwise(rising))
    with pytest.raises(ValueError, match="total_steps"):
        cubic_threshold(0, 0, topk)
    with pytest.raises(ValueError, match="step"):
        cubic_threshold(-1, 10, topk)


def test_apply_threshold_sets_every_masked_layer() -> None:
    config = PruningConfig(
        block_shape=(16, 16), target_density=0.5, initial_warmup=0.1, final_warmup=0.2
    )
    model = prune_model(small_model(), config)
    value = cubic_threshold(45, 100, config)
    assert value == pytest.approx(0.5 + 0.5 / 8)
    apply_threshold(model, value)
    assert all(layer.threshold == value for layer in masked_layers(model))
    assert cubic_threshold(100, 100, config) == config.schedule_end == 0.5
    with pytest.raises(ValueError, match="threshold"):
        apply_threshold(model, 1.5)


def test_parameter_groups_split_scores_from_weights() -> None:
    model = prune_model(small_model(), PruningConfig(block_shape=(16, 16)))
    scores, weights = mask_score_parameters(model), weight_parameters(model)
    assert len(scores) == 5 * SMALL["num_hidden_layers"]  # Q, K, V, O and one shared FFN tensor
    assert {id(p) for p in scores}.isdisjoint(id(p) for p in weights)
    assert {id(p) for p in scores} | {id(p) for p in weights} == {id(p) for p in model.parameters()}


def test_a_short_training_run_follows_the_schedule() -> None:
    config = PruningConfig(block_shape=(16, 16), target_density=0.5, score_learning_rate=0.1)
    model = prune_model(small_model(), config).train()
    optimizer = torch.optim.AdamW(
        [
            {"params": weight_parameters(model), "lr": 1e-3},
            {"params": mask_score_parameters(model), "lr": config.score_learning_rate},
        ]
    )
    labels = torch.tensor([0, 1, 2])
    total_steps = 10
    for step in range(total_steps):
        threshold = cubic_threshold(step, total_steps, config)
        apply_threshold(model, threshold)
        loss = model(**inputs(seed=step), labels=labels).loss
        loss = loss + regularization_loss(model, config, threshold)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert torch.isfinite(loss)
        # Each attention matrix keeps floor(threshold x 16) of its 16 blocks.
        assert threshold - 1 / 16 <= model_density(model) <= threshold
    apply_threshold(model, config.schedule_end)
    assert model_density(model) == pytest.approx(0.5)
    assert all(bool((scores != 0).any()) for scores in mask_score_parameters(model))


def test_works_on_another_bert_family_model() -> None:
    torch.manual_seed(0)
    config = RobertaConfig(**{**SMALL, "vocab_size": 100, "pad_token_id": 1})
    model = RobertaForSequenceClassification(config).eval()
    prune_model(model, PruningConfig(block_shape=(16, 16), target_density=0.5))
    apply_threshold(model, 0.5)
    assert model_density(model) == pytest.approx(0.5)
    assert torch.isfinite(model(input_ids=torch.randint(3, 100, (2, 6))).logits).all()


def sigmoid_config(**overrides: Any) -> PruningConfig:
    return PruningConfig(method="sigmoid_threshold", block_shape=(16, 16), **overrides)


def two_group_optimizer(model: nn.Module, score_lr: float = 1e-2) -> torch.optim.AdamW:
    return torch.optim.AdamW(
        [
            {"params": weight_parameters(model), "lr": 1e-3},
            {"params": mask_score_parameters(model), "lr": score_lr, "weight_decay": 0.0},
        ]
    )


def learning_rates(scheduler: LRScheduler, steps: int) -> list[list[float]]:
    """The groups' rates at steps 0..steps-1, stepping the scheduler as a training loop does."""
    rates = []
    for _ in range(steps):
        rates.append([group["lr"] for group in scheduler.optimizer.param_groups])
        scheduler.optimizer.step()
        scheduler.step()
    return rates


def test_minimum_kept_blocks() -> None:
    assert minimum_kept_blocks(16, sigmoid_config(min_density=0.05)) == 1  # at least one
    assert minimum_kept_blocks(30, sigmoid_config(min_density=0.1)) == 3  # not 4 from 3.0000...4
    assert minimum_kept_blocks(128, sigmoid_config(min_density=0.1)) == 13  # ceil(12.8)
    assert minimum_kept_blocks(16, sigmoid_config(min_density=0.0)) == 0  # guard off
    assert minimum_kept_blocks(16, PruningConfig(min_density=0.5)) == 0  # topk: density is fixed


def test_min_density_keeps_the_top_scored_blocks_of_every_tensor() -> None:
    model = prune_model(small_model(), sigmoid_config(min_density=0.25))
    with torch.no_grad():
        for scores in mask_score_parameters(model):
            # Every block far below the cut, each tensor's scores distinct and ordered.
            scores.copy_(-10.0 + torch.arange(scores.numel()).view_as(scores) / scores.numel())
    apply_threshold(model, 0.1)
    layer = model.bert.encoder.layer[0]
    query = layer.attention.self.query.block_mask()
    assert query.sum() == 4  # ceil(0.25 x 16 blocks)
    assert torch.equal(query.flatten().nonzero().flatten(), torch.arange(12, 16))  # the top 4
    assert layer.intermediate.dense.block_mask().sum() == 32  # ceil(0.25 x 128 neurons)
    assert model_density(model) == pytest.approx(0.25)

    # Without the guard the same scores prune everything: what would empty whole matrices.
    for module in masked_layers(model):
        module.config = sigmoid_config(min_density=0.0)
    assert model_density(model) == 0.0


def test_min_density_leaves_a_fuller_mask_alone_and_passes_gradients() -> None:
    model = prune_model(small_model(), sigmoid_config(min_density=0.25)).train()
    query = model.bert.encoder.layer[0].attention.self.query
    with torch.no_grad():
        query.mask_scores.fill_(-10.0)
        query.mask_scores[:2] = 5.0  # 8 of 16 blocks kept: above the guard's 4
    apply_threshold(model, 0.1)
    assert torch.equal(query.block_mask(), (query.mask_scores > 0).float())
    model(**inputs()).logits.sum().backward()
    assert query.mask_scores.grad is not None and bool((query.mask_scores.grad != 0).any())


def test_topk_schedule_is_transformers_linear_warmup_and_decay() -> None:
    model = prune_model(small_model(), PruningConfig(block_shape=(16, 16)))
    ours = learning_rate_scheduler(two_group_optimizer(model), model, PruningConfig(), 50, 5)
    reference = prune_model(small_model(), PruningConfig(block_shape=(16, 16)))
    theirs = get_linear_schedule_with_warmup(two_group_optimizer(reference), 5, 50)
    assert learning_rates(ours, 51) == learning_rates(theirs, 51)


def test_sigmoid_threshold_scores_hold_their_rate_and_settle_over_the_final_warmup() -> None:
    config = sigmoid_config(final_warmup=0.2, score_travel=10.0)
    model = prune_model(small_model(), config)
    total, warmup = 50, 5
    rates = learning_rates(
        learning_rate_scheduler(two_group_optimizer(model), model, config, total, warmup), total
    )
    weights, scores = zip(*rates, strict=True)
    peak = score_learning_rate(config, total, warmup)
    assert peak > config.score_learning_rate  # 50 steps at 1e-2 could move a score 0.5 at most
    assert scores[:warmup] == pytest.approx([peak * step / warmup for step in range(warmup)])
    assert scores[warmup : total - 10 + 1] == pytest.approx([peak] * (total - 10 - warmup + 1))
    assert scores[-1] == pytest.approx(peak / 10)  # the final warm-up: 10 steps down to zero
    assert all(a >= b for a, b in itertools.pairwise(scores[warmup:]))
    # The rate is raised exactly so that full steps over the run add up to score_travel.
    assert sum(scores) == pytest.approx(config.score_travel)
    # The weights keep transformers' linear warm-up and decay to zero.
    assert weights[warmup] == pytest.approx(1e-3)
    assert weights[-1] == pytest.approx(1e-3 / (total - warmup))


def test_a_long_run_keeps_the_configured_score_learning_rate() -> None:
    config = sigmoid_config(score_learning_rate=1e-2, score_travel=10.0)
    assert score_learning_rate(config, 100_000, 1_000) == 1e-2  # travels ~850 already
    assert score_learning_rate(sigmoid_config(score_travel=0.0), 50, 5) == 1e-2
    assert score_learning_rate(PruningConfig(), 50, 5) == 1e-2  # topk: unchanged
    with pytest.raises(ValueError, match="warmup_steps"):
        score_learning_rate(config, 10, 11)
    with pytest.raises(ValueError, match="total_steps"):
        score_learning_rate(config, 0, 0)


def test_scheduler_rejects_a_group_mixing_scores_and_weights() -> None:
    model = prune_model(small_model(), sigmoid_config())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="group 0 mixes mask scores"):
        learning_rate_scheduler(optimizer, model, sigmoid_config(), 10, 1)


@pytest.mark.parametrize("steps", [30, 300])
def test_the_l1_penalty_alone_reaches_the_pruning_region_in_a_short_run(steps: int) -> None:
    """Only the penalty pushes: every score must cross sigmoid^-1(0.1) = -2.2 by the end, so the
    guard is all that is left (they end near -4). With 1e-2 decaying to zero, as before, they
    end at -0.1 (30 steps) or -1.9 (300 steps) and nothing would be pruned."""
    config = sigmoid_config(regularization_lambda=1.0, min_density=0.1)
    model = prune_model(small_model(), config)
    optimizer = two_group_optimizer(model)
    scheduler = learning_rate_scheduler(optimizer, model, config, steps, steps // 10)
    for step in range(steps):
        threshold = cubic_threshold(step, steps, config)
        apply_threshold(model, threshold)
        optimizer.zero_grad()
        regularization_loss(model, config, threshold).backward()
        optimizer.step()
        scheduler.step()
    apply_threshold(model, config.schedule_end)
    scores = torch.cat([scores.flatten() for scores in mask_score_parameters(model)])
    assert bool((torch.sigmoid(scores) < 0.1).all()), scores.max()
    # ceil(0.1 x 16) = 2 of 16 blocks per attention matrix, 13 of 128 neurons per FFN
    expected = (4 * 2 * 16 * 16 + 2 * 13 * 64) / (4 * 64 * 64 + 2 * 128 * 64)
    assert model_density(model) == pytest.approx(expected)
