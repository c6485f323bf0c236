"""Decoding AVSBench images safely: RGB frames, binary masks (``> 0``, never dithering), palette masks.

Alpha never counts: a mask or frame is read from its colour channels only, as the reference's
``convert('1')``/``convert('RGB')`` do (an all-black RGBA mask saved by ``matplotlib.pyplot.imsave`` is empty,
not full). 16-bit greyscale images are scaled to 8 bits, not clipped to white.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avsprobe.errors import DataError

__all__ = ["read_rgb", "read_binary_mask", "read_palette_mask"]


def _open(path: Path):  # noqa: ANN202 - PIL image
    from PIL import Image

    if not path.is_file():
        raise DataError(f"file not found: {path}")
    try:
        image = Image.open(path)
        image.load()
        return image
    except Image.DecompressionBombError as exc:
        raise DataError(f"refusing image {path}: {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:  # PIL reports damaged files with all three
        raise DataError(f"cannot read image {path}: {exc}") from exc


_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_OTHER_COLOUR_SPACES = ("CMYK", "YCbCr", "LAB", "HSV")


def _colour(image: object) -> np.ndarray:
    """The image's colour values without alpha: ``[H, W]`` (grey, palette index) or ``[H, W, 3]``, 16-bit
    grey scaled to ``uint8``."""
    mode = image.mode  # type: ignore[attr-defined]
    if mode in _SIXTEEN_BIT:
        grey = np.asarray(image).astype(np.int64)
        return ((np.clip(grey, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
    if mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        array = np.asarray(image)
        return array[..., :3] if mode.startswith("RGB") else array[..., 0]
    if mode in _OTHER_COLOUR_SPACES:  # channels are not RGB: CMYK white is (0, 0, 0, 0), read raw it is "empty"
        return np.asarray(image.convert("RGB"))
    return np.asarray(image)


def read_rgb(path: Path) -> np.ndarray:
    """``uint8 [H, W, 3]`` (alpha dropped; 16-bit grey scaled to 8 bits)."""
    with _open(path) as image:
        if image.mode in _SIXTEEN_BIT:
            return np.repeat(_colour(image)[..., None], 3, axis=-1)
        return np.asarray(image.convert("RGB"))


def read_binary_mask(path: Path) -> np.ndarray:
    """``bool [H, W]``: any nonzero value (or index, for 'P' images) is foreground.

    AVSBench's loaders use PIL ``convert('1')`` (Floyd-Steinberg dithering) for S4 and ``convert('P')``
    with ToTensor scaling for MS3; both are exact only for pure 0/255 masks. Thresholding the stored
    values at ``> 0`` is exact for every encoding seen (L, 1, P with index 255 or 1, RGB white). Alpha is
    ignored (RGBA, LA, PA: colour only, as ``convert('1')``); 16-bit grey counts where nonzero.
    """
    with _open(path) as image:
        array = _colour(image)
    return array.any(axis=-1) if array.ndim == 3 else array > 0


def read_palette_mask(path: Path, palette: np.ndarray) -> np.ndarray:
    """``int16 [H, W]`` class ids of a colour-coded mask.

    Raises:
        DataError: a colour that is not in the palette, with the file, the colour and its pixel count
            (the reference silently reads such pixels as background).
    """
    with _open(path) as image:
        rgb = np.asarray(image.convert("RGB")).astype(np.int64)
    keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    palette_keys = (palette[:, 0].astype(np.int64) << 16) | (palette[:, 1].astype(np.int64) << 8) | palette[:, 2]
    order = np.argsort(palette_keys)
    sorted_keys = palette_keys[order]
    pos = np.clip(np.searchsorted(sorted_keys, keys), 0, len(sorted_keys) - 1)
    found = sorted_keys[pos] == keys
    if not found.all():
        bad, counts = np.unique(keys[~found], return_counts=True)
        worst = int(np.argmax(counts))
        key = int(bad[worst])
        colour = ((key >> 16) & 255, (key >> 8) & 255, key & 255)
        raise DataError(f"{path}: {int((~found).sum())} pixels have colours outside the palette "
                        f"(most common {colour}, {int(counts[worst])} pixels)")
    return order[pos].astype(np.int16)

