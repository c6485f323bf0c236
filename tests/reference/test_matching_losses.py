"""Reference model groundwork: matcher optimality, hand-computed losses, drop rates, configs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from avsprobe.errors import ConfigError
from avsprobe.reference.config import get_config
from avsprobe.reference.losses import class_loss, dice_loss, drop_keep_mask, sigmoid_focal_loss
from avsprobe.reference.matcher import hungarian_match, pairwise_costs


@pytest.mark.parametrize("seed", range(20))
def test_hungarian_is_optimal_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    q, t = int(rng.integers(2, 6)), int(rng.integers(1, 5))
    cost = torch.from_numpy(rng.normal(size=(q, t)))
    active = torch.from_numpy(rng.random(q) < 0.7)
    active[0] = True
    rows, cols = hungarian_match(cost, active)
    candidates = np.flatnonzero(active.numpy())
    n = min(len(candidates), t)
    assert len(rows) == len(cols) == n and set(rows) <= set(candidates)
    best = min(
        sum(cost[r, c].item() for r, c in zip(perm, targets, strict=True))
        for targets in itertools.permutations(range(t), n)
        for perm in itertools.permutations(candidates, n)
    )
    assert sum(cost[r, c].item() for r, c in zip(rows, cols, strict=True)) == pytest.approx(best)


def test_pairwise_costs_agree_with_per_pair_losses() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 30, generator=g)
    targets = (torch.rand(3, 30, generator=g) > 0.5).float()
    class_logits = torch.randn(4, 9, generator=g)
    labels = torch.tensor([1, 5, 2])
    cost = pairwise_costs(logits, targets, class_logits, labels)
    for i in range(4):
        for j in range(3):
            focal = sigmoid_focal_loss(logits[i : i + 1], targets[j : j + 1])[0]
            dice = dice_loss(logits[i : i + 1], targets[j : j + 1])[0]
            prob = class_logits[i].softmax(-1)[labels[j]]
            assert cost[i, j].item() == pytest.approx((5 * focal + 5 * dice - 2 * prob).item(), rel=1e-5, abs=1e-6)


def test_losses_equal_hand_computed_values() -> None:
    logits = torch.tensor([[0.0, 2.0]])
    targets = torch.tensor([[1.0, 0.0]])
    # pixel 1: p = 0.5, target 1: BCE ln 2, (1 - p_t)^2 = 0.25, alpha_t = 0.25
    # pixel 2: p = sigmoid(2), target 0: BCE = ln(1 + e^2), p_t = 1 - sigmoid(2), alpha_t = 0.75
    s2 = 1 / (1 + math.exp(-2))
    expected_focal = (0.25 * 0.25 * math.log(2) + 0.75 * s2**2 * math.log(1 + math.exp(2))) / 2
    assert sigmoid_focal_loss(logits, targets).item() == pytest.approx(expected_focal, rel=1e-6)
    expected_dice = 1 - (2 * 0.5 + 1) / ((0.5 + s2) + 1 + 1)
    assert dice_loss(logits, targets).item() == pytest.approx(expected_dice, rel=1e-6)
    class_logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # K = 2 classes + no-object
    labels = torch.tensor([0, 2])
    ce0 = -math.log(math.exp(2) / (math.exp(2) + 2))
    ce1 = -math.log(math.e / (math.e + 2))
    assert class_loss(class_logits, labels, empty_weight=0.1).item() == pytest.approx((ce0 + 0.1 * ce1) / 1.1, rel=1e-6)


def test_drop_rates_match_their_definitions() -> None:
    g = torch.Generator().manual_seed(0)
    losses = torch.arange(10, dtype=torch.float32)  # median 4.5: pairs 0..4 are well learned
    dropped_paper = torch.zeros(10)
    dropped_official = torch.zeros(10)
    draws = 4000
    for _ in range(draws):
        dropped_paper += ~drop_keep_mask(losses, mode="paper", p=0.4, generator=g)
        dropped_official += ~drop_keep_mask(losses, mode="official", generator=g)
    rate_paper = dropped_paper / draws
    rate_official = dropped_official / draws
    assert torch.allclose(rate_paper[:5], torch.full((5,), 0.4), atol=0.03) and (rate_paper[5:] == 0).all()
    assert torch.allclose(rate_official[:4], torch.full((4,), 0.3), atol=0.03) and (rate_official[4:] == 0).all()
    assert drop_keep_mask(torch.tensor([1.0, 2.0]), mode="official").all()  # M < 3: k = 0, nothing dropped


def test_configs_and_ablation_switches() -> None:
    paper = get_config("paper")
    assert (paper.num_queries, paper.num_layers, paper.hidden_dim) == (100, 9, 256)
    assert (paper.weight_focal, paper.weight_dice, paper.weight_class, paper.drop_p, paper.threshold) == (5, 5, 2, 0.4, 0.4)
    ablated = get_config("tiny", active_queries=False, interaction_enhancement=False, drop_dominant=False)
    assert not ablated.active_queries and get_config("tiny").active_queries
    with pytest.raises(ConfigError, match="unknown reference variant"):
        get_config("huge")
    with pytest.raises(ConfigError, match="bad override"):
        get_config("tiny", no_such_field=1)
    with pytest.raises(ConfigError, match="cannot hold mark 0"):
        get_config("tiny", num_queries=8)
