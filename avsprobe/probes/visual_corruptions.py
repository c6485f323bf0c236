"""Graded visual corruptions of a clip's frames, five severities each (ImageNet-C style), deterministic.

Frames are ``uint8 [T, H, W, 3]``; every function returns new frames of the same shape and dtype.

- ``gaussian_blur``: a Gaussian of standard deviation sigma (pixels);
- ``motion_blur``: a horizontal box of a length (pixels);
- ``jpeg``: JPEG at a quality (Pillow's encoder, 4:2:0 chroma);
- ``brightness`` / ``contrast``: pixel values scaled about 0 / about the frame's mean by a factor;
- ``occlusion``: the sounding object covered by a grey band over a share of its area
  (:func:`occlude_object`); the expected mask then keeps the object's visible part.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["VISUAL_SEVERITIES", "gaussian_blur", "motion_blur", "jpeg", "scale_brightness", "scale_contrast",
           "occlusion_region", "occlude_object", "corrupt_frames"]

VISUAL_SEVERITIES: dict[str, tuple[float, ...]] = {
    "gaussian_blur": (1.0, 2.0, 3.0, 4.5, 6.0),   # sigma (px)
    "motion_blur": (5.0, 9.0, 13.0, 19.0, 25.0),  # box length (px)
    "jpeg": (60.0, 30.0, 15.0, 8.0, 4.0),          # quality
    "brightness": (0.8, 0.6, 0.45, 0.3, 0.2),      # factor
    "contrast": (0.8, 0.6, 0.45, 0.3, 0.2),        # factor about the frame mean
    "occlusion": (0.1, 0.25, 0.4, 0.6, 0.8),       # share of the sounding object's area covered
}
"""Per family, the parameter at severities 1 to 5 (mildest first), in the unit its comment names."""

OCCLUDER_GREY = 128
"""The occluder's pixel value (every channel)."""


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def gaussian_blur(frames: np.ndarray, sigma_px: float) -> np.ndarray:
    """Each frame blurred by a Gaussian of ``sigma_px`` over height and width (not time, not channels)."""
    from scipy.ndimage import gaussian_filter

    return _to_uint8(gaussian_filter(frames.astype(np.float64), sigma=(0, sigma_px, sigma_px, 0), mode="reflect"))


def motion_blur(frames: np.ndarray, length_px: float) -> np.ndarray:
    """Each frame averaged over a horizontal box of ``length_px`` pixels (a camera panning)."""
    from scipy.ndimage import uniform_filter1d

    return _to_uint8(uniform_filter1d(frames.astype(np.float64), size=int(length_px), axis=2, mode="reflect"))


def jpeg(frames: np.ndarray, quality: float) -> np.ndarray:
    """Each frame encoded and decoded as JPEG at ``quality`` (Pillow; the same bytes on every run)."""
    from PIL import Image

    out = np.empty_like(frames)
    for k, frame in enumerate(frames):
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=int(quality))
        buffer.seek(0)
        with Image.open(buffer) as im:
            out[k] = np.asarray(im.convert("RGB"))
    return out


def scale_brightness(frames: np.ndarray, factor: float) -> np.ndarray:
    """Pixel values times ``factor`` (darker below 1)."""
    return _to_uint8(frames.astype(np.float64) * factor)


def scale_contrast(frames: np.ndarray, factor: float) -> np.ndarray:
    """Each frame's pixel values pulled towards its mean by ``factor`` (flatter below 1)."""
    x = frames.astype(np.float64)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return _to_uint8(mean + (x - mean) * factor)


def occlusion_region(mask: np.ndarray, share: float) -> np.ndarray:
    """``bool [T, H, W]``: per frame, the band over the object's top rows (across its columns) that covers
    ``share`` of its pixels (the band's last row is the first that reaches it); empty where the object is not."""
    region = np.zeros(mask.shape, dtype=bool)
    for k in range(len(mask)):
        rows = mask[k].sum(axis=1)
        total = rows.sum()
        if total == 0 or share <= 0:
            continue
        covered_rows = np.flatnonzero(rows)
        cumulative = np.cumsum(rows[covered_rows])
        last = covered_rows[min(int(np.searchsorted(cumulative, share * total)), len(covered_rows) - 1)]
        columns = np.flatnonzero(mask[k].any(axis=0))
        region[k, covered_rows[0]: last + 1, columns[0]: columns[-1] + 1] = True
    return region


def occlude_object(frames: np.ndarray, mask: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, visible)``: per frame, the object's top rows covered by a grey band until ``share`` of its
    pixels are covered (:func:`occlusion_region`), and the object's mask less the covered pixels. ``mask`` is
    ``bool [T, H, W]``; a frame without the object is left as it is."""
    region = occlusion_region(mask, share)
    out = frames.copy()
    out[region] = OCCLUDER_GREY
    return out, mask & ~region


def corrupt_frames(frames: np.ndarray, family: str, severity: int, mask: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """``(frames, expected mask)`` under ``family`` (:data:`VISUAL_SEVERITIES`) at ``severity`` 1-5; the mask
    changes only for ``occlusion`` (which needs it).

    Raises:
        ValueError: an unknown family or severity, or occlusion without a mask.
    """
    if family not in VISUAL_SEVERITIES:
        raise ValueError(f"unknown visual corruption {family!r}; the families are {', '.join(VISUAL_SEVERITIES)}")
    if not 1 <= severity <= len(VISUAL_SEVERITIES[family]):
        raise ValueError(f"severity must be 1 to {len(VISUAL_SEVERITIES[family])}, got {severity}")
    value = VISUAL_SEVERITIES[family][severity - 1]
    if family == "occlusion":
        if mask is None:
            raise ValueError("occlusion needs the sounding object's mask")
        return occlude_object(frames, mask, value)
    transform = {"gaussian_blur": gaussian_blur, "motion_blur": motion_blur, "jpeg": jpeg,
                 "brightness": scale_brightness, "contrast": scale_contrast}[family]
    return transform(frames, value), mask
