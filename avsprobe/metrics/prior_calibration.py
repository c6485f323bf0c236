"""``prior_calibration``: whether a model's prior, where the audio leaves the answer open, follows the answer
the world makes optimal.

On world v3 of the bias lab, a share of train clips carries only the background bed, labels kept, so
P(an object sounds | its class, bed-only audio) is a number the plans give (``world.json``'s
``posterior_bed``). Under the ``background`` negative condition (that same bed, in distribution) a model
calibrated to the training data covers each class's objects in that order. ``prior_calibration`` is the
Spearman correlation over classes of the per-class coverage under the bed with ``posterior_bed``, with a
clip-bootstrap interval. A model that follows only the audio covers nothing there (no correlation defined);
a debiased model should have a flat profile, whatever its correlation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from avsprobe.metrics import bias
from avsprobe.metrics.catalog import BiasMetric, from_info, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["prior_calibration"]


def prior_calibration(records: pd.DataFrame, posterior: dict[str, float]) -> bias.MetricValue:
    """Spearman over classes of clip-averaged coverage under the background bed with the class posterior."""
    known = {c: p for c, p in posterior.items() if math.isfinite(p)}  # a class never seen under the bed alone
    return bias.class_profile_metric(bias._object_coverage_negative(records, {"background"}), known,
                                     "prior_calibration", bias.spearman_over_classes, min_classes=3)


register(BiasMetric(
    "prior_calibration", "under the data's background bed alone (in distribution), the Spearman correlation over "
    "classes of the per-class object coverage with P(sounds | class, bed-only audio) counted from the training "
    "plans (bias lab world v3's posterior_bed)", None, "Spearman rho", ("negative",), needs_info=("posterior_bed",),
    family=("prior", 10),
    compute=from_info("prior_calibration", "posterior_bed", prior_calibration), order=136.0))
