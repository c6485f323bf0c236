"""Rescaling frames and masks about an object so it covers a chosen fraction of the frame."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["rescale_about", "rescale_to_area"]


def _affine(image: np.ndarray, scale: float, centre_rc: tuple[float, float], target_rc: tuple[float, float],
            nearest: bool, fill: tuple[int, ...] | int) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    # output (x, y) samples input ((x - tx) / s + cx, (y - ty) / s + cy)
    cx, cy, tx, ty = centre_rc[1], centre_rc[0], target_rc[1], target_rc[0]
    coeffs = (1 / scale, 0, cx - tx / scale, 0, 1 / scale, cy - ty / scale)
    resample = Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR
    out = Image.fromarray(image).transform((w, h), Image.Transform.AFFINE, coeffs, resample=resample, fillcolor=fill)
    return np.asarray(out)


def rescale_about(frames: np.ndarray, masks: dict[str, np.ndarray], centre_rc: tuple[float, float], scale: float
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Zoom (``scale > 1``, a crop) or shrink (``scale < 1``, padded with the frame's mean colour) about a point.

    The point moves towards the frame centre just enough to keep the zoomed view inside the frame.

    Args:
        frames: ``uint8 [T, H, W, 3]``.
        masks: ``name -> bool [T, H, W]``, resampled with nearest neighbour.
        centre_rc: the point (row, col) to scale about, e.g. an object's box centre.
        scale: linear scale factor.
    """
    t, h, w = frames.shape[:3]
    cy, cx = centre_rc
    if scale >= 1:
        # keep the source window [c - size/2s, c + size/2s] inside the frame
        half_h, half_w = h / (2 * scale), w / (2 * scale)
        cy, cx = min(max(cy, half_h), h - half_h), min(max(cx, half_w), w - half_w)
        target = (h / 2, w / 2)
    else:
        target = (h / 2 + (cy - h / 2) * scale, w / 2 + (cx - w / 2) * scale)
    fill = tuple(int(v) for v in frames.reshape(-1, 3).mean(axis=0))
    new_frames = np.stack([_affine(frames[i], scale, (cy, cx), target, False, fill) for i in range(t)])
    new_masks = {k: np.stack([_affine(m[i].astype(np.uint8) * 255, scale, (cy, cx), target, True, 0) > 127
                              for i in range(t)]) for k, m in masks.items()}
    return new_frames, new_masks


def rescale_to_area(frames: np.ndarray, masks: dict[str, np.ndarray], target_key: str, area_frac: float
                    ) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
    """Rescale so ``masks[target_key]`` covers ``area_frac`` of the frame on average.

    One refinement step corrects for clipping at the frame edge and pixel rounding.

    Returns:
        frames, masks, and the area fraction reached (mean over frames).
    """
    target = masks[target_key]
    t, h, w = target.shape
    current = target.reshape(t, -1).mean(axis=1).mean()
    if current <= 0:
        raise ValueError("the target object is absent")
    rows, cols = np.nonzero(target.any(axis=0))
    centre = ((rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2)
    scale = math.sqrt(area_frac / current)
    out_frames, out_masks = rescale_about(frames, masks, centre, scale)
    reached = out_masks[target_key].reshape(t, -1).mean(axis=1).mean()
    if reached > 0 and abs(reached - area_frac) > 0.005:
        scale *= math.sqrt(area_frac / reached)
        out_frames, out_masks = rescale_about(frames, masks, centre, scale)
        reached = out_masks[target_key].reshape(t, -1).mean(axis=1).mean()
    return out_frames, out_masks, float(reached)
