"""Reference model parts: shapes, perception marks, the full model's interaction enhancement, criterion, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avsprobe.reference.audio import AudioEncoder, log_mel_descriptor
from avsprobe.reference.backbone import PixelDecoder, TinyBackbone, sine_position_encoding
from avsprobe.reference.checkpoint import load_checkpoint, save_checkpoint
from avsprobe.reference.config import get_config
from avsprobe.reference.criterion import SetCriterion, targets_from_labels
from avsprobe.reference.model import ReferenceModel, foreground_probability
from avsprobe.reference.perception import Perception, active_from_scores, marks_from_activity
from avsprobe.reference.train import RECIPES


def _model(seed: int = 0, **overrides: object) -> ReferenceModel:
    torch.manual_seed(seed)
    return ReferenceModel(get_config("tiny", frame_size=64, **overrides)).eval()


def test_backbone_pixel_decoder_and_audio_shapes() -> None:
    x = torch.randn(2, 3, 96, 64)
    feats = TinyBackbone()(x)
    assert [tuple(f.shape) for f in feats] == [(2, 32, 24, 16), (2, 64, 12, 8), (2, 96, 6, 4), (2, 128, 3, 2)]
    levels, mask_features = PixelDecoder(TinyBackbone.channels, 48)(feats)
    assert [tuple(m.shape) for m in levels] == [(2, 48, 3, 2), (2, 48, 6, 4), (2, 48, 12, 8)]
    assert tuple(mask_features.shape) == (2, 48, 24, 16)
    pos = sine_position_encoding(3, 2, 48)
    assert pos.shape == (6, 48) and torch.all(pos.abs() <= 1) and len({tuple(r) for r in pos.tolist()}) == 6
    log_mel = torch.randn(4, 96, 64)
    assert AudioEncoder(48)(log_mel).shape == (4, 48)
    assert AudioEncoder(48, "embedding")(torch.randn(4, 128)).shape == (4, 48)
    descriptor = log_mel_descriptor(log_mel)
    assert descriptor.shape == (4, 128)
    assert torch.allclose(descriptor[:, :64], log_mel.mean(1)) and torch.allclose(descriptor[:, 64:], log_mel.std(1, unbiased=False))


def test_marks_zeroth_active_dilation_and_counts() -> None:
    activity = torch.tensor([[False, True, False, True], [False, False, False, False]])
    marks = marks_from_activity(activity, num_queries=12, dilation=2)
    assert marks[:, 0].all()
    assert marks[0].nonzero().flatten().tolist() == [0, 3, 4, 7, 8]  # class 1 -> queries 3, 4; class 3 -> 7, 8
    assert marks[1].nonzero().flatten().tolist() == [0]
    assert not marks_from_activity(activity, 12, 2, zeroth_active=False)[1].any()
    with pytest.raises(ValueError, match="cannot hold"):
        marks_from_activity(activity, num_queries=8, dilation=2)


def test_supervised_perception_threshold_and_top_k() -> None:
    probs = torch.tensor([[0.9, 0.41, 0.39, 0.1], [0.2, 0.3, 0.35, 0.05]])
    assert active_from_scores(probs, threshold=0.4, top_k=None).tolist() == [[True, True, False, False], [False] * 4]
    assert active_from_scores(probs, threshold=0.4, top_k=2).tolist() == [[True, True, False, False],
                                                                          [False, True, True, False]]
    phi = Perception("supervised", 4, threshold=0.4)
    with torch.no_grad():  # a classifier whose output ignores its input: probabilities are the sigmoid of the bias
        phi.classifier[2].weight.zero_()
        phi.classifier[2].bias.copy_(torch.logit(probs[0]))
    activity = phi.activity(torch.randn(3, 128))
    assert activity.tolist() == [[True, True, False, False]] * 3
    marks = marks_from_activity(activity, num_queries=20, dilation=3)
    assert marks.sum(1).tolist() == [1 + 2 * 3] * 3


@pytest.mark.parametrize("kind", ["kmeans", "gmm", "supervised"])
def test_perception_fits_clusters_and_survives_state_dict(kind: str) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (3, 128))
    labels = np.repeat(np.arange(3), 60)
    x = torch.from_numpy(centres[labels] + rng.normal(0, 0.5, (180, 128))).float()
    presence = torch.nn.functional.one_hot(torch.from_numpy(labels), 3).bool()
    phi = Perception(kind, 3)
    phi.fit(x, presence, seed=0)
    activity = phi.activity(x)
    assert (activity.sum(1) == 1).all()
    found = activity.float().argmax(1).numpy()
    # every true cluster maps to one found cluster, and distinct clusters to distinct ones
    mapping = {int(t): set(found[labels == t].tolist()) for t in range(3)}
    assert all(len(v) == 1 for v in mapping.values()) and len(set.union(*mapping.values())) == 3
    copy = Perception(kind, 3)
    copy.load_state_dict(phi.state_dict())
    assert torch.equal(copy.activity(x), activity)


def test_model_outputs_every_prediction_with_shapes() -> None:
    model = _model()
    cfg = model.config
    with torch.no_grad():
        out = model(torch.randn(3, 3, 64, 64), torch.randn(3, 96, 64))
        prob = model.foreground(out)
    assert len(out.masks) == len(out.classes) == cfg.num_layers + 1
    assert all(m.shape == (3, cfg.num_queries, 16, 16) for m in out.masks)
    assert all(c.shape == (3, cfg.num_queries, cfg.num_classes + 1) for c in out.classes)
    assert out.active.shape == (3, cfg.num_queries) and out.active[:, 0].all()
    assert prob.shape == (3, 16, 16) and float(prob.min()) >= 0 and float(prob.max()) <= 1


def test_foreground_probability_by_hand() -> None:
    masks = torch.tensor([[[[0.0]], [[2.0]], [[5.0]]]])  # [1, 3, 1, 1]
    classes = torch.log(torch.tensor([[[0.3, 0.7], [0.8, 0.2], [0.9, 0.1]]]))  # p(no object) = 0.7, 0.2, 0.1
    active = torch.tensor([[True, True, False]])
    expected = 0.3 * 0.5 + 0.8 * torch.sigmoid(torch.tensor(2.0, dtype=torch.float64))
    got = foreground_probability(masks, classes, active)[0, 0, 0]
    assert got.dtype == torch.float64 and torch.isclose(got, expected, atol=1e-7)  # float64: see its docstring


def _loss(model: ReferenceModel, marks: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    frames, audio = torch.randn(2, 3, 64, 64, generator=g), torch.randn(2, 96, 64, generator=g)
    labels = torch.zeros(2, 64, 64, dtype=torch.uint8)
    labels[0, 10:30, 10:30] = 2
    labels[1, 30:60, 5:20] = 5
    out = model(frames, audio, marks=marks)
    targets = targets_from_labels(labels, model.config.num_classes, out.masks[-1].shape[-2:])
    loss, parts = SetCriterion(model.config)(out, targets, torch.Generator().manual_seed(0))
    assert all(np.isfinite(v) for v in parts.values())
    return loss


def test_dormant_queries_get_no_gradient_and_do_not_change_active_outputs() -> None:
    model = _model(drop_dominant=False).train()
    marks = torch.zeros(2, model.config.num_queries, dtype=torch.bool)
    marks[:, :5] = True
    marks[1, 7] = True
    _loss(model, marks).backward()
    grad = model.query_feat.weight.grad
    dormant = ~marks.any(0)
    assert grad[dormant].abs().max() == 0 and grad[~dormant].abs().sum(1).min() > 0
    # perturbing a dormant query's content changes nothing that active queries produce
    model.eval()
    frames, audio = torch.randn(2, 3, 64, 64), torch.randn(2, 96, 64)
    before = model(frames, audio, marks=marks)
    with torch.no_grad():
        model.query_feat.weight[dormant] += 3.0
    after = model(frames, audio, marks=marks)
    assert torch.allclose(before.masks[-1][marks], after.masks[-1][marks], atol=1e-5)


def test_vanilla_recipe_trains_every_query() -> None:
    model = _model(**RECIPES["vanilla"]).train()
    _loss(model, torch.ones(2, model.config.num_queries, dtype=torch.bool)).backward()
    assert model.query_feat.weight.grad.abs().sum(1).min() > 0
    assert model(torch.randn(1, 3, 64, 64), torch.randn(1, 96, 64)).active.all()


def test_targets_from_labels_area_fractions() -> None:
    labels = torch.zeros(1, 4, 4, dtype=torch.uint8)
    labels[0, 0, 0] = 1
    labels[0, 2:, 2:] = 3
    t = targets_from_labels(labels, 3, (2, 2))
    assert t.valid.tolist() == [[True, False, True]] and t.classes.tolist() == [[0, 1, 2]]
    assert t.masks[0, 0].tolist() == [[0.25, 0.0], [0.0, 0.0]] and t.masks[0, 2].tolist() == [[0.0, 0.0], [0.0, 1.0]]


def test_matching_uses_only_active_queries_and_perfect_prediction_scores_low() -> None:
    cfg = get_config("tiny", frame_size=64, drop_dominant=False)
    criterion = SetCriterion(cfg)
    labels = torch.zeros(1, 16, 16, dtype=torch.uint8)
    labels[0, :8, :8] = 3  # class 2
    targets = targets_from_labels(labels, cfg.num_classes, (16, 16))
    masks = torch.full((1, cfg.num_queries, 16, 16), -20.0)
    classes = torch.full((1, cfg.num_queries, cfg.num_classes + 1), -20.0)
    classes[..., -1] = 20.0
    active = torch.zeros(1, cfg.num_queries, dtype=torch.bool)
    active[0, [0, 5]] = True
    # the perfect query (9) is dormant: the match must go to an active one, and the loss stays high
    masks[0, 9] = torch.where(targets.masks[0, 2] > 0, 20.0, -20.0)
    classes[0, 9] = -20.0
    classes[0, 9, 2] = 20.0
    focal, dice, ce = criterion.layer_terms(masks, classes, active, targets)
    assert float(dice) > 0.9
    active[0, 9] = True
    focal, dice, ce = criterion.layer_terms(masks, classes, active, targets)
    assert float(focal) < 1e-6 and float(dice) < 1e-3 and float(ce) < 1e-6


def test_checkpoint_round_trip(tmp_path) -> None:
    model = _model(perception="kmeans")
    with torch.no_grad():
        model.perception.centers.normal_()
    save_checkpoint(tmp_path / "ck", model, {"classes": ["a"], "mean": [0, 0, 0], "std": [1, 1, 1]})
    loaded, record = load_checkpoint(tmp_path / "ck")
    assert record["config"]["perception"] == "kmeans" and record["classes"] == ["a"]
    frames, audio = torch.randn(2, 3, 64, 64), torch.randn(2, 96, 64)
    assert torch.equal(model.foreground(model(frames, audio)), loaded.foreground(loaded(frames, audio)))
