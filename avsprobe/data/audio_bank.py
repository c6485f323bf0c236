"""Audio banks: clean single-source clips grouped by class, for probes that swap or mix sources.

Three sources serve the same interface: AVSBench S4 (single-source by construction; its 23 categories map
to AVSS class names through ``s4_categories.toml``, overridable), AVSBench-semantic clips whose ``a_obj``
names exactly one class (for an AVSS tree without S4 beside it), and a bias-lab world (each object's clean
source, sounding or not).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avsprobe.audio.io import load_audio
from avsprobe.data.avsbench.readers import S4Reader, avss_object_classes, canonical_subset
from avsprobe.data.biaslab.reader import BiasLabWorld
from avsprobe.data.category_map import load_category_map
from avsprobe.data.palette import load_class_list
from avsprobe.errors import ConfigError, DataError

__all__ = ["BankClip", "AudioBank", "load_category_map", "s4_audio_bank", "avss_audio_bank", "biaslab_audio_bank"]


@dataclass(frozen=True)
class BankClip:
    """One clean clip: ``clip_id`` (unique in the bank), its class and its file."""

    clip_id: str
    class_name: str
    path: Path


class AudioBank:
    """Clean clips per class.

    Args:
        clips: the clips; their ids must be unique.
    """

    def __init__(self, clips: list[BankClip]) -> None:
        self._by_class: dict[str, list[BankClip]] = {}
        seen: set[str] = set()
        for clip in clips:
            if clip.clip_id in seen:
                raise DataError(f"duplicate clip id {clip.clip_id!r} in the audio bank")
            seen.add(clip.clip_id)
            self._by_class.setdefault(clip.class_name, []).append(clip)

    def classes(self) -> list[str]:
        return sorted(self._by_class)

    def clips(self, class_name: str) -> list[BankClip]:
        try:
            return list(self._by_class[class_name])
        except KeyError:
            raise DataError(f"no clips of class {class_name!r} in the audio bank; classes: "
                            f"{', '.join(self.classes())}") from None

    def sample(self, class_name: str, rng: np.random.Generator, *, exclude: set[str] = frozenset()) -> BankClip:
        """A clip of ``class_name`` drawn with ``rng``, other than the ids in ``exclude``."""
        candidates = [c for c in self.clips(class_name) if c.clip_id not in exclude]
        if not candidates:
            raise DataError(f"no clip of class {class_name!r} left after excluding {len(exclude)}")
        return candidates[int(rng.integers(len(candidates)))]

    @staticmethod
    def load(clip: BankClip) -> np.ndarray:
        """``float32 [N]`` mono 16 kHz audio of a clip."""
        return load_audio(clip.path).audio

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_class.values())


def s4_audio_bank(s4_root: str | Path, split: str = "train", *, category_map: dict[str, str] | None = None) -> AudioBank:
    """The S4 wavs of ``split`` grouped by AVSS class (``s4_root`` is the ``Single-source`` folder)."""
    mapping = category_map if category_map is not None else load_category_map()
    reader = S4Reader(s4_root, split)
    clips = []
    for name in reader.sample_ids():
        category = reader.category_of(name)
        if category not in mapping:
            raise ConfigError(f"S4 category {category!r} (clip {name!r}) is not in the category map")
        clips.append(BankClip(name, mapping[category], reader.wav_path(name)))
    return AudioBank(clips)


def avss_audio_bank(avss_root: str | Path, split: str = "train") -> AudioBank:
    """The ``audio.wav`` of every AVSS clip of ``split`` whose ``a_obj`` names exactly one class (ids: uid)."""
    root = Path(avss_root)
    names = load_class_list(root).names
    clips = []
    with open(root / "metadata.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("split") != split:
                continue
            classes = avss_object_classes(row.get("a_obj", ""), names)
            if len(classes) == 1 and canonical_subset(row.get("label", "")) != "coavs":
                clips.append(BankClip(row["uid"], classes.pop(), root / row["label"] / row["uid"] / "audio.wav"))
    return AudioBank(clips)


def biaslab_audio_bank(world_dir: str | Path, split: str = "train") -> AudioBank:
    """Every object's clean source in a bias-lab world split, grouped by class (ids ``uid/object``)."""
    world = BiasLabWorld(world_dir)
    clips = []
    for uid in world.uids(split):
        folder = world.clip_dir(uid)
        for o in json.loads((folder / "objects.json").read_text())["objects"]:
            clips.append(BankClip(f"{uid}/{o['object_id']}", o["class_name"], folder / o["source"]))
    return AudioBank(clips)
