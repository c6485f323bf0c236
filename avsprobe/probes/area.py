"""The visual area probe: frames and masks rescaled so the target covers a set fraction of the frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from avsprobe.errors import ConfigError
from avsprobe.probes.base import (
    Condition,
    Probe,
    ProbedSample,
    class_names_of,
    require_sounding,
    sounding_objects,
)
from avsprobe.probes.geometry import rescale_to_area
from avsprobe.types import AVSample

__all__ = ["AreaProbe"]


class AreaProbe(Probe):
    """Zoom-crop or shrink-pad about the target's box so it covers each area fraction (supplement A.1).

    The target is the largest sounding object (or the sounding mask, for data without objects). The area
    reached is recorded; when it misses the asked fraction by more than ``tolerance`` (an object too
    elongated to grow that much inside the frame) ``applied["area_reached_ok"]`` is False.
    """

    name = "area"
    modality = "visual"

    def __init__(self, *, area_fracs: Sequence[float] = (0.05, 0.10, 0.20, 0.35, 0.50), tolerance: float = 0.02) -> None:
        fracs = tuple(float(a) for a in area_fracs)
        if not fracs or any(not 0 < a < 1 for a in fracs):
            raise ConfigError(f"area_fracs must lie in (0, 1), got {list(area_fracs)}")
        self.area_fracs = fracs
        self.tolerance = float(tolerance)

    def params(self) -> dict:
        return {"area_fracs": list(self.area_fracs), "tolerance": self.tolerance}

    def conditions(self) -> list[Condition]:
        return [Condition(self.name, "original", 0, {}, True)] + [
            Condition(self.name, f"area{a:.2f}", i + 1, {"area_frac": a}) for i, a in enumerate(self.area_fracs)]

    def apply(self, sample: AVSample, condition: Condition, rng: np.random.Generator) -> ProbedSample:
        require_sounding(sample, self.name)
        objects = sounding_objects(sample)
        target = max(objects, key=lambda o: (int(o.mask.sum()), o.object_id)).mask if objects else sample.mask
        if condition.is_baseline:
            return self._baseline(sample, condition, {"target": target.copy()})
        asked = condition.params["area_frac"]
        semantic = sample.semantic_mask
        class_masks = {} if semantic is None else {f"class{c}": semantic == c for c in np.unique(semantic) if c > 0}
        frames, masks, reached = rescale_to_area(
            sample.frames, {"target": target, "expected": sample.mask, **class_masks}, "target", asked)
        labels = None
        if semantic is not None:
            labels = np.zeros(sample.mask.shape, dtype=np.int16)
            for key in class_masks:
                labels[masks[key]] = int(key[len("class"):])
        return ProbedSample(sample.sample_id, condition.condition_id, sample.audio.copy(), frames, masks["expected"],
                            {"target": masks["target"]}, sample.annotated.copy(),
                            {"area_reached": reached, "area_reached_ok": abs(reached - asked) <= self.tolerance}, labels,
                            masks["expected"].copy(), class_names_of(sample))
