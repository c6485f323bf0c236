"""Procedural visuals of the bias lab: a textured background and one shape, colour and texture per class.

An object is rendered once as a patch (mask + RGB) in normalised coordinates ``(u, v) = (x - cx, y - cy) /
scale``, then pasted at its drifting position in every frame, so all frames show the same object.

| shape            | class  | look |
|------------------|--------|------|
| keyboard         | piano  | dark box, white keys with black-key stripes |
| figure_eight     | guitar | two overlapping discs with a dark sound hole |
| ring             | drum   | disc with a light rim ring |
| car              | car    | body, cabin and two black wheels |
| spotted_ellipse  | dog    | wide ellipse with dark spots |
| person           | man    | body ellipse and a lighter head |
| triangle         | bird   | triangle pointing right with a dark eye |
| bell             | bell   | flared trapezoid with a knob and a dark band |
"""

from __future__ import annotations

import numpy as np

__all__ = ["PATCH_EXTENT", "render_background", "render_patch", "paste"]

PATCH_EXTENT = 1.25
"""Every shape lies within |u|, |v| <= 1.2; patches span +-PATCH_EXTENT * scale."""


def render_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """``uint8 [size, size, 3]``: a muted two-colour gradient with smooth blotches and fine grain."""
    colours = rng.uniform(70, 150, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:size, 0:size] / size
    ramp = (np.cos(angle) * x + np.sin(angle) * y)
    ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-9)
    image = colours[0] * (1 - ramp[..., None]) + colours[1] * ramp[..., None]
    coarse = rng.normal(0, 10, (8, 8, 3))
    blotches = np.kron(coarse, np.ones((size // 8 + 1, size // 8 + 1, 1)))[:size, :size]
    image += blotches + rng.normal(0, 4, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def _disc(u: np.ndarray, v: np.ndarray, cu: float, cv: float, r: float) -> np.ndarray:
    return (u - cu) ** 2 + (v - cv) ** 2 <= r * r


def _shape(shape: str, u: np.ndarray, v: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mask and RGB (float) of ``shape`` on the normalised grid."""
    rgb = np.broadcast_to(base, u.shape + (3,)).copy()
    light = np.minimum(base + 110, 255)
    dark = base * 0.35
    if shape == "keyboard":
        mask = (np.abs(u) <= 1.0) & (np.abs(v) <= 0.6)
        keys = mask & (v > -0.15) & (np.abs(u) <= 0.92)
        rgb[keys] = (235, 235, 230)
        black_keys = keys & (v < 0.25) & (np.mod((u + 1) / 0.22, 1.0) > 0.55)
        rgb[black_keys] = (15, 15, 15)
    elif shape == "figure_eight":
        mask = _disc(u, v, 0, -0.38, 0.45) | _disc(u, v, 0, 0.3, 0.62)
        rgb[_disc(u, v, 0, 0.2, 0.17)] = dark
    elif shape == "ring":
        r = np.hypot(u, v)
        mask = r <= 0.9
        rgb[(r > 0.58) & (r < 0.72)] = light
    elif shape == "car":
        body = (np.abs(u) <= 1.1) & (v >= -0.3) & (v <= 0.35)
        cabin = (np.abs(u) <= 0.55) & (v >= -0.68) & (v < -0.3)
        wheels = _disc(u, v, -0.62, 0.42, 0.26) | _disc(u, v, 0.62, 0.42, 0.26)
        mask = body | cabin | wheels
        rgb[cabin & (np.abs(u) <= 0.45) & (v > -0.6)] = light
        rgb[wheels] = (20, 20, 20)
    elif shape == "spotted_ellipse":
        mask = (u / 1.1) ** 2 + (v / 0.65) ** 2 <= 1
        rgb[mask & (np.sin(7 * u) * np.sin(7 * v + 1) > 0.55)] = dark
    elif shape == "person":
        body = (u / 0.45) ** 2 + ((v - 0.28) / 0.72) ** 2 <= 1
        head = _disc(u, v, 0, -0.72, 0.3)
        mask = body | head
        rgb[head] = np.minimum(base * 1.1 + 15, 255)
    elif shape == "triangle":
        mask = (u >= -0.8) & (v >= -0.6 * (0.9 - u) / 1.7) & (v <= 0.6 * (0.9 - u) / 1.7)
        rgb[_disc(u, v, 0.25, -0.05, 0.09)] = (10, 10, 10)
    elif shape == "bell":
        half_width = 0.32 + 0.5 * (v + 0.7) / 1.3
        flare = (v >= -0.7) & (v <= 0.6) & (np.abs(u) <= half_width)
        knob = _disc(u, v, 0, -0.8, 0.13)
        mask = flare | knob
        rgb[flare & (v > 0.32) & (v < 0.44)] = dark
    else:
        raise ValueError(f"unknown shape {shape!r}")
    shading = 1.08 - 0.16 * (v + 1.2) / 2.4  # light from above
    return mask, rgb * shading[..., None]


def render_patch(shape: str, colour: np.ndarray, scale_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Render one object.

    Args:
        shape: one of the shapes above.
        colour: RGB base colour (floats, after jitter).
        scale_px: half-extent of the shape in pixels.

    Returns:
        ``mask bool [P, P]`` and ``rgb uint8 [P, P, 3]`` with ``P = 2 * ceil(PATCH_EXTENT * scale_px) + 1``;
        the object's centre is the patch centre.
    """
    half = int(np.ceil(PATCH_EXTENT * scale_px))
    offsets = np.arange(-half, half + 1) / scale_px
    v, u = np.meshgrid(offsets, offsets, indexing="ij")
    mask, rgb = _shape(shape, u, v, np.asarray(colour, dtype=np.float64))
    return mask, np.clip(rgb, 0, 255).astype(np.uint8)


def paste(
    frame: np.ndarray, instance_map: np.ndarray, mask: np.ndarray, rgb: np.ndarray, centre: tuple[int, int], value: int
) -> None:
    """Paste a patch centred at ``centre = (row, col)`` into a frame and its instance map (in place).

    Pixels outside the frame are cut off; ``value`` is written into ``instance_map`` where the mask is.
    """
    size_y, size_x = frame.shape[:2]
    half = mask.shape[0] // 2
    top, left = centre[0] - half, centre[1] - half
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + mask.shape[0], size_y), min(left + mask.shape[1], size_x)
    if y0 >= y1 or x0 >= x1:
        return
    m = mask[y0 - top : y1 - top, x0 - left : x1 - left]
    frame[y0:y1, x0:x1][m] = rgb[y0 - top : y1 - top, x0 - left : x1 - left][m]
    instance_map[y0:y1, x0:x1][m] = value
