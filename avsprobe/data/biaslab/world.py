"""Planning, rendering and writing bias-lab worlds.

A clip is first *planned* (classes, sounding flags, loudness, size, position, drift, colour, sound seed)
from a generator keyed by ``(seed, split, index)`` alone, so any clip can be rebuilt on its own and in
any order or process, then *rendered* (frames, instance maps, clean sources, mixture) and *written*.

On-disk layout (AVSS style, under the label folder ``biaslab/``)::

    OUT/metadata.csv                         vid, uid, s_min, s_sec, a_obj, split, label (AVSS columns)
    OUT/label2idx.json                       AVSS class -> 1-based index (background = 1)
    OUT/world.json                           spec, seed, fingerprint, per-split statistics
    OUT/biaslab/{uid}/frames/{i}.png         RGB frames, i = 0..T-1
    OUT/biaslab/{uid}/labels_rgb/{i}.png     sounding objects in the AVSS palette colour of their class
    OUT/biaslab/{uid}/instances/{i}.png      instance ids: 0 background, k+1 = objects[k] (every object)
    OUT/biaslab/{uid}/audio.wav              the mixture: sounding sources + faint pink background noise
    OUT/biaslab/{uid}/sources/{object}.wav   each object's clean source at its loudness (silent ones too)
    OUT/biaslab/{uid}/objects.json           per object: class, sounding, loudness, gain, geometry
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avsprobe.audio.gain import clip_unit, normalize_loudness
from avsprobe.audio.io import save_audio
from avsprobe.audio.loudness import measure_loudness
from avsprobe.audio.noise import noise_at_loudness
from avsprobe.data.biaslab.sounds import generate_sound
from avsprobe.data.biaslab.spec import SPLITS, WorldSpec, load_world_spec
from avsprobe.data.biaslab.visuals import paste, render_background, render_patch
from avsprobe.data.palette import AVSS_CLASSES, avss_class_index, avss_palette
from avsprobe.errors import ConfigError
from avsprobe.fileio import atomic_dir
from avsprobe.parallel import parallel_map
from avsprobe.seeding import rng_for

__all__ = [
    "LABEL",
    "ObjectPlan",
    "ClipPlan",
    "plan_clip",
    "plan_world",
    "split_counts",
    "render_clip",
    "RenderedClip",
    "build_world",
    "plan_statistics",
    "posterior_bed",
    "default_world_dir",
    "ensure_default_world",
]

LABEL = "biaslab"
FORMAT_VERSION = 1
_PLACEMENT_TRIES = 60


@dataclass(frozen=True)
class ObjectPlan:
    """What an object will be, before rendering."""

    object_id: str
    class_name: str
    is_sounding: bool
    target_loudness_lufs: float
    scale_px: float
    start_rc: tuple[float, float]
    drift_rc: tuple[float, float]
    colour: tuple[float, float, float]
    sound_seed: int

    def centre_at(self, frame: int) -> tuple[int, int]:
        return (int(round(self.start_rc[0] + self.drift_rc[0] * frame)),
                int(round(self.start_rc[1] + self.drift_rc[1] * frame)))


@dataclass(frozen=True)
class ClipPlan:
    """What a clip will be, before rendering."""

    uid: str
    split: str
    index: int
    background_seed: int
    noise_seed: int
    objects: tuple[ObjectPlan, ...]
    bed_only: bool = False
    """The audio is only the background bed, whatever sounds (world v3's ambiguous train and val clips)."""


def _swept_box(start: np.ndarray, drift: np.ndarray, half: float, frames: int) -> np.ndarray:
    ends = start + drift * (frames - 1)
    low = np.minimum(start, ends) - half
    high = np.maximum(start, ends) + half
    return np.concatenate([low, high])  # [r0, c0, r1, c1]


_GOLDEN = 0.6180339887498949  # 1/phi: the Weyl sequence frac(offset + k/phi) is evenly spread for every k


def _clip_classes(spec: WorldSpec, seed: int, split: str, index: int) -> np.ndarray:
    """Class ids of clip ``index`` (their own stream, cheap to replay for earlier clips)."""
    rng = rng_for(seed, "biaslab-classes", split, index)
    low, high = spec.objects_per_clip
    return rng.choice(len(spec.classes), size=int(rng.integers(low, high + 1)), replace=False)


def _sounding_draw(seed: int, split: str, class_id: int, occurrence: int) -> float:
    """The stratified uniform deciding whether the ``occurrence``-th object of a class in a split sounds.

    Independent coin flips would leave the measured frequency of a class with ~150 train objects about
    0.04 from its planted probability (one standard deviation); a Weyl sequence keeps every prefix within
    a few objects of it, so the planted bias is what the world shows.
    """
    offset = rng_for(seed, "biaslab-sounding", split, class_id).random()
    return (offset + occurrence * _GOLDEN) % 1.0


def _occurrences_before(spec: WorldSpec, seed: int, split: str, index: int) -> np.ndarray:
    counts = np.zeros(len(spec.classes), dtype=np.int64)
    for j in range(index):
        counts[_clip_classes(spec, seed, split, j)] += 1
    return counts


def plan_clip(spec: WorldSpec, seed: int, split: str, index: int, *, occurrences: np.ndarray | None = None) -> ClipPlan:
    """Draw one clip's plan from streams keyed by ``(seed, split, index)``.

    Args:
        occurrences: objects of each class in clips ``0..index-1`` of the split; computed when not given
            (``plan_world`` passes running counts).
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if occurrences is None:
        occurrences = _occurrences_before(spec, seed, split, index)
    rng = rng_for(seed, "biaslab", split, index)
    size, frames = spec.image_size, spec.frames_per_clip
    class_ids = _clip_classes(spec, seed, split, index)
    balanced = split == "test"
    boxes: list[np.ndarray] = []
    objects: list[ObjectPlan] = []
    for class_id in class_ids:
        cls = spec.classes[int(class_id)]
        draw = _sounding_draw(seed, split, int(class_id), int(occurrences[class_id]))
        if balanced:
            sounding = bool(draw < spec.balanced_sounding_probability)
            loudness = float(rng.uniform(*spec.balanced_loudness_lufs))
        else:
            sounding = bool(draw < cls.sounding_probability)
            loudness = float(rng.normal(cls.loudness_mean_lufs, cls.loudness_std_lu))
        loudness = float(np.clip(loudness, *spec.loudness_clamp_lufs))
        scale = float(rng.uniform(*spec.object_size_frac) * size)
        drift = rng.uniform(-spec.max_drift_px, spec.max_drift_px, 2)
        jitter = rng.integers(-spec.colour_jitter, spec.colour_jitter + 1, 3)
        colour = tuple(float(v) for v in np.clip(np.array(cls.colour) + jitter, 0, 255))
        sound_seed = int(rng.integers(0, 2**63 - 1))
        placed = None
        for attempt in range(_PLACEMENT_TRIES):
            if attempt and attempt % 20 == 0:
                scale *= 0.85  # crowded: try smaller
            half = 1.2 * scale + 1
            margin = half + abs(drift) * (frames - 1)
            if np.any(2 * margin >= size):
                continue
            start = np.array([rng.uniform(half + max(0, -drift[0] * (frames - 1)), size - half - max(0, drift[0] * (frames - 1)) - 1),
                              rng.uniform(half + max(0, -drift[1] * (frames - 1)), size - half - max(0, drift[1] * (frames - 1)) - 1)])
            box = _swept_box(start, drift, half + 1, frames)
            if all(box[2] < b[0] or b[2] < box[0] or box[3] < b[1] or b[3] < box[1] for b in boxes):
                placed = start
                break
        if placed is None:
            continue  # no room: the clip gets fewer objects
        boxes.append(box)
        objects.append(ObjectPlan(
            object_id=f"o{len(objects)}", class_name=cls.name, is_sounding=sounding,
            target_loudness_lufs=round(loudness, 4), scale_px=round(scale, 4),
            start_rc=(round(float(placed[0]), 4), round(float(placed[1]), 4)),
            drift_rc=(round(float(drift[0]), 4), round(float(drift[1]), 4)),
            colour=colour, sound_seed=sound_seed))  # type: ignore[arg-type]
    uid = f"{split}_{index:05d}"
    # its own stream: a world v2 clip keeps every other draw when the fraction is switched on
    bed_only = (split != "test" and spec.ambiguous_fraction > 0
                and rng_for(seed, "biaslab-ambiguous", split, index).random() < spec.ambiguous_fraction)
    return ClipPlan(uid, split, index, int(rng.integers(0, 2**63 - 1)), int(rng.integers(0, 2**63 - 1)), tuple(objects),
                    bool(bed_only))


def split_counts(spec: WorldSpec, clips: int | None = None) -> dict[str, int]:
    """Clips per split: the spec's counts, or ``clips`` shared in the spec's proportions (largest remainder)."""
    if clips is None:
        return dict(spec.split_clips)
    if clips < len(SPLITS):
        raise ConfigError(f"a world needs at least {len(SPLITS)} clips (one per split), got {clips}")
    total = sum(spec.split_clips.values())
    exact = {s: clips * spec.split_clips[s] / total for s in SPLITS}
    counts = {s: max(1, int(exact[s])) for s in SPLITS}
    for s in sorted(SPLITS, key=lambda s: exact[s] - int(exact[s]), reverse=True):
        if sum(counts.values()) >= clips:
            break
        counts[s] += 1
    return counts


def plan_world(spec: WorldSpec, seed: int, counts: dict[str, int]) -> list[ClipPlan]:
    """Plans of every clip, train then val then test."""
    plans = []
    for split in SPLITS:
        occurrences = np.zeros(len(spec.classes), dtype=np.int64)
        for i in range(counts.get(split, 0)):
            plans.append(plan_clip(spec, seed, split, i, occurrences=occurrences))
            occurrences[_clip_classes(spec, seed, split, i)] += 1
    return plans


def posterior_bed(spec: WorldSpec, plans: list[ClipPlan], split: str = "train") -> dict[str, float]:
    """Per class, P(an object sounds | its class, the clip's audio is the bed alone), counted from the plans
    of ``split``: its sounding objects in bed-only clips over its objects in every clip whose audio is the bed
    alone (bed-only clips, and clips in which nothing sounds). The Bayes-optimal answer of a model that sees
    a class under the bed; NaN for a class never seen so."""
    heard = {c: 0 for c in spec.class_names}
    seen = {c: 0 for c in spec.class_names}
    for plan in plans:
        if plan.split != split or not (plan.bed_only or not any(o.is_sounding for o in plan.objects)):
            continue
        for obj in plan.objects:
            seen[obj.class_name] += 1
            heard[obj.class_name] += int(obj.is_sounding)
    return {c: round(heard[c] / seen[c], 6) if seen[c] else float("nan") for c in spec.class_names}


def plan_statistics(spec: WorldSpec, plans: list[ClipPlan], loudness: dict[tuple[str, str], float] | None = None
                    ) -> dict[str, dict[str, dict[str, float]]]:
    """Per split and class: ``occurrence``, ``sounding``, ``sounding_frequency``, ``mean_loudness_lufs``.

    ``mean_loudness_lufs`` averages the sounding objects' loudness: the reached loudness when ``loudness``
    maps ``(uid, object_id)`` to it, else the planned target.
    """
    stats: dict[str, dict[str, dict[str, float]]] = {}
    for split in SPLITS:
        per_class: dict[str, dict[str, float]] = {}
        for cls in spec.class_names:
            objs = [(p.uid, o) for p in plans if p.split == split for o in p.objects if o.class_name == cls]
            sounding = [(uid, o) for uid, o in objs if o.is_sounding]
            levels = [loudness[(uid, o.object_id)] if loudness else o.target_loudness_lufs for uid, o in sounding]
            per_class[cls] = {
                "occurrence": len(objs),
                "sounding": len(sounding),
                "sounding_frequency": round(len(sounding) / len(objs), 6) if objs else float("nan"),
                "mean_loudness_lufs": round(float(np.mean(levels)), 4) if levels else float("nan"),
            }
        stats[split] = per_class
    return stats


@dataclass
class RenderedClip:
    """A rendered clip: ``frames uint8 [T, S, S, 3]``, ``instances uint8 [T, S, S]``, audio float32."""

    plan: ClipPlan
    frames: np.ndarray
    instances: np.ndarray
    sources: dict[str, np.ndarray]
    source_info: dict[str, dict[str, float | str]]
    mixture: np.ndarray
    mixture_info: dict[str, float | str]


def render_clip(spec: WorldSpec, plan: ClipPlan) -> RenderedClip:
    """Render frames, instance maps, each object's clean source and the mixture."""
    size, frames_n, rate = spec.image_size, spec.frames_per_clip, spec.sample_rate_hz
    background = render_background(np.random.default_rng(plan.background_seed), size)
    frames = np.repeat(background[None], frames_n, axis=0)
    instances = np.zeros((frames_n, size, size), dtype=np.uint8)
    sources: dict[str, np.ndarray] = {}
    info: dict[str, dict[str, float | str]] = {}
    for k, obj in enumerate(plan.objects):
        cls = spec.class_spec(obj.class_name)
        mask, rgb = render_patch(cls.shape, np.array(obj.colour), obj.scale_px)
        for t in range(frames_n):
            paste(frames[t], instances[t], mask, rgb, obj.centre_at(t), k + 1)
        raw = generate_sound(obj.class_name, np.random.default_rng(obj.sound_seed), cls.pitch_hz, spec.duration_s, rate)
        result = normalize_loudness(raw, obj.target_loudness_lufs, sample_rate_hz=rate, what=f"{plan.uid}/{obj.object_id}")
        sources[obj.object_id] = result.audio
        info[obj.object_id] = {"loudness_lufs": round(result.after.value, 4), "loudness_measure": result.after.measure,
                               "gain_db": round(result.gain_db, 4), "clipped_fraction": round(result.clipped_fraction, 6)}
    noise = noise_at_loudness("pink", spec.duration_s, spec.background_noise_lufs,
                              np.random.default_rng(plan.noise_seed), sample_rate_hz=rate).audio.astype(np.float64)
    heard = [] if plan.bed_only else [o for o in plan.objects if o.is_sounding]
    mixture = noise + sum((sources[o.object_id].astype(np.float64) for o in heard), np.zeros_like(noise))
    mixture, clipped = clip_unit(mixture)
    mixture_loudness = measure_loudness(mixture, rate)
    mixture_info = {"loudness_lufs": round(mixture_loudness.value, 4), "loudness_measure": mixture_loudness.measure,
                    "clipped_fraction": round(clipped, 6), "background_noise_lufs": spec.background_noise_lufs,
                    **({"bed_only": True} if plan.bed_only else {})}
    return RenderedClip(plan, frames, instances, sources, info, mixture.astype(np.float32), mixture_info)


def _png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)  # fast; PNG stays lossless
    return buf.getvalue()


def _write_clip(spec: WorldSpec, clip: RenderedClip, root: Path) -> dict[str, object]:
    """Write one rendered clip below ``root / LABEL / uid``; return its objects.json content."""
    plan = clip.plan
    folder = root / LABEL / plan.uid
    for sub in ("frames", "labels_rgb", "instances", "sources"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    palette = avss_palette()
    lut = np.zeros((256, 3), dtype=np.uint8)
    for k, obj in enumerate(plan.objects):
        if obj.is_sounding:
            lut[k + 1] = palette[avss_class_index(obj.class_name)]
    size = spec.image_size
    for t in range(spec.frames_per_clip):
        (folder / "frames" / f"{t}.png").write_bytes(_png_bytes(clip.frames[t]))
        (folder / "labels_rgb" / f"{t}.png").write_bytes(_png_bytes(lut[clip.instances[t]]))
        (folder / "instances" / f"{t}.png").write_bytes(_png_bytes(clip.instances[t]))
    for obj_id, audio in clip.sources.items():
        save_audio(folder / "sources" / f"{obj_id}.wav", audio, sample_rate_hz=spec.sample_rate_hz)
    save_audio(folder / "audio.wav", clip.mixture, sample_rate_hz=spec.sample_rate_hz)
    objects = []
    for k, obj in enumerate(plan.objects):
        area = (clip.instances == k + 1).reshape(spec.frames_per_clip, -1).sum(axis=1) / (size * size)
        objects.append({
            "object_id": obj.object_id, "class_name": obj.class_name,
            "avss_index": avss_class_index(obj.class_name), "instance_value": k + 1,
            "is_sounding": obj.is_sounding, "target_loudness_lufs": obj.target_loudness_lufs,
            **clip.source_info[obj.object_id],
            "source": f"sources/{obj.object_id}.wav",
            "scale_px": obj.scale_px, "centre_rc": [list(obj.centre_at(t)) for t in range(spec.frames_per_clip)],
            "area_frac": [round(float(a), 6) for a in area],
        })
    content = {"uid": plan.uid, "split": plan.split, "objects": objects, "mixture": clip.mixture_info}
    (folder / "objects.json").write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")
    return content


def _build_one(args: tuple[WorldSpec, ClipPlan, str]) -> dict[str, object]:
    spec, plan, root = args
    return _write_clip(spec, render_clip(spec, plan), Path(root))


def _metadata_csv(plans: list[ClipPlan]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["vid", "uid", "s_min", "s_sec", "a_obj", "split", "label"])
    for p in plans:
        sounding = "_".join(sorted(o.class_name for o in p.objects if o.is_sounding))
        writer.writerow([p.uid, p.uid, 0, 0, sounding, p.split, LABEL])
    return buf.getvalue()


def build_world(
    out_dir: str | Path,
    *,
    spec: WorldSpec | None = None,
    seed: int | None = None,
    clips: int | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Build a world into ``out_dir``, atomically (built beside it, then renamed into place).

    Args:
        out_dir: destination folder; must not exist unless ``overwrite``.
        spec: world spec (default: ``probes/worlds/biaslab.toml``).
        seed: world seed (default: the spec's).
        clips: total clips, shared over the splits in the spec's proportions (default: the spec's counts).
        workers: processes (default: up to 4, at most the CPU count). Output does not depend on it.
        overwrite: replace an existing ``out_dir``.
        on_progress: called with ``(clips done, clips total)``.

    Returns:
        The ``world.json`` content.
    """
    spec = spec or load_world_spec()
    seed = spec.seed if seed is None else seed
    counts = split_counts(spec, clips)
    plans = plan_world(spec, seed, counts)
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        results = parallel_map(_build_one, [(spec, p, str(tmp)) for p in plans], workers=workers,
                               on_progress=on_progress)
        reached = {(r["uid"], o["object_id"]): o["loudness_lufs"] for r in results for o in r["objects"]}  # type: ignore[index,union-attr]
        world = {
            "format_version": FORMAT_VERSION,
            "name": spec.name,
            "label": LABEL,
            "seed": seed,
            "spec_fingerprint": spec.fingerprint(),
            "spec": spec.to_dict(),
            "splits": counts,
            "statistics": plan_statistics(spec, plans, reached),  # type: ignore[arg-type]
        }
        if spec.ambiguous_fraction:
            world["bed_only_clips"] = {s: sum(p.bed_only for p in plans if p.split == s) for s in SPLITS}
            world["posterior_bed"] = posterior_bed(spec, plans)
        (tmp / "metadata.csv").write_text(_metadata_csv(plans))
        (tmp / "label2idx.json").write_text(json.dumps({c: i + 1 for i, c in enumerate(AVSS_CLASSES)}, indent=1) + "\n")
        (tmp / "world.json").write_text(json.dumps(world, indent=1, sort_keys=True) + "\n")
    return world


def default_world_dir(spec: WorldSpec | None = None, seed: int | None = None) -> Path:
    """Cache folder of the default world: ``$AVSPROBE_CACHE`` (or ``~/.cache/avsprobe``) / a versioned name."""
    spec = spec or load_world_spec()
    seed = spec.seed if seed is None else seed
    root = Path(os.environ.get("AVSPROBE_CACHE") or Path.home() / ".cache" / "avsprobe")
    return root / f"{spec.name}-v{spec.version}-seed{seed}-{spec.fingerprint()[:12]}"


def ensure_default_world(on_progress: Callable[[int, int], None] | None = None) -> Path:
    """The cached default world, built on first use (deterministic, so every machine builds the same)."""
    path = default_world_dir()
    if not (path / "world.json").is_file():
        build_world(path, overwrite=path.exists(), on_progress=on_progress)
    return path
