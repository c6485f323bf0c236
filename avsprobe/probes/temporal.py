"""Temporal probes: does the mask follow *when* a sound happens?

``temporal`` has two kinds of condition:

- ``shift+Ks`` / ``shift-Ks``: the clip's audio moved K seconds later (+) or earlier (-), the gap padded with
  digital silence (never wrapped): a frame whose second is now silent expects nothing; the others expect what
  sounds in the clip. (Exact where every source sounds for the whole clip, as in the bias lab; on data whose
  sounding state changes within a clip, such as AVSBench's MS3, frame t expects the clip's mask at t.)
- ``switch``: a clip with two objects that have clean sources: object A's source for the first
  ``ceil(T / 2)`` seconds, object B's for the rest, each at the reference loudness; frame t expects A before
  the switch and B after it. ``object_masks`` holds both, so a metric can ask which one the mask follows at
  which lag (:mod:`avsprobe.metrics.temporal`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from avsprobe.audio.gain import normalize_loudness
from avsprobe.audio.loudness import REFERENCE_LUFS
from avsprobe.errors import ConfigError, ProbeNotApplicable
from avsprobe.probes.audio_probes import _source, _with_sources
from avsprobe.probes.base import Condition, Probe, ProbedSample, class_names_of, labels_from, require_sounding
from avsprobe.types import AVSample

__all__ = ["TemporalProbe", "shift_audio", "switch_frame"]


def shift_audio(audio: np.ndarray, shift_samples: int) -> np.ndarray:
    """``audio`` moved ``shift_samples`` later (negative: earlier), the gap filled with zeros; same length."""
    out = np.zeros_like(audio)
    n = len(audio)
    if shift_samples >= 0:
        out[shift_samples:] = audio[: max(0, n - shift_samples)]
    else:
        out[: max(0, n + shift_samples)] = audio[-shift_samples:]
    return out


def switch_frame(frames: int) -> int:
    """The first frame of the second source: ``ceil(T / 2)``."""
    return -(-frames // 2)


class TemporalProbe(Probe):
    """The audio shifted against the frames, and a mid-clip switch between two sources."""

    name = "temporal"

    def __init__(self, *, shifts_s: Sequence[int] = (-2, -1, 1, 2), switch: bool = True,
                 reference_lufs: float = REFERENCE_LUFS) -> None:
        shifts = tuple(shifts_s)
        if not all(isinstance(k, int) and not isinstance(k, bool) and k != 0 for k in shifts) \
                or len(set(shifts)) != len(shifts):
            raise ConfigError(f"temporal: shifts_s must be distinct non-zero whole seconds, got {list(shifts_s)}")
        self.shifts_s = shifts
        self.switch = bool(switch)
        self.reference_lufs = float(reference_lufs)

    def params(self) -> dict:
        return {"shifts_s": list(self.shifts_s), "switch": self.switch, "reference_lufs": self.reference_lufs}

    def conditions(self) -> list[Condition]:
        out = [Condition(self.name, "original", 0, {}, True)]
        out += [Condition(self.name, f"shift{k:+d}s", len(out) + i, {"shift_s": k}) for i, k in enumerate(self.shifts_s)]
        if self.switch:
            out.append(Condition(self.name, "switch", len(out), {"switch": True}))
        return out

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        if condition.is_baseline:
            return self._baseline(sample, condition, {"sounding": sample.mask.copy()})
        if "shift_s" in condition.params:
            return self._shift(sample, condition)
        return self._switch(sample, condition)

    def _shift(self, sample: AVSample, condition: Condition) -> ProbedSample:
        require_sounding(sample, self.name)
        k = condition.params["shift_s"]
        frames = sample.mask.shape[0]
        rate = sample.sample_rate_hz
        audio = shift_audio(sample.audio, k * rate)
        seconds = np.arange(frames)
        silent = (seconds < k) if k > 0 else (seconds >= frames + k)  # the padded seconds
        expected = sample.mask.copy()
        expected[silent] = False
        labels = None if sample.semantic_mask is None else np.where(expected, sample.semantic_mask, 0).astype(np.int16)
        return ProbedSample(sample.sample_id, condition.condition_id, audio.astype(np.float32), sample.frames.copy(),
                            expected, {"sounding": sample.mask.copy()}, sample.annotated.copy(),
                            {"shift_s": k, "silent_frames": [int(t) for t in np.flatnonzero(silent)]}, labels,
                            sample.mask.copy(), class_names_of(sample))

    def _switch(self, sample: AVSample, condition: Condition) -> ProbedSample:
        candidates = _with_sources(sample)
        if len(candidates) < 2:
            raise ProbeNotApplicable(f"temporal/switch: sample {sample.sample_id!r} has fewer than two objects with "
                                     "clean sources")
        a, b = candidates[0], candidates[1]
        frames, rate = sample.mask.shape[0], sample.sample_rate_hz
        cut = switch_frame(frames)
        audio = np.zeros_like(sample.audio, dtype=np.float64)
        for obj, start, stop in ((a, 0, cut * rate), (b, cut * rate, len(audio))):
            level = normalize_loudness(_source(sample, obj), self.reference_lufs,
                                       what=f"object {obj.object_id!r} source").audio
            audio[start:stop] = level[start:stop]
        expected = np.concatenate([a.mask[:cut], b.mask[cut:]]).astype(bool)
        painted = labels_from([(a.mask, a.class_name), (b.mask, b.class_name)], sample.mask.shape,
                              class_names_of(sample))
        labels = np.where(expected, painted, 0).astype(np.int16)
        return ProbedSample(sample.sample_id, condition.condition_id, np.clip(audio, -1, 1).astype(np.float32),
                            sample.frames.copy(), expected, {"A": a.mask.copy(), "B": b.mask.copy()},
                            sample.annotated.copy(),
                            {"switch_frame": cut, "A": a.object_id, "B": b.object_id,
                             "A_class": a.class_name, "B_class": b.class_name}, labels, sample.mask.copy(),
                            class_names_of(sample))
