"""``prior_score_calibration``: ``prior_calibration`` without the threshold.

``prior_calibration`` correlates the per-class *coverage* under the bed (pixels above 0.5) with
``posterior_bed``. A calibrated model gives each object of a class its posterior as probability, so it covers
the classes whose posterior exceeds 0.5 and none of the others: a step, whose correlation with the posterior is
below 1 however well calibrated the model is (0.756 on world v3's posteriors). This metric correlates the
per-class mean predicted probability over the object (``object_score``, averaged over frames, then clips)
instead: a calibrated model scores 1 (``reports/worldv3/score-calibration-rule.md``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from avsprobe.metrics import bias
from avsprobe.metrics.catalog import BiasMetric, from_info, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["prior_score_calibration"]


def prior_score_calibration(records: pd.DataFrame, posterior: dict[str, float]) -> bias.MetricValue:
    """Spearman over classes of the clip-averaged mean object probability under the background bed with the class
    posterior."""
    known = {c: p for c, p in posterior.items() if math.isfinite(p)}
    scores = bias._object_coverage_negative(records, {"background"}, column="object_score")
    return bias.class_profile_metric(scores, known, "prior_score_calibration", bias.spearman_over_classes,
                                     min_classes=3)


register(BiasMetric(
    "prior_score_calibration", "under the data's background bed alone (in distribution), the Spearman correlation "
    "over classes of the per-class mean predicted probability over the object with P(sounds | class, bed-only "
    "audio) (posterior_bed): prior_calibration without the 0.5 threshold, so a calibrated model scores 1", None,
    "Spearman rho", ("negative",), needs_info=("posterior_bed",), needs_columns=("object_score",),
    family=("prior", 12), compute=from_info("prior_score_calibration", "posterior_bed", prior_score_calibration),
    order=136.5))
