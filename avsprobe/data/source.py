"""Opening the data a command works on: a path (AVSBench, AVSS, a bias-lab or Co-AVS tree) or, with none,
the cached default bias lab; with the audio bank and class list the probes need from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avsprobe.data.audio_bank import AudioBank

__all__ = ["DataSource", "open_data"]


@dataclass
class DataSource:
    """A split of a dataset ready for probing.

    Attributes:
        reader: ``sample_ids()`` and ``read(id)``.
        bank: clean clips per class for probes that need other audio (off-screen), or None.
        classes: the dataset's class names (the semantic probe's conditions).
        description: where the data came from, for records and reports.
        root: the folder.
    """

    reader: object
    bank: AudioBank | None
    classes: tuple[str, ...]
    description: str
    root: Path


def open_data(path: str | Path | None, *, split: str = "test", subset: str | None = None,
              on_progress: Callable[[int, int], None] | None = None) -> DataSource:
    """Open ``path`` (None: the cached default bias lab, built on first use)."""
    from avsprobe.data.avsbench.layout import detect_layouts, open_reader
    from avsprobe.data.biaslab.world import ensure_default_world

    root = Path(path) if path is not None else ensure_default_world(on_progress)
    reader = open_reader(root, split=split, subset=subset)
    bank: AudioBank | None = None
    if (root / "world.json").is_file():
        from avsprobe.data.audio_bank import biaslab_audio_bank
        from avsprobe.data.biaslab.reader import BiasLabWorld

        world = BiasLabWorld(root)
        bank = biaslab_audio_bank(root, "train")
        classes = tuple(world.training_sounding_frequency())
        description = f"biaslab:{root.name}"
    else:
        layouts = {la.kind: la.root for la in detect_layouts(root)}
        if "s4" in layouts:
            from avsprobe.data.audio_bank import s4_audio_bank

            bank = s4_audio_bank(layouts["s4"], "train")
        classes = tuple(bank.classes()) if bank else ()
        description = f"{getattr(reader, 'layout', 'data')}:{root}"
    return DataSource(reader, bank, classes, description, root)
