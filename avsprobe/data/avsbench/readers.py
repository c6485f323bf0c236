"""Readers for AVSBench S4, MS3 and AVSS (as OpenNLPLab/AVSBench's dataloaders read them; README, "AVSBench data"), each yielding :class:`~avsprobe.types.AVSample`.

Layouts (``{k}`` is 1-based for S4/MS3, ``{i}`` 0-based for AVSS)::

    Single-source/s4_meta_data.csv            name, start, category, split (read by position)
    Single-source/s4_data/visual_frames/{split}/{category}/{name}/{name}_{k}.png
    Single-source/s4_data/gt_masks/{split}/{category}/{name}/{name}_{k}.png   train: k = 1 only
    Single-source/s4_data/audio_wav/{split}/{category}/{name}.wav
    Single-source/s4_data/audio_log_mel/{split}/{category}/{name}.pkl

    Multi-sources/ms3_meta_data.csv           video id, split (by position)
    Multi-sources/ms3_data/visual_frames/{name}/{name}.mp4_{k}.png             flat, no split folder
    Multi-sources/ms3_data/gt_masks/{split}/{name}/{name}_{k}.png              every split: k = 1..5
    Multi-sources/ms3_data/audio_wav/{split}/{name}.wav (+ audio_log_mel/{split}/{name}.pkl)

    AVSS/metadata.csv                         vid, uid, s_min, s_sec, a_obj, split, label
    AVSS/{label}/{uid}/frames/{i}.jpg|png, labels_rgb/{i}.png, audio.wav      label: v1s, v1m, v2 (biaslab)

Masks are binarised with ``> 0``; AVSS colour masks are decoded with the 71-colour palette and an unknown
colour is a ``DataError``. Frames without ground truth (S4 train frames 2-5, AVSS v1s train frames 1-4)
get an empty mask and ``annotated = False``.
"""

from __future__ import annotations

import abc
import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from avsprobe.audio.io import load_audio
from avsprobe.data.avsbench.decode import _open, read_binary_mask, read_palette_mask, read_rgb
from avsprobe.data.category_map import load_category_map
from avsprobe.data.palette import avss_palette, load_class_list
from avsprobe.errors import DataError
from avsprobe.types import AVSample, ObjectInfo

__all__ = ["SUBSET_ALIASES", "canonical_subset", "read_frames", "avss_object_classes", "AVSBenchReader", "S4Reader",
           "MS3Reader", "AVSSReader"]

SUBSET_ALIASES = {"s4": "v1s", "v1s": "v1s", "ms3": "v1m", "v1m": "v1m", "v2": "v2"}
SPLITS = ("train", "val", "test")


def canonical_subset(name: str) -> str:
    """``S4``/``v1s``/``V1S`` -> ``v1s``, ``MS3``/``v1m``/``V1M`` -> ``v1m``, ``v2``; other labels as given."""
    return SUBSET_ALIASES.get(name.lower(), name)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return split


def _log_mel_file(stem: Path) -> Path:
    """The log-mel features of a clip: ``stem.npy`` (converted or exported) if present, else ``stem.pkl``."""
    npy = stem.with_name(stem.name + ".npy")
    return npy if npy.is_file() else stem.with_name(stem.name + ".pkl")


def read_frames(paths: list[Path]) -> np.ndarray:
    """``uint8 [T, H, W, 3]`` frames of one clip.

    Raises:
        DataError: a frame whose size differs from the clip's first frame, naming both.
    """
    frames = [read_rgb(p) for p in paths]
    for path, frame in zip(paths, frames, strict=True):
        if frame.shape != frames[0].shape:
            raise DataError(f"{path}: frame is {frame.shape[1]}x{frame.shape[0]}, but {paths[0].name} of the same "
                            f"clip is {frames[0].shape[1]}x{frames[0].shape[0]} (width x height)")
    return np.stack(frames)


def avss_object_classes(a_obj: str, class_names: tuple[str, ...]) -> set[str]:
    """The classes named by an AVSS ``a_obj`` value (``piano_dog``), keeping only real classes (the
    metadata also holds ``background``, ``off-the-screen`` and a typo, ``h orse``)."""
    return {c for c in a_obj.split("_") if c in class_names and c != class_names[0]}


def _read_positional_csv(path: Path, names: dict[str, int]) -> list[dict[str, str]]:
    """Rows of an S4/MS3 metadata CSV as dicts; columns found by header name, else by position."""
    if not path.is_file():
        raise DataError(f"metadata file not found: {path}")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise DataError(f"metadata file {path} is empty")
    header = [h.strip() for h in rows[0]]
    index = {key: header.index(key) if key in header else pos for key, pos in names.items()}
    out = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            out.append({key: row[i].strip() for key, i in index.items()})
        except IndexError:
            raise DataError(f"{path}, line {line_no}: expected at least {max(index.values()) + 1} columns") from None
    return out


class AVSBenchReader(abc.ABC):
    """One split of one AVSBench subset."""

    layout: str = ""
    subset: str = ""

    def __init__(self, root: str | Path, split: str) -> None:
        self.root = Path(root)
        self.split = _check_split(split)

    @abc.abstractmethod
    def sample_ids(self) -> list[str]:
        """Sample ids of this split, in metadata order."""

    @abc.abstractmethod
    def expected_files(self, sample_id: str) -> list[Path]:
        """Every file this sample needs (what ``avsprobe data check`` verifies)."""

    @abc.abstractmethod
    def read(self, sample_id: str) -> AVSample:
        """Load one sample."""

    def __len__(self) -> int:
        return len(self.sample_ids())

    def __iter__(self) -> Iterator[AVSample]:
        for sample_id in self.sample_ids():
            yield self.read(sample_id)

    def _assemble(self, sample_id: str, frame_paths: list[Path], mask_paths: list[Path | None], audio: Path,
                  category: str, meta: dict[str, object], visible_classes: tuple[str, ...] | None = None
                  ) -> AVSample:

        frames = read_frames(frame_paths)
        masks = np.zeros(frames.shape[:3], dtype=bool)
        for t, path in enumerate(mask_paths):
            if path is not None:
                mask = read_binary_mask(path)
                if mask.shape != masks.shape[1:]:
                    raise DataError(f"{path}: mask is {mask.shape}, frame is {masks.shape[1:]}")
                masks[t] = mask
        annotated = np.array([p is not None for p in mask_paths])
        return AVSample(sample_id=sample_id, frames=frames, audio=load_audio(audio).audio, mask=masks,
                        annotated=annotated, category=category, visible_classes=visible_classes,
                        subset=self.subset, split=self.split, meta=meta)


class S4Reader(AVSBenchReader):
    """AVSBench-object single-source (``Single-source/``). Train annotates frame 1 only.

    Args:
        category_map: S4 category -> AVSS class (default: the table shipped with avsprobe); gives each
            clip's ``visible_classes``.
    """

    layout = "s4"
    subset = "v1s"
    FRAMES = 5

    def __init__(self, root: str | Path, split: str, *, category_map: dict[str, str] | None = None) -> None:
        super().__init__(root, split)
        rows = _read_positional_csv(self.root / "s4_meta_data.csv", {"name": 0, "category": 2, "split": 3})
        self._rows = {r["name"]: r for r in rows if r["split"] == split}
        self.data = self.root / "s4_data"
        self.category_map = load_category_map() if category_map is None else category_map

    def sample_ids(self) -> list[str]:
        return list(self._rows)

    def category_of(self, name: str) -> str:
        """The S4 category of a clip (``playing_piano``, ...)."""
        return self._rows[name]["category"]

    def wav_path(self, name: str) -> Path:
        return self._paths(name)[2]

    def _paths(self, name: str) -> tuple[list[Path], list[Path | None], Path, Path]:
        cat = self._rows[name]["category"]
        frames = [self.data / "visual_frames" / self.split / cat / name / f"{name}_{k}.png" for k in range(1, 6)]
        annotated = [1] if self.split == "train" else range(1, 6)
        masks = [self.data / "gt_masks" / self.split / cat / name / f"{name}_{k}.png" if k in annotated else None
                 for k in range(1, 6)]
        wav = self.data / "audio_wav" / self.split / cat / f"{name}.wav"
        return frames, masks, wav, _log_mel_file(self.data / "audio_log_mel" / self.split / cat / name)

    def expected_files(self, sample_id: str) -> list[Path]:
        frames, masks, wav, pkl = self._paths(sample_id)
        extra = [pkl] if (self.data / "audio_log_mel").is_dir() else []
        return [*frames, *[m for m in masks if m is not None], wav, *extra]

    def read(self, sample_id: str) -> AVSample:
        if sample_id not in self._rows:
            raise DataError(f"no S4 {self.split} sample {sample_id!r} in {self.root / 's4_meta_data.csv'}")
        frames, masks, wav, pkl = self._paths(sample_id)
        category = self._rows[sample_id]["category"]
        visible = (self.category_map[category],) if category in self.category_map else None
        return self._assemble(sample_id, frames, masks, wav, category, {"layout": "s4", "log_mel_path": str(pkl)},
                              visible)


class MS3Reader(AVSBenchReader):
    """AVSBench-object multi-source (``Multi-sources/``). Every split annotates all 5 frames."""

    layout = "ms3"
    subset = "v1m"

    def __init__(self, root: str | Path, split: str) -> None:
        super().__init__(root, split)
        rows = _read_positional_csv(self.root / "ms3_meta_data.csv", {"video_id": 0, "split": 1})
        self._ids = [r["video_id"] for r in rows if r["split"] == split]
        self.data = self.root / "ms3_data"

    def sample_ids(self) -> list[str]:
        return list(self._ids)

    def _paths(self, name: str) -> tuple[list[Path], list[Path | None], Path, Path]:
        frames = [self.data / "visual_frames" / name / f"{name}.mp4_{k}.png" for k in range(1, 6)]
        masks: list[Path | None] = [self.data / "gt_masks" / self.split / name / f"{name}_{k}.png" for k in range(1, 6)]
        return frames, masks, self.data / "audio_wav" / self.split / f"{name}.wav", \
            _log_mel_file(self.data / "audio_log_mel" / self.split / name)

    def expected_files(self, sample_id: str) -> list[Path]:
        frames, masks, wav, pkl = self._paths(sample_id)
        extra = [pkl] if (self.data / "audio_log_mel").is_dir() else []
        return [*frames, *[m for m in masks if m is not None], wav, *extra]

    def read(self, sample_id: str) -> AVSample:
        if sample_id not in self._ids:
            raise DataError(f"no MS3 {self.split} sample {sample_id!r} in {self.root / 'ms3_meta_data.csv'}")
        frames, masks, wav, pkl = self._paths(sample_id)
        return self._assemble(sample_id, frames, masks, wav, "", {"layout": "ms3", "log_mel_path": str(pkl)})


class AVSSReader(AVSBenchReader):
    """AVSBench-semantic (``metadata.csv`` + ``{label}/{uid}/``), optionally one subset (label) only.

    Also reads the bias lab, whose worlds use this layout under the label ``biaslab`` and add per-object
    instance maps and clean sources (``objects.json``), which become ``AVSample.objects``.
    """

    layout = "avss"
    FRAMES_BY_LABEL = {"v1s": 5, "v1m": 5, "v2": 10}

    def __init__(self, root: str | Path, split: str, subset: str | None = None) -> None:
        super().__init__(root, split)
        meta = self.root / "metadata.csv"
        if not meta.is_file():
            raise DataError(f"metadata file not found: {meta}")
        with open(meta, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"uid", "split", "label"} - set(reader.fieldnames or [])
            if missing:
                raise DataError(f"{meta} lacks the columns {', '.join(sorted(missing))}")
            rows = list(reader)
        self.subset = canonical_subset(subset) if subset else ""
        self._rows = {r["uid"]: r for r in rows
                      if r["split"] == split and (not self.subset or canonical_subset(r["label"]) == self.subset)}
        self.class_list = load_class_list(self.root)

    def sample_ids(self) -> list[str]:
        return list(self._rows)

    def _folder(self, uid: str) -> Path:
        return self.root / self._rows[uid]["label"] / uid

    def _num_frames(self, uid: str) -> int:
        label = canonical_subset(self._rows[uid]["label"])
        if label in self.FRAMES_BY_LABEL:
            return self.FRAMES_BY_LABEL[label]
        return max(1, len(list((self._folder(uid) / "frames").glob("*.*"))))

    def _frame_path(self, uid: str, i: int) -> Path:
        folder = self._folder(uid) / "frames"
        for suffix in (".jpg", ".png", ".jpeg"):
            if (folder / f"{i}{suffix}").is_file():
                return folder / f"{i}{suffix}"
        # missing: name it with the suffix its siblings use (AVSS .jpg, bias lab .png)
        siblings = sorted(folder.glob("*.*")) if folder.is_dir() else []
        return folder / f"{i}{siblings[0].suffix if siblings else '.jpg'}"

    def _annotated(self, uid: str) -> list[int]:
        label = canonical_subset(self._rows[uid]["label"])
        if label == "v1s" and self.split == "train":
            return [0]
        return list(range(self._num_frames(uid)))

    def expected_files(self, sample_id: str) -> list[Path]:
        folder = self._folder(sample_id)
        frames = [self._frame_path(sample_id, i) for i in range(self._num_frames(sample_id))]
        labels = [folder / "labels_rgb" / f"{i}.png" for i in self._annotated(sample_id)]
        return [*frames, *labels, folder / "audio.wav"]

    def read(self, sample_id: str) -> AVSample:
        if sample_id not in self._rows:
            raise DataError(f"no AVSS {self.split} sample {sample_id!r} in {self.root / 'metadata.csv'}")
        row, folder = self._rows[sample_id], self._folder(sample_id)
        t = self._num_frames(sample_id)
        frames = read_frames([self._frame_path(sample_id, i) for i in range(t)])
        semantic = np.zeros(frames.shape[:3], dtype=np.int16)
        annotated = np.zeros(t, dtype=bool)
        names = self.class_list.names
        for i in self._annotated(sample_id):
            labels = read_palette_mask(folder / "labels_rgb" / f"{i}.png", avss_palette(len(names)))
            if labels.shape != semantic.shape[1:]:
                raise DataError(f"{folder / 'labels_rgb' / f'{i}.png'}: mask is {labels.shape}, frame is {semantic.shape[1:]}")
            semantic[i], annotated[i] = labels, True
        objects = self._objects(folder, t)
        a_obj = row.get("a_obj", "")
        visible = ({names[i] for i in np.unique(semantic).tolist() if i != 0} | avss_object_classes(a_obj, names)
                   | {o.class_name for o in objects})
        return AVSample(
            sample_id=sample_id, frames=frames, audio=load_audio(folder / "audio.wav").audio, mask=semantic > 0,
            annotated=annotated, semantic_mask=semantic, objects=objects, category=a_obj,
            visible_classes=tuple(sorted(visible)), subset=canonical_subset(row["label"]), split=self.split,
            meta={"layout": "avss", "folder": str(folder), "class_names": names, **self._bed(folder)})

    @staticmethod
    def _bed(folder: Path) -> dict[str, float]:
        """``{"background_noise_lufs": L}`` when the clip's ``objects.json`` says a background bed was mixed in,
        with ``"bed_only": True`` where the bed is all the clip's audio (bias lab world v3)."""
        objects_file = folder / "objects.json"
        if not objects_file.is_file():
            return {}
        mixture = json.loads(objects_file.read_text()).get("mixture", {})
        bed = mixture.get("background_noise_lufs")
        if bed is None:
            return {}
        return {"background_noise_lufs": float(bed), **({"bed_only": True} if mixture.get("bed_only") else {})}

    @staticmethod
    def _objects(folder: Path, num_frames: int) -> tuple[ObjectInfo, ...]:
        objects_file = folder / "objects.json"
        if not objects_file.is_file():
            return ()

        meta = json.loads(objects_file.read_text())
        maps = []
        for i in range(num_frames):
            with _open(folder / "instances" / f"{i}.png") as image:
                maps.append(np.asarray(image))
        instances = np.stack(maps)
        return tuple(
            ObjectInfo(object_id=o["object_id"], class_name=o["class_name"], mask=instances == o["instance_value"],
                       is_sounding=bool(o["is_sounding"]), loudness_lufs=float(o["loudness_lufs"]),
                       source_path=str(folder / o["source"]))
            for o in meta["objects"])
