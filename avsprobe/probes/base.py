"""What every probe shares: conditions, the probed sample, and the probe interface.

A probe is a pure function ``apply(sample, condition, rng) -> ProbedSample`` over a fixed, enumerable list
of conditions, baseline first. It never mutates its input and never silently returns it: when a condition
cannot apply to a sample it raises :class:`~avsprobe.errors.ProbeNotApplicable`, and the run records that.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from avsprobe.data.palette import AVSS_CLASSES
from avsprobe.errors import ProbeNotApplicable
from avsprobe.types import AVSample

__all__ = ["Condition", "ProbedSample", "Probe", "sounding_objects", "require_sounding", "class_id", "labels_from",
           "class_names_of"]


@dataclass(frozen=True)
class Condition:
    """One controlled intervention.

    Attributes:
        probe: the probe's registry name.
        label: short stable label (``"-23LUFS"``, ``"silence"``, ``"A@-41+B@-23"``).
        order: position on a plot's x axis.
        params: what the condition sets (``{"loudness_lufs": -23.0}``).
        is_baseline: the unmodified sample.
    """

    probe: str
    label: str
    order: float
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    is_baseline: bool = False

    @property
    def condition_id(self) -> str:
        """Stable data key ``probe/label``; changing it means bumping the suite version."""
        return f"{self.probe}/{self.label}"


@dataclass
class ProbedSample:
    """A sample after one condition.

    Attributes:
        sample_id, condition_id: what it came from.
        audio: ``float32 [N]`` mono 16 kHz.
        frames: ``uint8 [T, H, W, 3]``.
        expected_mask: ``bool [T, H, W]``: what a model that follows the audio should segment.
        object_masks: ``name -> bool [T, H, W]`` masks the probe's metrics score coverage on.
        annotated: ``bool [T]`` frames with ground truth.
        applied: what was actually done (partner, gains in dB, clipped fraction, area reached, ...).
        expected_labels: ``int16 [T, H, W]`` class ids of the expected pixels where the classes are known
            (bias lab, AVSS), else None; needed to export a probe set in the AVSS layout. Id ``i`` is the class
            ``label_names[i]``: the data's own order (an AVSS tree's ``label2idx.json``), background 0.
        original_mask: ``bool [T, H, W]`` what sounded in the unprobed clip, transformed like the frames
            (what a model blind to the audio would segment); None means ``expected_mask``'s baseline.
        label_names: the class of each id in ``expected_labels`` (None: the built-in AVSS order).
    """

    sample_id: str
    condition_id: str
    audio: np.ndarray
    frames: np.ndarray
    expected_mask: np.ndarray
    object_masks: dict[str, np.ndarray]
    annotated: np.ndarray
    applied: dict[str, Any] = field(default_factory=dict)
    expected_labels: np.ndarray | None = None
    original_mask: np.ndarray | None = None
    label_names: tuple[str, ...] | None = None

    def labels_as(self, classes: tuple[str, ...]) -> np.ndarray | None:
        """``expected_labels`` as indices into ``classes``, matched by class name (0 where ``classes`` lacks
        the class): how a model's output channels or another tree's ids see them. None without labels."""
        if self.expected_labels is None:
            return None

        index = {name: i for i, name in enumerate(classes)}
        lookup = np.array([index.get(name, 0) for name in (self.label_names or AVSS_CLASSES)], dtype=np.int64)
        return lookup[np.clip(self.expected_labels, 0, None).astype(np.int64)]


def class_names_of(sample: AVSample) -> tuple[str, ...]:
    """The class of each label id of ``sample``: its tree's class list (``meta["class_names"]``, read from
    ``label2idx.json``) or, for data that names none, the built-in AVSS order."""
    return tuple(sample.meta.get("class_names") or AVSS_CLASSES)


def class_id(name: str, names: tuple[str, ...] | None = None) -> int:
    """Label id of a class name in ``names`` (default: the built-in AVSS order), 0 when it is not there."""
    names = names or AVSS_CLASSES
    return names.index(name) if name in names else 0


def labels_from(masks_and_classes: list[tuple[np.ndarray, str]], shape: tuple[int, ...],
                names: tuple[str, ...] | None = None) -> np.ndarray:
    """``int16`` class ids (in ``names``' order, default the built-in AVSS one) painted from ``(mask, class
    name)`` pairs, later pairs on top."""
    labels = np.zeros(shape, dtype=np.int16)
    for mask, name in masks_and_classes:
        labels[mask] = class_id(name, names)
    return labels


class Probe(abc.ABC):
    """Base class; subclasses set ``name`` and ``modality`` and implement ``conditions`` and ``apply``."""

    name: ClassVar[str] = ""
    modality: ClassVar[Literal["audio", "visual", "audio-visual"]] = "audio"

    @abc.abstractmethod
    def conditions(self) -> list[Condition]:
        """Every condition, baseline first."""

    @abc.abstractmethod
    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        """The sample under ``condition``; raises ``ProbeNotApplicable`` when it cannot apply."""

    def condition(self, label_or_id: str) -> Condition:
        """Look a condition up by label or id."""
        for c in self.conditions():
            if label_or_id in (c.label, c.condition_id):
                return c
        raise KeyError(f"probe {self.name!r} has no condition {label_or_id!r}")

    def params(self) -> dict[str, Any]:
        """The probe's settings, for fingerprints (subclasses add theirs)."""
        return {}

    def _baseline(self, sample: AVSample, condition: Condition, object_masks: dict[str, np.ndarray] | None = None
                  ) -> ProbedSample:
        labels = None if sample.semantic_mask is None else sample.semantic_mask.astype(np.int16)
        return ProbedSample(sample.sample_id, condition.condition_id, sample.audio.copy(), sample.frames.copy(),
                            sample.mask.copy(), object_masks or {}, sample.annotated.copy(), {"baseline": True}, labels,
                            sample.mask.copy(), class_names_of(sample))


def sounding_objects(sample: AVSample) -> list:
    return [o for o in sample.objects if o.is_sounding]


def require_sounding(sample: AVSample, probe: str) -> None:
    """Raise ``ProbeNotApplicable`` when nothing sounds in the annotated frames."""
    if not sample.mask[sample.annotated].any():
        raise ProbeNotApplicable(f"{probe}: sample {sample.sample_id!r} has no sounding object to probe")
