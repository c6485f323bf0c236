"""Phi fitted with negative audio says "no class" on silence, beds and noise, and still hears the classes."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch

from avsprobe.reference.audio import log_mel_descriptor
from avsprobe.reference.perception import Perception
from avsprobe.reference.phi_negatives import NEGATIVE_CONDITIONS, negative_log_mel
from avsprobe.reference.train import TrainSettings, _fit_perception


@pytest.fixture(scope="module")
def train_frames(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.reference.data import load_frames
    from avsprobe.reference.train import _classes_of

    root: Path = tmp_path_factory.mktemp("phi") / "w"
    build_world(root, clips=120, workers=2)
    return load_frames(root, "train", _classes_of(root), 32, workers=1)


def _fitted(frames, negatives: bool, seed: int) -> Perception:  # noqa: ANN001
    model = types.SimpleNamespace(perception=Perception("supervised", len(frames.classes)))
    _fit_perception(model, frames, TrainSettings(seed=seed, phi_negatives=negatives))
    return model.perception


@pytest.mark.parametrize("seed", [0, 1])
def test_phi_with_negatives_marks_nothing_on_silence_beds_and_noise(train_frames, seed: int) -> None:  # noqa: ANN001
    phi = _fitted(train_frames, True, seed)
    held_out, kinds = negative_log_mel(5, 10, seed=1000 + seed)  # other draws than the fit's
    with torch.no_grad():
        marked = phi.activity(log_mel_descriptor(held_out)).any(dim=1)
    for kind in NEGATIVE_CONDITIONS:
        rows = torch.tensor([k == kind for k in kinds])
        assert 1 - marked[rows].float().mean() >= 0.99, kind
    with torch.no_grad():  # and it still hears the train clips' classes
        found = phi.activity(log_mel_descriptor(train_frames.log_mel))
    exact = (found == train_frames.presence.bool()).all(dim=1).float().mean()
    assert exact >= 0.8


def test_phi_hears_no_class_in_a_clip_whose_audio_is_its_bed_alone(tmp_path) -> None:  # noqa: ANN001
    """World v3: a bed-only clip keeps its masks (the planted prior) but Phi's labels say no class sounds."""
    import dataclasses
    import json

    from avsprobe.data.biaslab.spec import load_world_spec
    from avsprobe.data.biaslab.world import build_world
    from avsprobe.reference.data import load_frames
    from avsprobe.reference.train import _classes_of

    build_world(tmp_path / "w", spec=dataclasses.replace(load_world_spec(), ambiguous_fraction=0.5), clips=24,
                workers=1)
    frames = load_frames(tmp_path / "w", "train", _classes_of(tmp_path / "w"), 32, workers=1)
    bed_only = {p.parent.name for p in (tmp_path / "w").rglob("objects.json")
                if json.loads(p.read_text())["mixture"].get("bed_only")}
    assert bed_only
    for k, clip in enumerate(frames.clip_ids):
        has_object = bool((frames.labels[k] > 0).any())
        if clip in bed_only:
            assert not frames.presence[k].any()
        elif has_object:  # any other clip hears exactly the classes its masks show
            assert frames.presence[k].any()
    assert any(clip in bed_only and (frames.labels[k] > 0).any() for k, clip in enumerate(frames.clip_ids))
