"""The Co-AVS builder: a multi-source test set whose audio is a mix of two clean sources at set levels.

Paper §5 and supplement A.1: 450 five-second videos, each with exactly two semantic classes of one instance
each, the original audio replaced by a mix of clean clips of those two classes, each at one of six loudness
levels. Here the 36 level pairs are balanced (each used 12 or 13 times for 450 videos, and each level of either
source 75 times), every choice comes
from the seed, and the set is written in the AVSS layout (label ``coavs``) with per-source masks and levels
in ``objects.json``, a ``manifest.csv`` and a content hash, so two labs can check they built the same set.

Scenes come from an AVSS-layout tree: the bias lab (whose objects are known, silent ones included) or
AVSBench-semantic (sounding classes from the colour masks). A scene qualifies when it holds exactly two
classes and each forms one connected component in every annotated frame. Every video is 5 s and 5
frames, as the paper's: a 10-s AVSS v2 scene contributes its first 5 frames and first 5 s (and qualifies
on those), a shorter scene none, and a clean clip shorter than 5 s is padded with silence, never looped.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avsprobe.audio.gain import apply_gain_db
from avsprobe.audio.io import load_audio, save_audio
from avsprobe.audio.loudness import DEFAULT_LEVELS_LUFS
from avsprobe.audio.mixing import mix_at_loudness
from avsprobe.data.fingerprint import content_hash as tree_hash
from avsprobe.data.palette import AVSS_CLASSES, avss_class_index, avss_palette
from avsprobe.errors import DataError
from avsprobe.fileio import atomic_dir
from avsprobe.parallel import parallel_map
from avsprobe.seeding import rng_for
from avsprobe.types import AVSample

__all__ = ["Scene", "SCENE_FRAMES", "first_seconds", "scene_of", "find_scenes", "level_pair_schedule",
           "schedule_summary", "build_coavs",
           "content_hash"]

LABEL = "coavs"
SCENE_FRAMES = 5
"""Frames (one a second) of every Co-AVS video."""


@dataclass(frozen=True)
class Scene:
    """A qualifying source clip: its id, and its two classes with their masks ``bool [T, H, W]``."""

    sample: AVSample
    classes: tuple[str, str]
    masks: tuple[np.ndarray, np.ndarray]


def _one_component(mask: np.ndarray, annotated: np.ndarray) -> bool:
    from scipy import ndimage

    eight = np.ones((3, 3), dtype=bool)
    return all(ndimage.label(mask[t], structure=eight)[1] == 1 for t in np.flatnonzero(annotated))


def first_seconds(sample: AVSample, frames: int) -> AVSample:
    """The sample cut to its first ``frames`` frames and as many seconds of audio (one frame a second)."""
    if sample.num_frames == frames:
        return sample
    samples = frames * sample.sample_rate_hz
    objects = tuple(dataclasses.replace(o, mask=o.mask[:frames]) for o in sample.objects)
    return dataclasses.replace(
        sample, frames=sample.frames[:frames], audio=sample.audio[:samples], mask=sample.mask[:frames],
        annotated=sample.annotated[:frames], objects=objects,
        semantic_mask=None if sample.semantic_mask is None else sample.semantic_mask[:frames],
        meta={**sample.meta, "cut_to_frames": frames})


def scene_of(sample: AVSample, frames: int = SCENE_FRAMES) -> Scene | None:
    """The sample's first ``frames`` frames as a Co-AVS scene, or None if the sample is shorter or they do
    not hold exactly two single-component classes."""
    if sample.num_frames < frames or sample.audio.shape[0] < frames * sample.sample_rate_hz:
        return None
    sample = first_seconds(sample, frames)
    if sample.objects:
        names = [o.class_name for o in sample.objects]
        if len(names) != 2 or len(set(names)) != 2:
            return None
        masks = [o.mask for o in sample.objects]
    elif sample.semantic_mask is not None:
        ids = set(np.unique(sample.semantic_mask[sample.annotated]).tolist()) - {0}
        if len(ids) != 2:
            return None
        class_names = sample.meta.get("class_names", AVSS_CLASSES)
        # roles A and B by class name, so the same content builds the same set under any label2idx.json order
        named = sorted((class_names[i], i) for i in ids)
        names = [name for name, _ in named]
        masks = [sample.semantic_mask == i for _, i in named]
    else:
        return None
    if not all(_one_component(m, sample.annotated) for m in masks):
        return None
    return Scene(sample, (names[0], names[1]), (masks[0], masks[1]))


def find_scenes(reader: object) -> list[Scene]:
    """Every qualifying scene of a reader (``sample_ids()`` / ``read()``), in its order."""
    scenes = []
    for sample_id in reader.sample_ids():  # type: ignore[attr-defined]
        scene = scene_of(reader.read(sample_id))  # type: ignore[attr-defined]
        if scene is not None:
            scenes.append(scene)
    return scenes


def level_pair_schedule(videos: int, levels: Sequence[float], seed: int) -> list[tuple[float, float]]:
    """``videos`` level pairs: every ordered pair of ``levels`` used ``videos // n^2`` or one more times, and
    every level of A and of B used ``videos // n`` or one more times, in an order shuffled by the seed.

    The pairs beyond the whole rounds come diagonal by diagonal of the n x n grid (diagonal k pairs A level
    i with B level i + k mod n, so each diagonal uses every level of A and of B once); the diagonals' order
    and the part taken of the last one are drawn from the seed. So 24 videos over 6 levels use 24 distinct
    pairs with each level of A and of B 4 times, never the first 24 pairs of the grid (A never louder
    than -35 LUFS).
    """
    n = len(levels)
    rounds, extra = divmod(videos, n * n)
    schedule = [(a, b) for _ in range(rounds) for a in levels for b in levels]
    rng = rng_for(seed, "coavs", "level-pairs")
    if extra:
        diagonals = rng.permutation(n)
        cells = [(i, (i + int(k)) % n) for k in diagonals for i in rng.permutation(n)]
        schedule += [(levels[i], levels[j]) for i, j in cells[:extra]]
    order = rng.permutation(videos)
    return [schedule[i] for i in order]


def schedule_summary(pairs: Sequence[tuple[float, float]], levels: Sequence[float]) -> str:
    """What a schedule covers, in words: pair counts and per-level counts of A and of B."""
    counts = [sum(1 for p in pairs if p == (a, b)) for a in levels for b in levels]
    a_counts = [sum(1 for p in pairs if p[0] == a) for a in levels]
    b_counts = [sum(1 for p in pairs if p[1] == b) for b in levels]

    def span(values: list[int]) -> str:
        low, high = min(values), max(values)
        return f"{low}" if low == high else f"{low}-{high}"

    used = [c for c in counts if c]
    return (f"{len(used)} of {len(counts)} level pairs used, each {span(used)} times; each level of A used "
            f"{span(a_counts)} times, of B {span(b_counts)} times")


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """``audio`` cut to ``samples``, or padded with silence to it (never looped)."""
    if audio.shape[0] >= samples:
        return audio[:samples]
    return np.concatenate([audio, np.zeros(samples - audio.shape[0], dtype=audio.dtype)])


def _write_video(args: tuple) -> dict[str, object]:
    root, vid, scene, clips, levels, bank_paths = args
    sample: AVSample = scene.sample
    folder = Path(root) / LABEL / vid
    for sub in ("frames", "labels_rgb", "instances", "sources"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    sources = [_fit_length(load_audio(p).audio, sample.audio.shape[0]) for p in bank_paths]
    mixed = mix_at_loudness(sources, list(levels))
    instances = np.zeros(sample.mask.shape, dtype=np.uint8)
    for k, mask in enumerate(scene.masks):
        instances[mask] = k + 1
    lut = np.zeros((256, 3), dtype=np.uint8)
    for k, cls in enumerate(scene.classes):
        lut[k + 1] = avss_palette()[avss_class_index(cls)]
    for t in range(sample.num_frames):
        (folder / "frames" / f"{t}.png").write_bytes(_png(sample.frames[t]))
        (folder / "labels_rgb" / f"{t}.png").write_bytes(_png(lut[instances[t]]))
        (folder / "instances" / f"{t}.png").write_bytes(_png(instances[t]))
    objects = []
    for k, (name, cls) in enumerate(zip(("A", "B"), scene.classes, strict=True)):
        levelled = np.clip(apply_gain_db(sources[k], mixed.gains_db[k]), -1, 1).astype(np.float32)
        save_audio(folder / "sources" / f"{name}.wav", levelled)
        objects.append({"object_id": name, "class_name": cls, "avss_index": avss_class_index(cls),
                        "instance_value": k + 1, "is_sounding": True, "loudness_lufs": round(mixed.source_loudness[k], 4),
                        "target_loudness_lufs": levels[k], "gain_db": round(mixed.gains_db[k], 4),
                        "clip": clips[k], "source": f"sources/{name}.wav"})
    save_audio(folder / "audio.wav", mixed.audio)
    (folder / "objects.json").write_text(json.dumps(
        {"uid": vid, "split": "test", "scene": sample.sample_id, "objects": objects,
         "mixture": {"clipped_fraction": round(mixed.clipped_fraction, 6)}}, indent=1, sort_keys=True) + "\n")
    return {"video": vid, "scene": sample.sample_id, "class_a": scene.classes[0], "level_a": levels[0],
            "clip_a": clips[0], "class_b": scene.classes[1], "level_b": levels[1], "clip_b": clips[1]}


def content_hash(root: str | Path, *, exclude: Sequence[str] = ("coavs.json",)) -> str:
    """sha256 over every file's relative path and sha256, in sorted order (``coavs.json`` left out: it holds
    the hash)."""
    return tree_hash(root, exclude=tuple(exclude))


def build_coavs(
    out_dir: str | Path,
    scenes: Sequence[Scene],
    bank: object,
    *,
    videos: int = 450,
    levels_lufs: Sequence[float] | None = None,
    seed: int = 0,
    source: str = "",
    source_root: str | Path | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Build the set into ``out_dir`` (atomically) and return ``coavs.json`` (with ``content_hash``).

    Args:
        scenes: qualifying scenes (``find_scenes``); reused round-robin in a seeded order.
        bank: an ``AudioBank`` with clean clips of the scenes' classes.
        videos: how many videos (450 in the paper).
        levels_lufs: the loudness levels (default: the six of the intensity probe).
        seed: every choice (scene order, level pairs, clean clips) derives from it.
        source: a description of where the scenes came from, recorded in ``coavs.json``.
        source_root: the folder of the scenes (lets a report compare with the original audio).
    """
    levels = tuple(levels_lufs or DEFAULT_LEVELS_LUFS)
    if not scenes:
        raise DataError("no scene with exactly two classes of one connected instance each was found")
    usable = [s for s in scenes if all(c in bank.classes() for c in s.classes)]  # type: ignore[attr-defined]
    if not usable:
        raise DataError("the audio bank has no clips for the classes of any qualifying scene")
    pairs = level_pair_schedule(videos, levels, seed)
    order = rng_for(seed, "coavs", "scenes").permutation(len(usable))
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        jobs = []
        for i in range(videos):
            scene = usable[order[i % len(usable)]]
            rng = rng_for(seed, "coavs", "clips", i)
            clips = [bank.sample(cls, rng) for cls in scene.classes]  # type: ignore[attr-defined]
            jobs.append((str(tmp), f"coavs_{i:04d}", scene, tuple(c.clip_id for c in clips), pairs[i],
                         tuple(str(c.path) for c in clips)))
        rows = parallel_map(_write_video, jobs, workers=workers, chunksize=8, on_progress=on_progress)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        (tmp / "manifest.csv").write_text(buf.getvalue())
        meta = io.StringIO()
        csv.writer(meta, lineterminator="\n").writerows(
            [["vid", "uid", "s_min", "s_sec", "a_obj", "split", "label"]]
            + [[r["video"], r["video"], 0, 0, "_".join(sorted([str(r["class_a"]), str(r["class_b"])])), "test", LABEL]
               for r in rows])
        (tmp / "metadata.csv").write_text(meta.getvalue())
        counts: dict[str, int] = {}
        for a, b in pairs:
            counts[f"{a:g}/{b:g}"] = counts.get(f"{a:g}/{b:g}", 0) + 1
        info = {"name": "coavs", "videos": videos, "seed": seed, "levels_lufs": list(levels), "source": source,
                "balance": schedule_summary(pairs, levels),
                "source_root": str(Path(source_root).resolve()) if source_root else None,
                "scenes_available": len(usable), "level_pair_counts": counts, "content_hash": content_hash(tmp)}
        (tmp / "coavs.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    return info
