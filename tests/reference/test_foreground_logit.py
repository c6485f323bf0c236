"""The foreground contrast's readout: the exact logit of the foreground probability, with no clamp constant."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

from avsprobe.reference.config import get_config
from avsprobe.reference.model import ModelOutput, ReferenceModel, foreground_logit, foreground_probability


def _reference_logit(mask: torch.Tensor, classes: torch.Tensor, active: torch.Tensor) -> list[float]:
    """The logit of ``sum_q (1 - p_q(no object)) sigmoid(m_q)`` at 60 digits, per pixel of frame 0 (row-major)."""
    mpmath.mp.dps = 60
    weights = []
    for q in range(classes.shape[1]):
        row = [mpmath.mpf(float(x)) for x in classes[0, q]]
        total = mpmath.fsum(mpmath.exp(x) for x in row)
        weights.append((1 - mpmath.exp(row[-1]) / total) if bool(active[0, q]) else mpmath.mpf(0))
    out = []
    for y in range(mask.shape[2]):
        for x in range(mask.shape[3]):
            p = mpmath.fsum(w / (1 + mpmath.exp(-mpmath.mpf(float(mask[0, q, y, x])))) for q, w in enumerate(weights))
            out.append(float(mpmath.log(p) - mpmath.log(1 - p)))
    return out


@pytest.mark.parametrize("scale, active_row", [(1.0, [True, True, False, True]), (4.0, [False, True, False, False])])
def test_foreground_logit_is_exact_far_below_any_clamp(scale: float, active_row: list[bool]) -> None:
    """Mask logits down to -60 (p about 1e-26): the logit matches a 60-digit reference where the weights sum to
    at most 1, far past the old clamp at p = 1e-6 (logit -13.8)."""
    g = torch.Generator().manual_seed(3)
    mask = torch.randn(1, 4, 5, 5, generator=g, dtype=torch.float64) * 20 - 25
    classes = torch.randn(1, 4, 6, generator=g, dtype=torch.float64) * scale
    classes[..., -1] += 2.0  # mostly "no object": the weights sum below 1
    active = torch.tensor([active_row])
    got = foreground_logit(mask, classes, active)[0].flatten().tolist()
    expected = _reference_logit(mask, classes, active)
    assert min(expected) < -30  # the range the clamp flattened
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)
    p = foreground_probability(mask, classes, active)[0].flatten()
    assert torch.allclose(torch.sigmoid(torch.tensor(got, dtype=torch.float64)), p, rtol=1e-9, atol=0)


def test_foreground_logit_where_the_weights_sum_past_one() -> None:
    """Two confident queries (weights near 1 each): the complement is formed directly; it matches the reference
    while p < 1 and sits at the upper bound where the mixture reaches 1."""
    mask = torch.tensor([[[[-3.0, 0.5, 40.0]], [[-4.0, -1.0, 40.0]]]], dtype=torch.float64)
    classes = torch.tensor([[[5.0, -5.0], [5.0, -5.0]]], dtype=torch.float64)
    active = torch.tensor([[True, True]])
    got = foreground_logit(mask, classes, active)[0, 0].tolist()
    expected = _reference_logit(mask[..., :2], classes, active)
    assert got[:2] == pytest.approx(expected, rel=1e-9)
    assert got[2] == pytest.approx(36.7368, abs=1e-3)  # p >= 1: the largest float64 logit below 1


def _branch(mask_logit: float | None) -> ModelOutput:
    """A 1 x 2 x 2 x 2 prediction: query 1 active with weight 1 and mask logit ``mask_logit`` everywhere (None:
    no query active, p = 0)."""
    masks = torch.full((1, 2, 2, 2), 0.0 if mask_logit is None else mask_logit, dtype=torch.float64)
    classes = torch.tensor([[[0.0, 0.0, -1e4], [0.0, 0.0, -1e4]]], dtype=torch.float64)
    active = torch.tensor([[False, mask_logit is not None]])
    return ModelOutput(masks=[masks], classes=[classes], active=active)


def _contrast(main: float | None, second: float | None, alpha: float = 1.0) -> float:
    model = ReferenceModel(get_config("tiny", frame_size=64, debias="uncertainty", contrast_on="foreground",
                                      debias_alpha=alpha, num_classes=2))
    output = ModelOutput(masks=[], classes=[], active=torch.zeros(1, 2, dtype=torch.bool),
                         main_branch=_branch(main), second_branch=_branch(second))
    return float(model.foreground(output)[0, 0, 0])


def test_foreground_contrast_subtracts_the_second_branch() -> None:
    """sigmoid((alpha + 1) logit(p_main) - alpha logit(p_second)), not the reverse, through the model's readout."""
    lm, ls = math.log(0.8 / 0.2), math.log(0.3 / 0.7)
    assert _contrast(lm, ls) == pytest.approx(1 / (1 + math.exp(-(2 * lm - ls))), rel=1e-12)
    assert _contrast(lm, ls, alpha=0.5) == pytest.approx(1 / (1 + math.exp(-(1.5 * lm - 0.5 * ls))), rel=1e-12)


def test_foreground_contrast_does_not_flatten_small_probabilities() -> None:
    """Main p = sigmoid(-20), second p = sigmoid(-40): the contrast is 2(-20) - (-40) = 0, p = 0.5. With both
    probabilities clamped at 1e-6 before the logit it was sigmoid(-13.8), about 1e-6: the pixel was lost."""
    assert _contrast(-20.0, -40.0) == pytest.approx(0.5, abs=1e-9)
    assert _contrast(-20.0, -10.0) == pytest.approx(1 / (1 + math.exp(30.0)), rel=1e-9)


def test_a_branch_with_no_evidence_sits_at_a_bound_that_decides_nothing_alone() -> None:
    """A branch with no active query (p = 0) reads the lower bound: the contrast then leaves the pixel
    uncovered whatever the other branch says, and a main branch with p = 0 stays uncovered."""
    for second in (-60.0, 0.0, 60.0):
        assert _contrast(None, second) < 1e-100
    assert _contrast(None, None) < 1e-100
    assert _contrast(5.0, None) == 1.0  # the second branch sees nothing: the main branch's object stays
