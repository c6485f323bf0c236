"""The data types that flow between the parts of avsprobe, with their shape conventions.

Conventions:

* audio: mono ``float32`` ``[N]`` at :data:`SAMPLE_RATE_HZ` (16 kHz), one second per frame;
* frames: ``uint8`` ``[T, H, W, 3]`` (RGB);
* binary masks: ``bool`` ``[T, H, W]``; semantic masks: integer class ids ``[T, H, W]``, 0 = background;
* batches handed to model adapters: torch tensors, ``frames [B, T, 3, H, W]`` float32 and
  ``audio [B, N]`` float32; adapters return logits ``[B, T, H, W]`` (binary) or ``[B, T, K, H, W]``
  (semantic).

numpy is the currency up to the adapter, torch inside it, pandas after the records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from avsprobe.errors import DataError

if TYPE_CHECKING:
    import torch

__all__ = [
    "SAMPLE_RATE_HZ",
    "OutputKind",
    "ObjectInfo",
    "AVSample",
    "AVBatch",
]

SAMPLE_RATE_HZ = 16_000
"""Sample rate of all audio inside avsprobe (the VGGish and AVSBench rate)."""

OutputKind = Literal["binary", "semantic"]


@dataclass(frozen=True)
class ObjectInfo:
    """One object instance of a clip.

    Attributes:
        object_id: stable id within the clip (e.g. ``"o0"``).
        class_name: semantic class (bias-lab or AVSS class name).
        mask: ``bool [T, H, W]`` instance mask.
        is_sounding: whether the object sounds in the clip's original audio.
        loudness_lufs: loudness of its clean source in the original audio, if known.
        source_path: path of its clean source audio, if one exists (bias lab, Co-AVS).
    """

    object_id: str
    class_name: str
    mask: np.ndarray
    is_sounding: bool
    loudness_lufs: float | None = None
    source_path: str | None = None


@dataclass(frozen=True)
class AVSample:
    """One audio-visual clip, from any data source.

    Attributes:
        sample_id: stable unique id (AVSS ``uid``, S4/MS3 video name, bias-lab uid).
        frames: ``uint8 [T, H, W, 3]``.
        audio: ``float32 [N]`` mono at ``sample_rate_hz``.
        mask: ``bool [T, H, W]`` sounding-object mask (union of sounding objects).
        annotated: ``bool [T]``: which frames carry ground truth (S4 train: frame 0 only).
        semantic_mask: optional ``int [T, H, W]`` class ids (0 = background).
        objects: per-object instances, where the source knows them (bias lab, Co-AVS).
        category: coarse label for grouping (S4 category, AVSS ``a_obj``, ...).
        visible_classes: the classes on screen anywhere in the clip, sounding or not, as AVSS class names
            (S4: its category through the S4-to-AVSS map; AVSS: the classes of every frame's label mask
            plus the ``a_obj`` classes; the bias lab and Co-AVS: their objects); None where the source
            cannot tell (MS3's binary masks carry no class).
        subset: data subset (``"s4"``, ``"ms3"``, ``"v2"``, ``"biaslab"``, ...).
        split: ``"train"``, ``"val"`` or ``"test"``.
        sample_rate_hz: audio sample rate.
        meta: anything else the source wants to carry (paths, start time, ...).
    """

    sample_id: str
    frames: np.ndarray
    audio: np.ndarray
    mask: np.ndarray
    annotated: np.ndarray
    semantic_mask: np.ndarray | None = None
    objects: tuple[ObjectInfo, ...] = ()
    category: str = ""
    visible_classes: tuple[str, ...] | None = None
    subset: str = ""
    split: str = ""
    sample_rate_hz: int = SAMPLE_RATE_HZ
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate_hz

    def validate(self) -> None:
        """Check shapes and dtypes; raise :class:`DataError` naming the sample otherwise."""
        where = f"sample {self.sample_id!r}"
        f = self.frames
        if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
            raise DataError(f"{where}: frames must be uint8 [T, H, W, 3], got {f.dtype} {f.shape}")
        t, h, w = f.shape[:3]
        if self.mask.shape != (t, h, w) or self.mask.dtype != np.bool_:
            raise DataError(f"{where}: mask must be bool {(t, h, w)}, got {self.mask.dtype} {self.mask.shape}")
        if self.annotated.shape != (t,) or self.annotated.dtype != np.bool_:
            raise DataError(f"{where}: annotated must be bool [{t}], got {self.annotated.dtype} {self.annotated.shape}")
        if self.semantic_mask is not None and self.semantic_mask.shape != (t, h, w):
            raise DataError(f"{where}: semantic_mask must be {(t, h, w)}, got {self.semantic_mask.shape}")
        a = self.audio
        if a.ndim != 1 or a.dtype != np.float32:
            raise DataError(f"{where}: audio must be float32 [N], got {a.dtype} {a.shape}")
        for obj in self.objects:
            if obj.mask.shape != (t, h, w):
                raise DataError(f"{where}: object {obj.object_id!r} mask is {obj.mask.shape}, expected {(t, h, w)}")


@dataclass
class AVBatch:
    """What a model adapter receives: a batch of clips already resized and resampled to its input spec.

    Attributes:
        frames: ``float32 [B, T, 3, H, W]``, normalised as the adapter's input spec asks.
        audio: ``float32 [B, N]`` mono waveforms at the spec's sample rate.
        sample_ids: ``B`` sample ids.
        condition_ids: ``B`` probe condition ids (``"intensity/-23LUFS"``, ...).
        truth: the probed samples themselves (expected masks, applied parameters) at the original frame
            size. Only the known-answer adapters of ``avsprobe.adapters.testing`` may read it; a real model
            that looked would be cheating.
        audio_features: what ``InputSpec.audio`` asks for, computed from ``audio``: VGGish log-mel
            ``[B, T, 1, 96, 64]`` or embeddings ``[B, T, 128]``; None for ``"waveform"``.
    """

    frames: torch.Tensor
    audio: torch.Tensor
    sample_ids: list[str]
    condition_ids: list[str]
    truth: list[Any] | None = None
    audio_features: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.sample_ids)
