"""The AVSBench-semantic (AVSS) class list and its PASCAL-VOC style colour palette.

Research note §1.4: label index = position in ``label2idx.json`` minus one, background = 0, then the 70
classes alphabetically. For index j, bit 3m of j goes to R, bit 3m+1 to G, bit 3m+2 to B, each placed at
bit (7 - m) of its channel: 0 -> (0,0,0), 1 -> (128,0,0), 2 -> (0,128,0), 3 -> (128,128,0), ...
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["AVSS_CLASSES", "avss_class_index", "avss_palette"]

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
