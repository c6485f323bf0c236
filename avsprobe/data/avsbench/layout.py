"""Finding AVSBench data under a folder, and checking that every file a sample needs is there."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from avsprobe.data.avsbench.readers import (
    SPLITS,
    AVSBenchReader,
    AVSSReader,
    MS3Reader,
    S4Reader,
    canonical_subset,
)
from avsprobe.errors import DataError

__all__ = ["DetectedLayout", "detect_layouts", "open_reader", "CheckReport", "check_tree"]


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


def open_reader(path: str | Path, *, split: str = "test", subset: str | None = None) -> AVSBenchReader:
    """A reader for one split of the data at ``path``.

    Args:
        path: an S4 or MS3 folder, ``avsbench_data/``, an AVSS root or a bias-lab world.
        split: ``train``, ``val`` or ``test``.
        subset: ``s4``/``v1s``, ``ms3``/``v1m``, ``v2`` or another AVSS label; needed when ``path`` holds
            several.
    """
    layouts = detect_layouts(path)
    want = canonical_subset(subset) if subset else None
    for layout in layouts:
        if layout.kind == "s4" and want in (None, "v1s"):
            return S4Reader(layout.root, split)
        if layout.kind == "ms3" and want in (None, "v1m"):
            return MS3Reader(layout.root, split)
        if layout.kind == "avss" and (want is None or want in _avss_subsets(layout.root)):
            return AVSSReader(layout.root, split, subset=want)
    kinds = ", ".join(f"{la.kind} at {la.root}" for la in layouts)
    raise DataError(f"subset {subset!r} not found under {path} (found: {kinds})")


@dataclass
class CheckReport:
    """What ``avsprobe data check`` found.

    Attributes:
        counts: ``(layout, subset, split) -> samples``.
        missing: files that do not exist.
        unreadable: ``(file, reason)`` for files that exist but cannot be decoded.
    """

    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)
    missing: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unreadable


def _readable(path: Path) -> str | None:
    """None if the file's header decodes, else the reason (cheap: no full decode)."""
    try:
        if path.suffix.lower() in (".png", ".jpg", ".jpeg"):
            from PIL import Image

            with Image.open(path) as im:
                im.verify()
        elif path.suffix.lower() == ".wav":
            import soundfile

            if soundfile.info(str(path)).frames == 0:
                return "no audio samples"
        elif path.suffix.lower() == ".pkl":
            from avsprobe.data.avsbench.pkl import load_log_mel_pkl

            load_log_mel_pkl(path)
        elif path.suffix.lower() == ".npy":
            import numpy as np

            np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # any decoder failure means unreadable
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def check_tree(path: str | Path, on_progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Verify every file of every sample of every split and subset under ``path``."""
    report = CheckReport()
    readers: list[AVSBenchReader] = []
    for layout in detect_layouts(path):
        subsets = _avss_subsets(layout.root) if layout.kind == "avss" else [None]
        for subset in subsets:
            for split in SPLITS:
                if layout.kind == "s4":
                    reader: AVSBenchReader = S4Reader(layout.root, split)
                elif layout.kind == "ms3":
                    reader = MS3Reader(layout.root, split)
                else:
                    reader = AVSSReader(layout.root, split, subset=subset)
                if len(reader):
                    readers.append(reader)
                    report.counts[(layout.kind, reader.subset, split)] = len(reader)
    total = sum(len(r) for r in readers)
    done = 0
    for reader in readers:
        for sample_id in reader.sample_ids():
            for file in reader.expected_files(sample_id):
                if not file.is_file():
                    report.missing.append(file)
                elif (reason := _readable(file)) is not None:
                    report.unreadable.append((file, reason))
            done += 1
            if on_progress:
                on_progress(done, total)
    return report
