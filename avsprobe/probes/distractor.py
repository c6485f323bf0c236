"""A silent moving distractor: a visible object of a usually-sounding class that makes no sound (bias lab).

The ``distractor`` condition paints, over the clip's frames, an object of the class the world makes most likely
to sound (the highest ``sounding_probability`` of the world spec among the classes not already in the clip, or
``class_name``), drawn as the bias lab draws that class, crossing the frame from left to right along the row
band that overlaps the sounding objects least. The audio is unchanged, so the distractor is silent: a model
that follows the audio leaves it out, one led by the visual prior covers it. Where it passes in front of a
sounding object, the expected mask loses the covered pixels. ``object_masks["distractor"]`` is its mask per frame.
"""

from __future__ import annotations

import numpy as np

from avsprobe.data.biaslab.spec import load_world_spec
from avsprobe.data.biaslab.visuals import paste, render_patch
from avsprobe.errors import ConfigError, ProbeNotApplicable
from avsprobe.probes.base import Condition, Probe, ProbedSample, class_names_of
from avsprobe.types import AVSample

__all__ = ["DistractorProbe"]


class DistractorProbe(Probe):
    """A moving, visible, silent object of a usually-sounding class (bias-lab clips)."""

    name = "distractor"
    modality = "visual"

    def __init__(self, *, class_name: str | None = None, size_frac: float = 0.12) -> None:
        if not 0.02 <= float(size_frac) <= 0.3:
            raise ConfigError(f"distractor: size_frac must lie in [0.02, 0.3], got {size_frac!r}")
        self.class_name = class_name
        self.size_frac = float(size_frac)
        self._spec: object | None = None  # the world spec, read once at the first clip

    def params(self) -> dict:
        return {"class_name": self.class_name, "size_frac": self.size_frac}

    def conditions(self) -> list[Condition]:
        return [Condition(self.name, "original", 0, {}, True), Condition(self.name, "distractor", 1, {})]

    def _class(self, spec: object, sample: AVSample) -> object:
        names = set(spec.class_names)  # type: ignore[attr-defined]
        present = {o.class_name for o in sample.objects}
        if not present or not present <= names:
            raise ProbeNotApplicable(f"distractor: sample {sample.sample_id!r} is not a bias-lab clip (its classes "
                                     "are not the world's)")
        if self.class_name is not None:
            return spec.class_spec(self.class_name)  # type: ignore[attr-defined]
        ranked = sorted(spec.classes, key=lambda c: (-c.sounding_probability, c.name))  # type: ignore[attr-defined]
        return next((c for c in ranked if c.name not in present), ranked[0])

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        if condition.is_baseline:
            return self._baseline(sample, condition, {"sounding": sample.mask.copy()})
        if self._spec is None:
            self._spec = load_world_spec()
        cls = self._class(self._spec, sample)
        frames_n, size = sample.frames.shape[0], sample.frames.shape[1]
        patch_mask, rgb = render_patch(cls.shape, np.asarray(cls.colour, dtype=np.float64), self.size_frac * size)
        half = patch_mask.shape[0] // 2
        row = self._row(sample.mask, half)
        columns = np.linspace(half, size - 1 - half, frames_n).round().astype(int)
        frames = sample.frames.copy()
        drawn = np.zeros(sample.mask.shape, dtype=np.uint8)
        for t in range(frames_n):
            paste(frames[t], drawn[t], patch_mask, rgb, (row, int(columns[t])), 1)
        distractor = drawn.astype(bool)
        expected = sample.mask & ~distractor
        labels = None if sample.semantic_mask is None else np.where(expected, sample.semantic_mask, 0).astype(np.int16)
        occluded = float((sample.mask & distractor).sum() / max(1, sample.mask.sum()))
        return ProbedSample(sample.sample_id, condition.condition_id, sample.audio.copy(), frames, expected,
                            {"distractor": distractor, "sounding": expected.copy()}, sample.annotated.copy(),
                            {"distractor_class": cls.name, "row": row, "columns": [int(c) for c in columns],
                             "occluded_share": occluded}, labels, expected.copy(), class_names_of(sample))

    @staticmethod
    def _row(mask: np.ndarray, half: int) -> int:
        """The centre row whose band of ``2 half + 1`` rows holds the fewest sounding pixels over the clip."""
        per_row = mask.sum(axis=(0, 2))
        size = len(per_row)
        rows = np.arange(half, size - half)
        band = np.array([per_row[r - half: r + half + 1].sum() for r in rows])
        return int(rows[int(np.argmin(band))])
