"""Opening the data a command works on: a path (AVSBench, AVSS, a bias-lab or Co-AVS tree) or, with none,
the cached default bias lab; with the audio bank and class list the probes need from it."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avsprobe.data.audio_bank import AudioBank, avss_audio_bank, s4_audio_bank
from avsprobe.data.avsbench.layout import choose_subset, detect_layouts, reader_for
from avsprobe.data.avsbench.readers import avss_object_classes
from avsprobe.data.biaslab.world import ensure_default_world
from avsprobe.data.palette import load_class_list

__all__ = ["DataSource", "open_data", "avsbench_audio_bank", "avss_train_frequency"]


@dataclass
class DataSource:
    """A split of a dataset ready for probing.

    Attributes:
        reader: ``sample_ids()`` and ``read(id)``.
        bank: clean clips per class for probes that need other audio (off-screen), or None.
        classes: the dataset's class names (the semantic probe's conditions).
        description: where the data came from, for records and reports.
        root: the folder given (or the default world).
        subset: the data set chosen under it (``s4``, ``ms3``, ``avss``, ``v2``, ``biaslab``, ...).
        data_root: the folder of the chosen layout (what the data fingerprint covers).
        train_frequency: per-class training sounding frequency (for ``prior_corr``), or None.
        bank_source: where the audio bank came from, for ``run.json``.
        class_list: where the class names came from (``label2idx.json`` or built-in), for ``run.json``.
        posterior_bed: per class, P(sounds | class, bed-only audio) in train (bias lab world v3), or None.
    """

    reader: object
    bank: AudioBank | None
    classes: tuple[str, ...]
    description: str
    root: Path
    subset: str = ""
    data_root: Path | None = None
    train_frequency: dict[str, float] | None = None
    bank_source: str = ""
    class_list: str = ""
    posterior_bed: dict[str, float] | None = None


def avss_train_frequency(avss_root: Path) -> dict[str, float] | None:
    """Fraction of AVSS train clips whose ``a_obj`` names each class: a proxy for the training sounding
    frequency, since AVSBench does not annotate visible objects that stay silent. None without train clips."""
    names = load_class_list(avss_root).names
    with open(avss_root / "metadata.csv", newline="") as f:
        train = [r for r in csv.DictReader(f) if r.get("split") == "train"]
    if not train:
        return None
    counts: dict[str, int] = {}
    for row in train:
        for cls in avss_object_classes(row.get("a_obj", ""), names):
            counts[cls] = counts.get(cls, 0) + 1
    return {cls: n / len(train) for cls, n in sorted(counts.items())}


def avsbench_audio_bank(layouts: dict[str, Path]) -> tuple[AudioBank | None, str]:
    """S4 train clips when an S4 layout is there, else single-class AVSS train clips, else none."""
    if "s4" in layouts:
        bank = s4_audio_bank(layouts["s4"], "train")
        if len(bank):
            return bank, f"S4 train clips at {layouts['s4']}"
    if "avss" in layouts:
        bank = avss_audio_bank(layouts["avss"], "train")
        if len(bank):
            return bank, f"single-class AVSS train clips at {layouts['avss']}"
    return None, "none (no S4 or single-class AVSS train clips found)"


def open_data(path: str | Path | None, *, split: str = "test", subset: str | None = None,
              on_progress: Callable[[int, int], None] | None = None) -> DataSource:
    """Open ``path`` (None: the cached default bias lab, built on first use).

    ``subset`` picks one data set where ``path`` holds several (see
    :func:`~avsprobe.data.avsbench.layout.choose_subset`).
    """
    root = Path(path) if path is not None else ensure_default_world(on_progress)
    chosen = choose_subset(root, subset)
    reader = reader_for(chosen, split)
    layout_root = chosen.layout.root
    class_list = load_class_list(layout_root).describe() if chosen.layout.kind == "avss" else ""
    if (layout_root / "world.json").is_file():
        from avsprobe.data.audio_bank import biaslab_audio_bank
        from avsprobe.data.biaslab.reader import BiasLabWorld

        world = BiasLabWorld(layout_root)
        bank: AudioBank | None = biaslab_audio_bank(layout_root, "train")
        frequency = world.training_sounding_frequency()
        classes = tuple(frequency)
        return DataSource(reader, bank, classes, f"biaslab:{layout_root.name}", root, chosen.name, layout_root,
                          frequency, f"bias-lab train sources at {layout_root}", class_list, world.posterior_bed())
    layouts = {la.kind: la.root for la in detect_layouts(root)}
    bank, bank_source = avsbench_audio_bank(layouts)
    frequency = avss_train_frequency(layout_root) if chosen.layout.kind == "avss" else None
    classes = tuple(bank.classes()) if bank else ()
    description = f"{chosen.layout.kind}:{root}" + (f" ({chosen.name})" if chosen.name != chosen.layout.kind else "")
    return DataSource(reader, bank, classes, description, root, chosen.name, layout_root, frequency, bank_source,
                      class_list)
