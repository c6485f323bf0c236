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
    every = model.audio_free_marks(3, "cpu")
    assert every.all(dim=0)[: 1 + 8 * 2].all() and not every[:, 17:].any()  # query 0 + 8 classes x 2
    with torch.no_grad():
        out = model(frames, audio)
        visual = plain.encode_visual(frames)
        features = plain.audio_encoder(audio)
        main = plain.decode(visual, plain.audio_prompt(features, marks), marks)
        # the second branch: the fixed audio-free marks, four seeded noise draws (feature scale not yet
        # estimated: unit noise), logits averaged over the draws
        draws = [plain.decode(visual, plain.audio_prompt(distort(features, alpha_bars(100)[99].expand(3),
                 fixed_noise(features.shape[-1], k).expand_as(features)), every), every) for k in range(4)]
    second_classes = torch.stack([d.classes[-1] for d in draws]).mean(0)
    second_masks = torch.stack([d.masks[-1] for d in draws]).mean(0)
    assert torch.allclose(out.classes[-1][marks], (2 * main.classes[-1] - second_classes)[marks], atol=1e-4)
    active = marks[:, :, None, None].expand_as(out.masks[-1])
    assert torch.allclose(out.masks[-1][active], (2 * main.masks[-1] - second_masks)[active], atol=1e-4)
    # the main branch's dormant queries keep their filler: never (alpha + 1) * filler - alpha * d
    assert torch.equal(out.masks[-1][~active], main.masks[-1][~active])


def test_the_second_branch_does_not_see_the_clean_audio() -> None:
    """Perturb A, keep A_t: the second branch's logits are identical (its marks are fixed, its prompt is A_t)."""
    for debias in ("uncertainty", "bias-only"):
        model = _model(debias=debias).eval()
        frames = torch.randn(2, 3, 64, 64)
        a_t = torch.randn(1, 2, 64)
        with torch.no_grad():
            first = model(frames, torch.randn(2, 96, 64), second_features=a_t)
            other = model(frames, 3 * torch.randn(2, 96, 64) + 1, second_features=a_t)
        assert not torch.equal(first.main_branch.masks[-1], other.main_branch.masks[-1])
        for x, y in zip(first.second_branch.masks + first.second_branch.classes,
                        other.second_branch.masks + other.second_branch.classes, strict=True):
            assert torch.equal(x, y)
    leaky = _model(debias="uncertainty", distorted_marks="clean").eval()  # the first release, for contrast
    with torch.no_grad():
        only_zeroth = torch.zeros(2, 20, dtype=torch.bool)
        only_zeroth[:, 0] = True
        x = leaky(frames, torch.randn(2, 96, 64), second_features=a_t, marks=only_zeroth)
        y = leaky(frames, torch.randn(2, 96, 64), second_features=a_t, marks=torch.ones(2, 20, dtype=torch.bool))
    assert not torch.equal(x.second_branch.classes[-1], y.second_branch.classes[-1])


def test_combining_mismatched_marks_never_touches_the_filler() -> None:
    from avsprobe.reference.model import DORMANT_MASK_LOGIT, ModelOutput, _query_combine

    main_active = torch.tensor([[True, True, False, False]])
    second_active = torch.tensor([[True, False, True, False]])
    m = torch.tensor([[2.0, 1.0, DORMANT_MASK_LOGIT, DORMANT_MASK_LOGIT]])[..., None, None].expand(1, 4, 2, 2)
    d = torch.tensor([[0.5, DORMANT_MASK_LOGIT, -3.0, DORMANT_MASK_LOGIT]])[..., None, None].expand(1, 4, 2, 2)
    out = _query_combine(ModelOutput([m], [m[..., 0]], main_active), ModelOutput([d], [d[..., 0]], second_active),
                         lambda x, y: contrast(x, y, 1.0))
    got = out.masks[0][0, :, 0, 0].tolist()
    # query 0 active in both: 2 * 2 - 0.5; query 1 dormant in the second: main alone (never + 20 alpha);
    # queries 2 and 3 dormant in main: the filler, untouched
    assert got == [3.5, 1.0, DORMANT_MASK_LOGIT, DORMANT_MASK_LOGIT]
    assert out.active.tolist() == main_active.tolist()


def test_alpha_zero_is_the_main_branch() -> None:
    model = _model(debias="uncertainty", debias_alpha=0.0).eval()
    frames, audio = torch.randn(2, 3, 64, 64), torch.randn(2, 96, 64)
    with torch.no_grad():
        out = model(frames, audio)
    for x, y in zip(out.masks + out.classes, out.main_branch.masks + out.main_branch.classes, strict=True):
        assert torch.equal(x, y)


def test_training_draws_t_per_clip_and_noise_at_the_feature_scale() -> None:
    from avsprobe.reference.debias import NOISE_PRESETS

    model = _model(debias="uncertainty").train()
    assert float(model.feature_rms.abs().sum()) == 0.0  # not estimated yet
    model(torch.randn(64, 3, 64, 64), torch.randn(64, 96, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        features = model.audio_encoder(torch.randn(512, 96, 64))
    ratio = model.feature_rms / features.pow(2).mean(0).sqrt()
    # the RMS of F_A, per dimension (estimated from one batch of 64 here)
    assert 0.8 < float(ratio.mean()) < 1.25 and float(ratio.min()) > 0.5
    # t per clip: rows 0-1 and 2-3 are two clips; replay the generator to get the expected draws
    clip_index = torch.tensor([7, 7, 3, 3])
    g = torch.Generator().manual_seed(11)
    got = model._distorted(features[:4], g, clip_index)[0]
    replay = torch.Generator().manual_seed(11)
    steps = int(NOISE_PRESETS["paper"]["steps"])
    t_clips = torch.randint(0, steps, (2,), generator=replay)  # clips in sorted order: 3, then 7
    t = t_clips[torch.tensor([1, 1, 0, 0])]
    noise = torch.randn(features[:4].shape, generator=replay) * model.feature_rms
    assert torch.allclose(got, distort(features[:4], alpha_bars(steps)[t], noise), atol=1e-6)
    # the noise matches the feature: mean |eps| / mean |F_A| near 1 (unit noise: about 10)
    big = torch.randn(512, features.shape[1], generator=torch.Generator().manual_seed(0)) * model.feature_rms
    assert 0.8 < float(big.norm(dim=1).mean() / features.norm(dim=1).mean()) < 1.25
    assert float(torch.randn(512, features.shape[1]).norm(dim=1).mean() / features.norm(dim=1).mean()) > 5


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
    runs = []
    for seed in (1, 1, 2):
        model.feature_rms.zero_()  # the running feature scale is state: start each run from the same
        runs.append(model(frames, audio, generator=torch.Generator().manual_seed(seed)).masks[-1].detach())
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


def test_the_second_branch_through_distort_hears_no_clean_audio_under_the_paper_preset() -> None:
    """End to end through ``_distorted`` (no injected features): the ``paper`` preset infers with pure noise
    (alpha_bar 0), so the second branch's logits are the same for any clean audio; the ``official`` preset keeps
    part of the audio at t = 99 of 100 (alpha_bar about 0.36), so they follow it."""
    frames = torch.randn(2, 3, 64, 64)
    audio_a, audio_b = torch.randn(2, 96, 64), 3 * torch.randn(2, 96, 64) + 1
    for preset, same in (("paper", True), ("official", False)):
        model = _model(debias="uncertainty", noise_preset=preset).eval()
        with torch.no_grad():
            first, other = model(frames, audio_a), model(frames, audio_b)
        assert not torch.equal(first.main_branch.masks[-1], other.main_branch.masks[-1])
        equal = [torch.equal(x, y) for x, y in zip(first.second_branch.masks + first.second_branch.classes,
                                                    other.second_branch.masks + other.second_branch.classes, strict=True)]
        assert all(equal) if same else not any(equal), preset


def test_supervised_prior_trains_the_second_branch_only_where_the_audio_names_no_class() -> None:
    model = _model(debias="uncertainty", debias_loss="supervised-prior", drop_dominant=False).train()
    labels = torch.zeros(3, 64, 64, dtype=torch.uint8)
    labels[:, 5:30, 5:30] = 1
    labels[1, 40:60, 40:60] = 3
    out = model(torch.randn(3, 3, 64, 64), torch.randn(3, 96, 64), generator=torch.Generator().manual_seed(0))
    assert out.bias is not None
    targets = targets_from_labels(labels, 8, out.masks[-1].shape[-2:])
    criterion = SetCriterion(model.config)
    contrast_alone, _ = criterion(type(out)(out.masks, out.classes, out.active), targets)
    keep = torch.tensor([True, False, True])
    bias_rows = type(out)([m[keep] for m in out.bias.masks], [c[keep] for c in out.bias.classes], out.bias.active[keep])
    bias_on_rows, _ = criterion(bias_rows, targets_from_labels(labels[keep], 8, out.masks[-1].shape[-2:]))
    bias_everywhere, _ = criterion(out.bias, targets)
    targets.bias_rows = keep
    total, parts = criterion(out, targets)
    assert torch.isclose(total, contrast_alone + bias_on_rows)
    assert not torch.isclose(bias_on_rows, bias_everywhere)  # the left-out frame mattered
    targets.bias_rows = torch.zeros(3, dtype=torch.bool)  # no such frame in the batch: the contrast's loss alone
    total, parts = criterion(out, targets)
    assert torch.equal(total, contrast_alone) and "bias" not in parts


def test_the_official_readout_gates_the_second_branch_with_the_main_marks() -> None:
    from avsprobe.reference.model import foreground_logit

    model = _model(debias="uncertainty", contrast_on="foreground-main-marks").eval()
    frames, audio = torch.randn(2, 3, 64, 64), torch.randn(2, 96, 64)
    marks = torch.zeros(2, model.config.num_queries, dtype=torch.bool)
    marks[:, 0] = True
    marks[0, 1:3] = True  # clip 0: class 0's queries; clip 1: query 0 alone
    with torch.no_grad():
        out = model(frames, audio, marks=marks)
        got = model.foreground(out)
    main, second = out.main_branch, out.second_branch
    assert second.active.sum() > marks.sum()  # the second branch ran every class query
    expected = (2 * foreground_logit(main.masks[-1], main.classes[-1], marks)
                - foreground_logit(second.masks[-1], second.classes[-1], marks)).sigmoid()
    own = (2 * foreground_logit(main.masks[-1], main.classes[-1], marks)
           - foreground_logit(second.masks[-1], second.classes[-1], second.active)).sigmoid()
    assert torch.equal(got, expected) and not torch.allclose(got, own)
    model.config = model.config.replace(contrast_on="foreground")
    with torch.no_grad():
        assert torch.equal(model.foreground(out), own)
