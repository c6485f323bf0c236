"""Finding AVSBench data under a folder, and checking that every file a sample needs is there."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avsprobe.data.avsbench.decode import read_binary_mask, read_palette_mask, read_rgb
from avsprobe.data.avsbench.readers import (
    SPLITS,
    AVSBenchReader,
    AVSSReader,
    MS3Reader,
    S4Reader,
    canonical_subset,
)
from avsprobe.errors import ConfigError, DataError

__all__ = ["DetectedLayout", "ChosenData", "SUBSET_CHOICES", "detect_layouts", "choose_subset", "reader_for", "open_reader",
           "CheckReport", "check_sample", "check_tree"]


@dataclass(frozen=True)
class DetectedLayout:
    """A dataset found on disk: ``kind`` is ``"s4"``, ``"ms3"`` or ``"avss"``; ``root`` its folder."""

    kind: str
    root: Path


def detect_layouts(path: str | Path) -> list[DetectedLayout]:
    """Every AVSBench layout at ``path`` and one level below (``avsbench_data/`` holds S4 and MS3; an AVSS
    root may sit beside them).

    Raises:
        DataError: nothing recognisable, with what was expected.
    """
    p = Path(path)
    if not p.is_dir():
        raise DataError(f"data folder not found: {p}")
    found = []
    for folder in [p, *sorted(c for c in p.iterdir() if c.is_dir())]:
        if (folder / "s4_meta_data.csv").is_file() or (folder / "s4_data").is_dir():
            found.append(DetectedLayout("s4", folder))
        if (folder / "ms3_meta_data.csv").is_file() or (folder / "ms3_data").is_dir():
            found.append(DetectedLayout("ms3", folder))
        if (folder / "metadata.csv").is_file():
            found.append(DetectedLayout("avss", folder))
    if not found:
        raise DataError(
            f"no AVSBench layout under {p}: expected Single-source/s4_meta_data.csv, "
            "Multi-sources/ms3_meta_data.csv or an AVSS metadata.csv (bias-lab worlds have one too)")
    return found


def _avss_subsets(root: Path) -> list[str]:
    with open(root / "metadata.csv", newline="") as f:
        return sorted({canonical_subset(r.get("label", "")) for r in csv.DictReader(f)})


SUBSET_CHOICES = ("s4", "ms3", "avss", "v1s", "v1m", "v2")
"""What ``--subset`` accepts: the three layouts, and the AVSS labels (``v1s``/``v1m`` are aliases of
``s4``/``ms3``; other AVSS labels such as ``biaslab`` or ``coavs`` are accepted too)."""


@dataclass(frozen=True)
class ChosenData:
    """One data set picked under a folder: the layout, and for AVSS the label it is restricted to (None: all).

    ``name`` is what runs record as their subset (``s4``, ``ms3``, ``avss``, ``v2``, ...).
    """

    layout: DetectedLayout
    label: str | None
    name: str


def _describe(layouts: list[DetectedLayout]) -> str:
    parts = []
    for la in layouts:
        extra = f" (labels {', '.join(_avss_subsets(la.root))})" if la.kind == "avss" else ""
        parts.append(f"{la.kind} at {la.root}{extra}")
    return "; ".join(parts)


def choose_subset(path: str | Path, subset: str | None = None) -> ChosenData:
    """Pick the data set at ``path`` that ``subset`` names.

    ``s4``/``v1s`` and ``ms3``/``v1m`` take the S4 or MS3 layout, or the AVSS root's ``v1s``/``v1m`` clips
    when that layout is absent; ``avss`` takes the whole AVSS root (every label, the AVSS benchmark);
    ``v2`` or another AVSS label takes those clips only. Without ``subset`` the folder must hold one layout.

    Raises:
        ConfigError: several layouts and no ``subset`` (listing them), or a subset that is not there.
    """
    layouts = detect_layouts(path)
    by_kind = {la.kind: la for la in layouts}
    if subset is None:
        if len(layouts) > 1:
            raise ConfigError(f"{path} holds several data sets: {_describe(layouts)}. Choose one with --subset "
                              f"({'/'.join(SUBSET_CHOICES[:3])}; v1s, v1m and v2 are accepted too)")
        la = layouts[0]
        return ChosenData(la, None, la.kind)
    want = subset.strip().lower()
    if want in ("s4", "v1s", "ms3", "v1m"):
        kind = "s4" if want in ("s4", "v1s") else "ms3"
        if kind in by_kind:
            return ChosenData(by_kind[kind], None, kind)
        label = canonical_subset(want)
        if "avss" in by_kind and label in _avss_subsets(by_kind["avss"].root):
            return ChosenData(by_kind["avss"], label, label)
    elif want == "avss":
        if "avss" in by_kind:
            return ChosenData(by_kind["avss"], None, "avss")
    elif "avss" in by_kind and canonical_subset(subset) in _avss_subsets(by_kind["avss"].root):
        return ChosenData(by_kind["avss"], canonical_subset(subset), canonical_subset(subset))
    raise ConfigError(f"subset {subset!r} not found under {path} (found: {_describe(layouts)})")


def reader_for(chosen: ChosenData, split: str) -> AVSBenchReader:
    """The reader of one split of a chosen data set."""
    if chosen.layout.kind == "s4":
        return S4Reader(chosen.layout.root, split)
    if chosen.layout.kind == "ms3":
        return MS3Reader(chosen.layout.root, split)
    return AVSSReader(chosen.layout.root, split, subset=chosen.label)


def open_reader(path: str | Path, *, split: str = "test", subset: str | None = None) -> AVSBenchReader:
    """A reader for one split of the data at ``path``.

    Args:
        path: an S4 or MS3 folder, ``avsbench_data/``, an AVSS root or a bias-lab world.
        split: ``train``, ``val`` or ``test``.
        subset: see :func:`choose_subset`; needed when ``path`` holds several layouts.
    """
    return reader_for(choose_subset(path, subset), split)


@dataclass
class CheckReport:
    """What ``avsprobe data check`` found.

    Attributes:
        counts: ``(layout, subset, split) -> samples``.
        missing: files that do not exist.
        unreadable: ``(file, reason)`` for files that exist but cannot be used: undecodable, empty or
            non-finite audio, a mask or frame whose size differs from its clip's frames, colours outside
            the AVSS palette.
    """

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    missing: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unreadable


def _decode(path: Path, palette: np.ndarray | None) -> tuple[str | None, tuple[int, int] | None]:
    """Decode one file fully: (None, image size or None) when it is usable, else (the reason, None).

    Images are decoded (masks under ``gt_masks`` binarised, colour masks under ``labels_rgb`` matched
    against the palette), wavs read whole and checked for samples and finite values, features loaded.
    """
    suffix = path.suffix.lower()
    try:
        if suffix in (".png", ".jpg", ".jpeg"):
            if "labels_rgb" in path.parts and palette is not None:
                array = read_palette_mask(path, palette)
            elif "gt_masks" in path.parts:
                array = read_binary_mask(path)
            else:
                array = read_rgb(path)
            return None, (int(array.shape[0]), int(array.shape[1]))
        if suffix == ".wav":
            from avsprobe.audio.io import load_audio

            load_audio(path)
        elif suffix in (".pkl", ".npy"):
            from avsprobe.data.avsbench.pkl import load_log_mel

            load_log_mel(path)
    except Exception as exc:  # any decoder failure means unusable; the reason is shown
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return text.replace(f"{path}: ", "").replace(str(path), "the file"), None
    return None, None


def _is_mask(path: Path) -> bool:
    return "gt_masks" in path.parts or "labels_rgb" in path.parts


def check_sample(reader: AVSBenchReader, sample_id: str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every file of one sample decoded: (missing files, (file, reason) for unusable ones).

    Beyond decoding, the frames of a clip must share one size and every mask must have that size.
    """
    palette = None
    if isinstance(reader, AVSSReader):
        from avsprobe.data.palette import avss_palette

        palette = avss_palette(len(reader.class_list.names))
    missing: list[Path] = []
    bad: list[tuple[Path, str]] = []
    frame_size: tuple[int, int] | None = None
    first_frame: Path | None = None
    masks: list[tuple[Path, tuple[int, int]]] = []
    for file in reader.expected_files(sample_id):
        if not file.is_file():
            missing.append(file)
            continue
        reason, size = _decode(file, palette)
        if reason is not None:
            bad.append((file, reason))
        elif size is not None and _is_mask(file):
            masks.append((file, size))
        elif size is not None:
            if frame_size is None:
                frame_size, first_frame = size, file
            elif size != frame_size:
                bad.append((file, f"frame is {size[1]}x{size[0]}, but {first_frame.name} of the same clip is "  # type: ignore[union-attr]
                                  f"{frame_size[1]}x{frame_size[0]} (width x height)"))
    for file, size in masks:
        if frame_size is not None and size != frame_size:
            bad.append((file, f"mask is {size[1]}x{size[0]}, its clip's frames are {frame_size[1]}x{frame_size[0]} "
                              "(width x height)"))
    return missing, bad


def check_tree(path: str | Path, on_progress: Callable[[int, int], None] | None = None, *,
               subset: str | None = None) -> CheckReport:
    """Decode every file of every sample of every split under ``path`` (only ``subset`` when given, see
    :func:`choose_subset`; without it, every data set found)."""
    report = CheckReport()
    readers: list[AVSBenchReader] = []
    if subset is not None:
        chosen = choose_subset(path, subset)
        targets = [(chosen.layout, [chosen.label])]
    else:
        targets = [(la, _avss_subsets(la.root) if la.kind == "avss" else [None]) for la in detect_layouts(path)]
    for layout, labels in targets:
        for label in labels:
            for split in SPLITS:
                reader = reader_for(ChosenData(layout, label, layout.kind), split)
                if len(reader):
                    readers.append(reader)
                    report.counts[(layout.kind, reader.subset, split)] = len(reader)
    total = sum(len(r) for r in readers)
    done = 0
    for reader in readers:
        for sample_id in reader.sample_ids():
            missing, bad = check_sample(reader, sample_id)
            report.missing += missing
            report.unreadable += bad
            done += 1
            if on_progress:
                on_progress(done, total)
    return report
