"""Probed clips made into a model's input: the one place an adapter's ``InputSpec`` is applied.

Used by the run engine and by ``avsprobe models check``; an adapter sees only what this module builds
(read-only ground truth included, so a known-answer adapter can read it and no adapter can change a score).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.audio.io import resample
from avsprobe.errors import AdapterError
from avsprobe.types import AVBatch

if TYPE_CHECKING:
    from avsprobe.probes.base import ProbedSample

__all__ = ["prepare_batch"]


def prepare_batch(probed: list[ProbedSample], spec: Any, device: str) -> Any:
    """An ``AVBatch`` at the adapter's input spec: frames resized (bilinear) and normalised, audio resampled,
    and the audio features the spec asks for computed from the probed waveform (``avsprobe.audio.features``)."""
    import torch

    frames = torch.from_numpy(np.stack([p.frames for p in probed])).to(device)  # [B, T, H, W, 3] uint8
    b, t, h, w, _ = frames.shape
    if spec.frames_per_clip is not None and spec.frames_per_clip != t:
        raise AdapterError(f"the model takes {spec.frames_per_clip} frames per clip; the data has {t}")
    x = frames.permute(0, 1, 4, 2, 3).reshape(b * t, 3, h, w).float() / 255.0
    if spec.frame_size is not None and tuple(spec.frame_size) != (h, w):
        x = torch.nn.functional.interpolate(x, size=tuple(spec.frame_size), mode="bilinear", align_corners=False)
    mean = torch.tensor(spec.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=x.device).view(1, 3, 1, 1)
    x = ((x - mean) / std).reshape(b, t, 3, *x.shape[-2:])
    audio = [p.audio if spec.sample_rate_hz == 16_000 else resample(p.audio, 16_000, spec.sample_rate_hz)
             for p in probed]
    length = max(a.shape[0] for a in audio)
    audio_t = torch.zeros(b, length)
    for i, a in enumerate(audio):
        audio_t[i, : a.shape[0]] = torch.from_numpy(a.astype(np.float32))
    audio_t = audio_t.to(device)
    features = None
    if getattr(spec, "audio", "waveform") != "waveform":
        from avsprobe.audio.features import audio_features

        # from each probed waveform at 16 kHz (unpadded: the spec's short-clip policy decides), on the device
        features = audio_features([p.audio for p in probed], spec, t, device)
    return AVBatch(frames=x, audio=audio_t, sample_ids=[p.sample_id for p in probed],
                   condition_ids=[p.condition_id for p in probed], truth=[_read_only_copy(p) for p in probed],
                   audio_features=features)


def _frozen(array: np.ndarray | None, *, copy: bool = True) -> np.ndarray | None:
    if array is None:
        return None
    out = array.copy() if copy else array.view()
    out.flags.writeable = False
    return out


def _read_only_copy(probed: ProbedSample) -> ProbedSample:
    """What an adapter may look at: read-only copies of everything scoring uses (masks, what was applied),
    and read-only views of the frames and audio (large, and never scored), so an adapter that writes into
    the ground truth fails its clip instead of changing its score."""
    return dataclasses.replace(
        probed, audio=_frozen(probed.audio, copy=False), frames=_frozen(probed.frames, copy=False),
        expected_mask=_frozen(probed.expected_mask),
        object_masks={k: _frozen(v) for k, v in probed.object_masks.items()}, annotated=_frozen(probed.annotated),
        applied=copy.deepcopy(probed.applied), expected_labels=_frozen(probed.expected_labels),
        original_mask=_frozen(probed.original_mask))
