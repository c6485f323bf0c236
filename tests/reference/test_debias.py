"""Debias strategies: the logits arithmetic, the closed-form noise, deterministic evaluation, the ensemble."""

from __future__ import annotations

import math

import torch

from avsprobe.reference.config import get_config
from avsprobe.reference.criterion import SetCriterion, targets_from_labels
from avsprobe.reference.debias import alpha_bars, contrast, distort, fixed_noise, gate_by_bias
from avsprobe.reference.model import ReferenceModel


def test_schedule_values_by_hand() -> None:
    bars = alpha_bars(100)
    assert math.isclose(float(bars[0]), 1 - 1e-4, rel_tol=1e-12)
    betas = [1e-4 + (0.02 - 1e-4) * i / 99 for i in range(100)]
    assert math.isclose(float(bars[99]), math.prod(1 - b for b in betas), rel_tol=1e-12)
    assert 0.36 < float(bars[99]) < 0.37  # the official test-time step keeps about 60 % of the audio amplitude
    assert float(alpha_bars(1000)[-1]) < 1e-4


def test_contrast_and_gate_arithmetic() -> None:
    main, other = torch.tensor([2.0, -1.0, 0.0]), torch.tensor([1.0, 1.0, -3.0])
    assert contrast(main, other, 1.0).tolist() == [3.0, -3.0, 3.0]
    assert contrast(main, other, 0.5).tolist() == [2.5, -2.0, 1.5]
    gated = gate_by_bias(main, torch.tensor([0.0, 100.0, -2.0]))
    assert torch.allclose(gated, torch.tensor([1.0, -1.0, 0.0]))


def test_closed_form_matches_iterating_the_forward_process() -> None:
    steps, t, n = 100, 60, 200_000
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((n, 1), 1.5, dtype=torch.float64)
    betas = torch.linspace(1e-4, 0.02, steps, dtype=torch.float64)
    x = x0.clone()
    for s in range(t + 1):  # x_s = sqrt(1 - beta_s) x_{s-1} + sqrt(beta_s) eps_s, s = 0..t
        x = (1 - betas[s]).sqrt() * x + betas[s].sqrt() * torch.randn(x.shape, generator=g, dtype=torch.float64)
    bar = alpha_bars(steps)[t]
    closed = distort(x0, bar.expand(n), torch.randn(x0.shape, generator=g, dtype=torch.float64))
    for sample in (x, closed):  # both have mean sqrt(ab) x0 and variance 1 - ab
        assert abs(float(sample.mean()) - float(bar.sqrt() * 1.5)) < 0.01
        assert abs(float(sample.var()) - float(1 - bar)) < 0.01


def _model(**overrides: object) -> ReferenceModel:
    torch.manual_seed(0)
    return ReferenceModel(get_config("tiny", frame_size=64, **overrides))


def test_uncertainty_forward_is_the_contrast_of_two_branches() -> None:
    model = _model(debias="uncertainty", noise_preset="official").eval()
    plain = _model().eval()  # same weights, no strategy
    frames, audio = torch.randn(3, 3, 64, 64), torch.randn(3, 96, 64)
    marks = plain.marks(audio)
    with torch.no_grad():
        out = model(frames, audio)
        visual = plain.encode_visual(frames)
        features = plain.audio_encoder(audio)
        main = plain.decode(visual, plain.audio_prompt(features, marks), marks)
        noisy = distort(features, alpha_bars(100)[99].expand(3), fixed_noise(features.shape[-1], 0).expand_as(features))
        distorted = plain.decode(visual, plain.audio_prompt(noisy, marks), marks)
    for got, a, b in zip(out.classes, main.classes, distorted.classes, strict=True):
        assert torch.allclose(got, 2 * a - b, atol=1e-4)
    active = marks[:, :, None, None].expand_as(out.masks[-1])
    assert torch.allclose(out.masks[-1][active], (2 * main.masks[-1] - distorted.masks[-1])[active], atol=1e-4)


def test_evaluation_is_deterministic_and_batch_independent() -> None:
    model = _model(debias="uncertainty").eval()
    frames, audio = torch.randn(4, 3, 64, 64), torch.randn(4, 96, 64)
    with torch.no_grad():
        first = model.foreground(model(frames, audio))
        second = model.foreground(model(frames, audio))
        alone = model.foreground(model(frames[2:3], audio[2:3]))
    assert torch.equal(first, second)
    assert torch.allclose(first[2:3], alone, atol=1e-5)


def test_training_noise_follows_the_generator() -> None:
    model = _model(debias="uncertainty").train()
    frames, audio = torch.randn(2, 3, 64, 64), torch.randn(2, 96, 64)
    runs = [model(frames, audio, generator=torch.Generator().manual_seed(s)).masks[-1].detach() for s in (1, 1, 2)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_bias_only_adds_the_visual_branch_loss() -> None:
    model = _model(debias="bias-only", drop_dominant=False).train()
    labels = torch.zeros(2, 64, 64, dtype=torch.uint8)
    labels[:, 5:30, 5:30] = 1
    out = model(torch.randn(2, 3, 64, 64), torch.randn(2, 96, 64))
    assert out.bias is not None
    targets = targets_from_labels(labels, 8, out.masks[-1].shape[-2:])
    criterion = SetCriterion(model.config)
    total, parts = criterion(out, targets)
    alone, _ = criterion(type(out)(out.masks, out.classes, out.active), targets)
    bias_total, _ = criterion(out.bias, targets)
    assert torch.isclose(total, alone + bias_total) and parts["bias"] > 0
