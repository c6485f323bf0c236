"""Robustness probes: graded corruptions of the audio or the frames, five severities per family.

``audio_corruption`` applies :mod:`avsprobe.audio.corruptions` (reverb, white/pink/babble noise at an SNR,
low-pass, telephone band, sample-rate reduction, clipping; the clip's loudness kept) and
``visual_corruption`` :mod:`avsprobe.probes.visual_corruptions` (blur, motion blur, JPEG, brightness, contrast,
occlusion of the sounding object). A condition is ``FAMILY@SEVERITY``; the expected mask is the original's,
except under occlusion, where it is the sounding object's visible part. Babble is made of three bank clips
(needs an audio bank; without one its conditions are not applicable). ``object_masks`` holds every visible
object (less what an occluder covers) and ``applied`` their classes and which are silent, as the negative
probe records them, so the prior metrics can be read under each corruption.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from avsprobe.audio.corruptions import SEVERITIES, corrupt
from avsprobe.errors import ConfigError, ProbeNotApplicable
from avsprobe.probes.audio_probes import _prior_objects
from avsprobe.probes.base import Condition, Probe, ProbedSample, class_names_of, require_sounding
from avsprobe.probes.visual_corruptions import VISUAL_SEVERITIES, corrupt_frames, occlusion_region
from avsprobe.types import AVSample

__all__ = ["AudioCorruptionProbe", "VisualCorruptionProbe", "BABBLE_TALKERS"]

BABBLE_TALKERS = 3
"""Bank clips summed into babble."""


def _families(given: Sequence[str] | None, known: dict[str, tuple[float, ...]], probe: str) -> tuple[str, ...]:
    families = tuple(known) if given is None else tuple(given)
    unknown = [f for f in families if f not in known]
    if unknown or not families or len(set(families)) != len(families):
        raise ConfigError(f"{probe}: families must be distinct names among {', '.join(known)}; got {list(families)}")
    return families


def _severities(given: Sequence[int], probe: str) -> tuple[int, ...]:
    severities = tuple(given)
    if not severities or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 5 for s in severities) \
            or list(severities) != sorted(set(severities)):
        raise ConfigError(f"{probe}: severities must be distinct increasing integers 1 to 5; got {list(given)}")
    return severities


def _objects(sample: AVSample, covered: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Every visible object (less ``covered``) and the provenance the prior metrics read."""
    masks, classes, silent = _prior_objects(sample)
    if covered is not None:
        masks = {k: m & ~covered for k, m in masks.items()}
    return masks, {"object_classes": classes, "silent_objects": silent}


def _conditions(name: str, families: tuple[str, ...], severities: tuple[int, ...],
                known: dict[str, tuple[float, ...]]) -> list[Condition]:
    out = [Condition(name, "original", 0, {}, True)]
    for family in families:
        for severity in severities:
            out.append(Condition(name, f"{family}@{severity}", len(out),
                                 {"family": family, "severity": severity, "value": known[family][severity - 1]}))
    return out


class AudioCorruptionProbe(Probe):
    """The clip's audio under a graded corruption (its loudness kept); the expected mask is unchanged."""

    name = "audio_corruption"

    def __init__(self, *, families: Sequence[str] | None = None, severities: Sequence[int] = (1, 2, 3, 4, 5),
                 bank: object | None = None) -> None:

        self.families = _families(families, SEVERITIES, self.name)
        self.severities = _severities(severities, self.name)
        self.bank = bank

    def params(self) -> dict:
        return {"families": list(self.families), "severities": list(self.severities), "bank": bool(self.bank)}

    def conditions(self) -> list[Condition]:
        return _conditions(self.name, self.families, self.severities, SEVERITIES)

    def _babble_sources(self, sample: AVSample, rng: np.random.Generator) -> list[np.ndarray]:
        if self.bank is None:
            raise ProbeNotApplicable("audio_corruption/babble needs an audio bank of clean clips (none was given)")
        classes = self.bank.classes()
        picks = [classes[int(rng.integers(len(classes)))] for _ in range(BABBLE_TALKERS)]
        return [np.resize(self.bank.load(self.bank.sample(cls, rng)), sample.audio.shape) for cls in picks]

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        masks, provenance = _objects(sample)
        if condition.is_baseline:
            probed = self._baseline(sample, condition, masks)
            probed.applied.update(provenance)
            return probed
        family, severity = condition.params["family"], condition.params["severity"]
        others = self._babble_sources(sample, rng) if family == "babble" else ()
        audio = corrupt(sample.audio, family, severity, rng, others=others)
        labels = None if sample.semantic_mask is None else sample.semantic_mask.astype(np.int16)
        return ProbedSample(sample.sample_id, condition.condition_id, np.clip(audio, -1.0, 1.0), sample.frames.copy(),
                            sample.mask.copy(), masks, sample.annotated.copy(),
                            {"family": family, "severity": severity, "value": condition.params["value"], **provenance},
                            labels, sample.mask.copy(), class_names_of(sample))


class VisualCorruptionProbe(Probe):
    """The clip's frames under a graded corruption; under occlusion the expected mask is the sounding object's
    visible part (and so is what a model blind to the audio would segment)."""

    name = "visual_corruption"

    def __init__(self, *, families: Sequence[str] | None = None, severities: Sequence[int] = (1, 2, 3, 4, 5)) -> None:
        self.families = _families(families, VISUAL_SEVERITIES, self.name)
        self.severities = _severities(severities, self.name)

    def params(self) -> dict:
        return {"families": list(self.families), "severities": list(self.severities)}

    def conditions(self) -> list[Condition]:
        return _conditions(self.name, self.families, self.severities, VISUAL_SEVERITIES)

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        if condition.is_baseline:
            masks, provenance = _objects(sample)
            probed = self._baseline(sample, condition, masks)
            probed.applied.update(provenance)
            return probed
        family, severity = condition.params["family"], condition.params["severity"]
        covered = None
        if family == "occlusion":
            require_sounding(sample, f"{self.name}/occlusion")
            covered = occlusion_region(sample.mask, condition.params["value"])
        frames, expected = corrupt_frames(sample.frames, family, severity, sample.mask)
        expected = sample.mask.copy() if expected is None else expected
        masks, provenance = _objects(sample, covered)
        labels = None if sample.semantic_mask is None else np.where(expected, sample.semantic_mask, 0).astype(np.int16)
        return ProbedSample(sample.sample_id, condition.condition_id, sample.audio.copy(), frames, expected, masks,
                            sample.annotated.copy(),
                            {"family": family, "severity": severity, "value": condition.params["value"],
                             "visible_share": float(expected.sum() / max(1, sample.mask.sum())), **provenance},
                            labels, expected.copy(), class_names_of(sample))
