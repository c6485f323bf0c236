"""Audio probes: intensity, semantic, mix, negative and swap (README, "Probes").

All audio goes through the same 16 kHz mono path as the original, so a model sees probed audio exactly as
it sees real audio (AVSBench-Robust's negatives used another frontend, which leaks a shortcut).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import numpy as np

from avsprobe.audio.gain import normalize_loudness
from avsprobe.audio.io import load_audio
from avsprobe.audio.loudness import DEFAULT_LEVELS_LUFS, REFERENCE_LUFS, measure_loudness
from avsprobe.audio.mixing import mix_at_loudness
from avsprobe.audio.noise import noise_at_loudness
from avsprobe.errors import ConfigError, ProbeNotApplicable
from avsprobe.probes.base import (
    Condition,
    Probe,
    ProbedSample,
    class_names_of,
    labels_from,
    require_sounding,
    sounding_objects,
)
from avsprobe.probes.geometry import rescale_to_area
from avsprobe.types import AVSample, ObjectInfo

__all__ = ["DEFAULT_LEVELS_LUFS", "LEVEL_TOLERANCE_LU", "REFERENCE_LUFS", "IntensityProbe", "SemanticProbe", "MixProbe",
           "NegativeProbe", "SwapProbe", "visible_classes"]

LEVEL_TOLERANCE_LU = 0.5
"""How far the probed audio may end from the level asked for (in LU) and still count as that level; a
louder miss comes from clipping (a DC clip cannot reach -23 LUFS), a quieter one from a clip too short
to gate."""


def _levels(levels_lufs: Sequence[float]) -> tuple[float, ...]:
    """Distinct increasing finite levels in [-70, 0] LUFS (a level outside cannot be reached without clipping
    or falls under the loudness gate)."""
    if isinstance(levels_lufs, (str, bytes)) or not isinstance(levels_lufs, Sequence):
        raise ConfigError(f"levels_lufs must be a list of numbers, got {levels_lufs!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in levels_lufs):
        raise ConfigError(f"levels_lufs must be a list of numbers, got {list(levels_lufs)}")
    levels = tuple(float(v) for v in levels_lufs)
    if not all(np.isfinite(v) and -70.0 <= v <= 0.0 for v in levels):
        raise ConfigError(f"levels_lufs must be finite and within [-70, 0] LUFS, got {list(levels_lufs)}")
    if not levels or len(set(levels)) != len(levels) or list(levels) != sorted(levels):
        raise ConfigError(f"levels_lufs must be distinct and increasing, got {list(levels_lufs)}")
    return levels


def _lufs(value: float, name: str = "reference_lufs") -> float:
    """A finite loudness in [-70, 0] LUFS."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (np.isfinite(value) and -70 <= value <= 0):
        raise ConfigError(f"{name} must be a number of LUFS within [-70, 0], got {value!r}")
    return float(value)


def _label(level: float) -> str:
    return f"{level:g}LUFS"


@functools.lru_cache(maxsize=16)
def _load_source(path: str, mtime_ns: int, length: int) -> np.ndarray:
    """A clean source at a clip's length (read-only): the mix probe asks for each source in 13 of its 49
    conditions, so the last few are kept (keyed by modification time too: a rewritten file is read again)."""
    audio = load_audio(path).audio
    if audio.shape[0] != length:
        audio = np.resize(audio, (length,))  # loop or cut to the clip's length
    audio.flags.writeable = False
    return audio


def _source(sample: AVSample, obj: ObjectInfo) -> np.ndarray:
    if not obj.source_path:
        raise ProbeNotApplicable(f"sample {sample.sample_id!r}: object {obj.object_id!r} has no clean source")
    try:
        mtime_ns = os.stat(obj.source_path).st_mtime_ns
    except OSError:
        mtime_ns = -1  # load_audio names the missing file
    return _load_source(obj.source_path, mtime_ns, sample.audio.shape[0])


def _with_sources(sample: AVSample) -> list[ObjectInfo]:
    return [o for o in sample.objects if o.source_path]


def _probed(sample: AVSample, condition: Condition, audio: np.ndarray, expected: np.ndarray,
            object_masks: dict[str, np.ndarray], applied: dict, frames: np.ndarray | None = None,
            labels: np.ndarray | None = None, original: np.ndarray | None = None) -> ProbedSample:
    original = sample.mask.copy() if original is None else original
    return ProbedSample(sample.sample_id, condition.condition_id, audio.astype(np.float32),
                        sample.frames.copy() if frames is None else frames, expected, object_masks,
                        sample.annotated.copy(), applied, labels, original, class_names_of(sample))


class IntensityProbe(Probe):
    """The sounding audio brought to each of six loudness levels; the expected mask is unchanged.

    ``applied["level_reached_ok"]`` is false when the result ends more than :data:`LEVEL_TOLERANCE_LU` from
    the level (clipping); the intensity metrics leave such conditions out and count them.
    """

    name = "intensity"

    def __init__(self, *, levels_lufs: Sequence[float] = DEFAULT_LEVELS_LUFS) -> None:
        self.levels_lufs = _levels(levels_lufs)

    def params(self) -> dict:
        return {"levels_lufs": list(self.levels_lufs)}

    def conditions(self) -> list[Condition]:
        return [Condition(self.name, "original", 0, {}, True)] + [
            Condition(self.name, _label(v), i + 1, {"loudness_lufs": v}) for i, v in enumerate(self.levels_lufs)]

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        masks = {"sounding": sample.mask.copy()}
        if condition.is_baseline:
            return self._baseline(sample, condition, masks)
        require_sounding(sample, self.name)
        target = condition.params["loudness_lufs"]
        result = normalize_loudness(sample.audio, target, what=f"sample {sample.sample_id!r} audio")
        labels = None if sample.semantic_mask is None else sample.semantic_mask.astype(np.int16)
        reached = bool(np.isfinite(result.after.value) and abs(result.after.value - target) <= LEVEL_TOLERANCE_LU)
        return _probed(sample, condition, result.audio, sample.mask.copy(), masks, {
            "gain_db": result.gain_db, "clipped_fraction": result.clipped_fraction,
            "loudness_lufs": result.after.value, "loudness_measure": result.after.measure,
            "level_reached_ok": reached}, labels=labels)


class SemanticProbe(Probe):
    """Each class's clean source at the reference loudness, its object rescaled to 30-40 % of the frame.

    Conditions are one per class; a sample without an object of that class (with a clean source) is not
    applicable. Controlling loudness and area leaves the class as the only variable (paper, supplement A.1).
    """

    name = "semantic"
    modality = "audio-visual"

    def __init__(self, *, classes: Sequence[str] = ("piano", "guitar", "drum", "car", "dog", "man", "bird", "bell"),
                 reference_lufs: float = REFERENCE_LUFS, area_frac: float = 0.35,
                 area_range: Sequence[float] = (0.30, 0.40)) -> None:
        if not classes:
            raise ConfigError("the semantic probe needs at least one class")
        self.classes = tuple(classes)
        self.reference_lufs = _lufs(reference_lufs)
        self.area_frac = float(area_frac)
        self.area_range = (float(area_range[0]), float(area_range[1]))

    def params(self) -> dict:
        return {"classes": list(self.classes), "reference_lufs": self.reference_lufs, "area_frac": self.area_frac,
                "area_range": list(self.area_range)}

    def conditions(self) -> list[Condition]:
        return [Condition(self.name, "original", 0, {}, True)] + [
            Condition(self.name, c, i + 1, {"class_name": c}) for i, c in enumerate(self.classes)]

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        if condition.is_baseline:
            return self._baseline(sample, condition, {"sounding": sample.mask.copy()})
        cls = condition.params["class_name"]
        candidates = [o for o in _with_sources(sample) if o.class_name == cls]
        if not candidates:
            raise ProbeNotApplicable(f"semantic: sample {sample.sample_id!r} has no {cls} object with a clean source")
        target = max(candidates, key=lambda o: (int(o.mask.sum()), o.object_id))
        result = normalize_loudness(_source(sample, target), self.reference_lufs, what=f"{cls} source")
        frames, masks, reached = rescale_to_area(sample.frames, {"target": target.mask, "sounding": sample.mask},
                                                 "target", self.area_frac)
        return _probed(sample, condition, result.audio, masks["target"].copy(), {"target": masks["target"]}, {
            "object_id": target.object_id, "gain_db": result.gain_db, "clipped_fraction": result.clipped_fraction,
            "area_reached": reached, "area_reached_ok": self.area_range[0] <= reached <= self.area_range[1]},
            frames=frames, labels=labels_from([(masks["target"], cls)], sample.mask.shape, class_names_of(sample)),
            original=masks["sounding"])


class MixProbe(Probe):
    """Two visible objects A and B (the two largest with clean sources): each alone, and both mixed,
    each at one of the levels; the expected mask is the union of the sounding ones."""

    name = "mix"

    def __init__(self, *, levels_lufs: Sequence[float] = DEFAULT_LEVELS_LUFS) -> None:
        self.levels_lufs = _levels(levels_lufs)

    def params(self) -> dict:
        return {"levels_lufs": list(self.levels_lufs)}

    def conditions(self) -> list[Condition]:
        out = [Condition(self.name, "original", 0, {}, True)]
        for who in ("A", "B"):
            out += [Condition(self.name, f"{who}@{v:g}", len(out), {who: v}) for v in self.levels_lufs]
        out += [Condition(self.name, f"A@{a:g}+B@{b:g}", len(out), {"A": a, "B": b})
                for a in self.levels_lufs for b in self.levels_lufs]
        return out

    @staticmethod
    def pair(sample: AVSample) -> tuple[ObjectInfo, ObjectInfo]:
        """A and B: the two largest objects with clean sources (ties broken by id), A the larger."""
        objects = sorted(_with_sources(sample), key=lambda o: (-int(o.mask.sum()), o.object_id))
        if len(objects) < 2:
            raise ProbeNotApplicable(f"mix: sample {sample.sample_id!r} has fewer than two objects with clean sources")
        return objects[0], objects[1]

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        a, b = self.pair(sample)
        masks = {"A": a.mask.copy(), "B": b.mask.copy()}
        applied: dict = {"A": a.object_id, "A_class": a.class_name, "B": b.object_id, "B_class": b.class_name}
        if condition.is_baseline:
            probed = self._baseline(sample, condition, masks)
            probed.applied.update(applied)
            return probed
        chosen = [(who, obj) for who, obj in (("A", a), ("B", b)) if who in condition.params]
        result = mix_at_loudness([_source(sample, o) for _, o in chosen], [condition.params[w] for w, _ in chosen])
        expected = np.zeros_like(sample.mask)
        for _, obj in chosen:
            expected |= obj.mask
        for (who, _), gain, level in zip(chosen, result.gains_db, result.source_loudness, strict=True):
            applied[f"{who}_gain_db"], applied[f"{who}_loudness_lufs"] = gain, level
        applied["clipped_fraction"] = result.clipped_fraction
        labels = labels_from([(o.mask, o.class_name) for _, o in chosen], sample.mask.shape, class_names_of(sample))
        return _probed(sample, condition, result.audio, expected, masks, applied, labels=labels)


def visible_classes(sample: AVSample) -> set[str] | None:
    """Every class on screen in the clip (``AVSample.visible_classes``, else its objects' classes), or
    None when the source cannot tell."""
    if sample.visible_classes is not None:
        return set(sample.visible_classes) | {o.class_name for o in sample.objects}
    if sample.objects:
        return {o.class_name for o in sample.objects}
    return None


def _prior_objects(sample: AVSample) -> tuple[dict[str, np.ndarray], dict[str, str], list[str]]:
    """What a visual prior would segment, as ``(masks, classes, silent ids)``: the sample's objects where it
    knows them (bias lab); else one object per class of its semantic mask (AVSS: ``a_obj`` strings such as
    ``man_guitar_dog`` name no class); else its ground truth as ``"gt"`` of its category (S4, MS3)."""
    if sample.objects:
        return ({o.object_id: o.mask.copy() for o in sample.objects}, {o.object_id: o.class_name for o in sample.objects},
                sorted(o.object_id for o in sample.objects if not o.is_sounding))
    if sample.semantic_mask is not None:
        names = class_names_of(sample)
        ids = sorted(set(np.unique(sample.semantic_mask[sample.annotated]).tolist()) - {0})
        return {names[i]: sample.semantic_mask == i for i in ids}, {names[i]: names[i] for i in ids}, []
    return {"gt": sample.mask.copy()}, {"gt": sample.category}, []


OFFSCREEN_POLICIES = ("absent-class", "other-category")
BROAD_CATEGORY = {
    "guitar": "music", "tabla": "music", "violin": "music", "ukulele": "music", "piano": "music", "marimba": "music",
    "man": "human", "woman": "human", "baby": "human", "dog": "animal", "cat": "animal",
    "lion": "animal", "bird": "animal", "wolf": "animal", "horse": "animal", "mower": "device", "bus": "device",
    "car": "device", "gun": "device", "saw": "device", "emergency-car": "device", "keyboard": "device",
    "helicopter": "device",
}
"""AVSBench-Robust's broad categories (jiali-home/AVSBench-Robust@03e925d, ``dataset_generation/
audio_processing.py``, ``get_semantic_category``: its MS3 table, and its S4 table through the S4-to-AVSS class
map, which adds horse and helicopter; its glockenspiel maps to marimba). A class not listed has no category."""
LEAST_SUITABLE = {"s4": {"music": "human", "human": "music", "animal": "human", "device": "vehicle"},
                  "ms3": {"music": "human", "human": "music", "animal": "human", "device": "music"}}
"""The category each one must not draw its off-screen donor from (same file: ``process_s4_split`` and the MS3
routine); data other than S4 follows the MS3 table."""


def offscreen_candidates(bank_classes: Sequence[str], visible: set[str], policy: str, subset: str) -> list[str]:
    """Bank classes an off-screen partner may come from: ``absent-class``, any class not on screen;
    ``other-category``, as AVSBench-Robust draws it, classes whose broad category is neither one on screen
    nor the least suitable contrast of one (falling back to any absent class where none is left, as its MS3
    routine falls back to any other video)."""
    absent = [c for c in bank_classes if c not in visible]
    if policy == "absent-class":
        return absent
    groups = {BROAD_CATEGORY[c] for c in visible if c in BROAD_CATEGORY}
    avoid = groups | {LEAST_SUITABLE["s4" if subset == "s4" else "ms3"].get(g, "") for g in groups}
    contrast = [c for c in absent if BROAD_CATEGORY.get(c) is not None and BROAD_CATEGORY[c] not in avoid]
    return contrast or absent


class NegativeProbe(Probe):
    """Audio that should make a model segment nothing: silence (digital zeros), white and pink noise at the
    reference loudness, the clean source of a class absent from the whole clip (needs an audio bank), and the
    data's background bed alone (``background``: where the data declares one, ``meta["background_noise_lufs"]``).

    Off-screen: the partner class is drawn among the bank classes that are not visible in any frame
    (:func:`visible_classes`; ``offscreen_policy="absent-class"``, the default) or, with ``"other-category"``,
    among those of another broad category as AVSBench-Robust draws them (:func:`offscreen_candidates`);
    ``applied`` records ``partner_class`` and ``visible_classes``. A clip whose visible classes are unknown, or
    that shows every bank class, is ``not_applicable`` for it.

    ``object_masks`` holds every visible object (by id; ``applied["object_classes"]`` gives their classes),
    for AVSS data one object per class of the label masks, or, for binary data, the usual ground truth as
    ``"gt"``: what a visual prior would segment.
    """

    name = "negative"

    def __init__(self, *, reference_lufs: float = REFERENCE_LUFS, bank: object | None = None,
                 offscreen_policy: str = "absent-class") -> None:
        if offscreen_policy not in OFFSCREEN_POLICIES:
            raise ConfigError(f"negative: offscreen_policy {offscreen_policy!r} is not one of "
                              f"{', '.join(OFFSCREEN_POLICIES)}")
        self.reference_lufs = _lufs(reference_lufs)
        self.bank = bank
        self.offscreen_policy = offscreen_policy

    def params(self) -> dict:
        params = {"reference_lufs": self.reference_lufs, "bank": bool(self.bank)}
        if self.offscreen_policy != "absent-class":  # the default stays out: earlier run folders keep their identity
            params["offscreen_policy"] = self.offscreen_policy
        return params

    def conditions(self) -> list[Condition]:
        return [Condition(self.name, "original", 0, {}, True), Condition(self.name, "silence", 1, {"kind": "silence"}),
                Condition(self.name, "white", 2, {"kind": "white"}), Condition(self.name, "pink", 3, {"kind": "pink"}),
                Condition(self.name, "offscreen", 4, {"kind": "offscreen"}),
                Condition(self.name, "background", 5, {"kind": "background"})]

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        masks, classes, silent = _prior_objects(sample)
        if condition.is_baseline:
            probed = self._baseline(sample, condition, masks)
            probed.applied.update({"object_classes": classes, "silent_objects": silent})
            return probed
        kind = condition.params["kind"]
        applied: dict = {"object_classes": classes, "kind": kind}
        duration_s = sample.audio.shape[0] / sample.sample_rate_hz
        if kind == "silence":
            audio = np.zeros_like(sample.audio)
        elif kind == "background":
            # the data's own "nothing sounds" (the bias lab's faint pink bed under every clip): in distribution,
            # where digital silence is not
            bed_lufs = sample.meta.get("background_noise_lufs")
            if bed_lufs is None:
                raise ProbeNotApplicable(f"negative/background: {sample.sample_id!r} declares no background bed "
                                         "(only worlds that mix one under every clip, such as the bias lab, do)")
            result = noise_at_loudness("pink", duration_s, float(bed_lufs), rng)
            audio, applied["gain_db"] = result.audio[: sample.audio.shape[0]], result.gain_db
            applied["background_lufs"] = float(bed_lufs)
        elif kind in ("white", "pink"):
            result = noise_at_loudness(kind, duration_s, self.reference_lufs, rng)
            audio, applied["gain_db"] = result.audio[: sample.audio.shape[0]], result.gain_db
        else:
            if self.bank is None:
                raise ProbeNotApplicable("negative/offscreen needs an audio bank of clean clips (none was given)")
            visible = visible_classes(sample)
            if visible is None:
                raise ProbeNotApplicable(f"negative/offscreen: the classes on screen in {sample.sample_id!r} are "
                                         "unknown (binary masks without classes), so no absent class can be chosen")
            applied["visible_classes"] = sorted(visible)
            absent = offscreen_candidates(self.bank.classes(), visible, self.offscreen_policy, sample.subset)
            if not absent:
                raise ProbeNotApplicable(f"negative/offscreen: every bank class ({', '.join(self.bank.classes())}) "
                                         f"is on screen in {sample.sample_id!r}")
            cls = absent[int(rng.integers(len(absent)))]
            clip = self.bank.sample(cls, rng)
            raw = np.resize(self.bank.load(clip), sample.audio.shape)
            result = normalize_loudness(raw, self.reference_lufs, what=f"off-screen clip {clip.clip_id!r}")
            audio = result.audio
            applied.update({"partner": clip.clip_id, "partner_class": cls, "gain_db": result.gain_db})
        return _probed(sample, condition, audio, np.zeros_like(sample.mask), masks, applied,
                       labels=np.zeros(sample.mask.shape, dtype=np.int16))


class SwapProbe(Probe):
    """The audio replaced by the clean source of another visible object that was silent, at the loudness
    of the original audio: a model that follows the sound moves its mask to that object."""

    name = "swap"

    def __init__(self, *, reference_lufs: float = REFERENCE_LUFS) -> None:
        self.reference_lufs = _lufs(reference_lufs)

    def params(self) -> dict:
        return {"reference_lufs": self.reference_lufs}

    def conditions(self) -> list[Condition]:
        return [Condition(self.name, "original", 0, {}, True), Condition(self.name, "swapped", 1, {})]

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        sounding = sounding_objects(sample)
        silent = [o for o in _with_sources(sample) if not o.is_sounding]
        if not sounding or not silent:
            raise ProbeNotApplicable(f"swap: sample {sample.sample_id!r} needs a sounding object and a silent one "
                                     "with a clean source")
        old = np.zeros_like(sample.mask)
        for o in sounding:
            old |= o.mask
        partner = silent[int(rng.integers(len(silent)))]
        masks = {"new": partner.mask.copy(), "old": old}
        if condition.is_baseline:
            return self._baseline(sample, condition, masks)
        level = measure_loudness(sample.audio).value
        target = level if np.isfinite(level) else self.reference_lufs
        result = normalize_loudness(_source(sample, partner), target, what=f"source of {partner.object_id!r}")
        return _probed(sample, condition, result.audio, partner.mask.copy(), masks, {
            "partner": partner.object_id, "partner_class": partner.class_name,
            "replaced": [o.object_id for o in sounding], "gain_db": result.gain_db,
            "loudness_lufs": result.after.value, "clipped_fraction": result.clipped_fraction},
            labels=labels_from([(partner.mask, partner.class_name)], sample.mask.shape, class_names_of(sample)))
