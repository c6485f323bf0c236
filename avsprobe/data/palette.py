"""The AVSBench-semantic (AVSS) class list and its PASCAL-VOC style colour palette.

As OpenNLPLab/AVSBench ``avss/`` reads them: label index = position in ``label2idx.json``, background = 0,
then the 70 classes alphabetically (the built-in order; a tree's own ``label2idx.json`` wins, see
:func:`load_class_list`). For index j, bit 3m of j goes to R, bit 3m+1 to G, bit 3m+2 to B, each placed at
bit (7 - m) of its channel: 0 -> (0,0,0), 1 -> (128,0,0), 2 -> (0,128,0), 3 -> (128,128,0), ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from avsprobe.errors import DataError

__all__ = ["AVSS_CLASSES", "ClassList", "avss_class_index", "avss_palette", "load_class_list"]

AVSS_CLASSES: tuple[str, ...] = (
    "background",
    "accordion", "airplane", "axe", "baby", "bassoon", "bell", "bird", "boat", "boy", "bus", "car", "cat",
    "cello", "clarinet", "clipper", "clock", "dog", "donkey", "drum", "duck", "elephant", "emergency-car",
    "erhu", "flute", "frying-food", "girl", "goose", "guitar", "gun", "guzheng", "hair-dryer", "handpan",
    "harmonica", "harp", "helicopter", "hen", "horse", "keyboard", "leopard", "lion", "man", "marimba",
    "missile-rocket", "motorcycle", "mower", "parrot", "piano", "pig", "pipa", "saw", "saxophone", "sheep",
    "sitar", "sorna", "squirrel", "tabla", "tank", "tiger", "tractor", "train", "trombone", "truck",
    "trumpet", "tuba", "ukulele", "utv", "vacuum-cleaner", "violin", "wolf", "woman",
)  # fmt: skip


def avss_class_index(name: str) -> int:
    """Label index of an AVSS class name (background = 0)."""
    try:
        return AVSS_CLASSES.index(name)
    except ValueError:
        raise KeyError(f"{name!r} is not an AVSS class") from None


@lru_cache(maxsize=4)
def avss_palette(num_classes: int = len(AVSS_CLASSES)) -> np.ndarray:
    """``uint8 [num_classes, 3]`` VOC-style colours (read-only)."""
    palette = np.zeros((num_classes, 3), dtype=np.uint8)
    for j in range(num_classes):
        value, bit = j, 7
        while value:
            for channel in range(3):
                palette[j, channel] |= ((value >> channel) & 1) << bit
            value >>= 3
            bit -= 1
    palette.flags.writeable = False
    return palette


@dataclass(frozen=True)
class ClassList:
    """The class names of an AVSS tree, index = label id (background first), and where they came from.

    Attributes:
        names: ``names[i]`` is the class of label id ``i`` (palette colour ``i``).
        source: ``"label2idx.json"`` (read from the tree) or ``"built-in"`` (the file is absent).
        path: the file read, or None.
    """

    names: tuple[str, ...]
    source: str
    path: str | None = None

    def describe(self) -> str:
        if self.path is None:
            return f"built-in AVSS order ({len(self.names)} classes; no label2idx.json in the tree)"
        return f"{self.path} ({len(self.names)} classes)"


def load_class_list(root: str | Path) -> ClassList:
    """The classes of the AVSS tree at ``root``: ``label2idx.json`` when present, else the built-in order.

    The file maps class name -> id. Its order is the label order, as in the reference (which only checks
    its length); where the ids are integers they must count up from their first value (the released copy
    is 1-based: background 1 ... woman 71), so label id = position = id - first id.

    Raises:
        DataError: the file is not a JSON object of names, or its ids do not count up in order.
    """
    path = Path(root) / "label2idx.json"
    if not path.is_file():
        return ClassList(AVSS_CLASSES, "built-in")
    try:
        table = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(table, dict) or len(table) < 2 or not all(isinstance(k, str) and k for k in table):
        raise DataError(f"{path}: expected a JSON object mapping at least two class names to ids")
    ids = list(table.values())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in ids):
        if ids != list(range(ids[0], ids[0] + len(ids))):
            raise DataError(f"{path}: ids must count up by one in file order (got {ids[:5]} ...)")
    return ClassList(tuple(table), "label2idx.json", str(path))
