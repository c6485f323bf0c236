"""``prior_slope``: how strongly a model's in-distribution prior follows how often each class sounds in training.

Per class, the coverage of its visible objects that do not sound under the original audio (clip-averaged, as
``silent_object_coverage``); the slope of a least-squares line of that coverage on the class's training
sounding frequency, over the classes with silent objects. A model with no visual prior covers silent objects
alike whatever their class (slope 0); one that segments what usually sounds covers silent pianos more than
silent bells (slope > 0). Unlike ``prior_corr`` it is measured where the audio is in distribution, and it is
a size, not a rank. The interval resamples clips.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from avsprobe.metrics import bias
from avsprobe.metrics.catalog import BiasMetric, from_info, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["prior_slope"]


def prior_slope(records: pd.DataFrame, train_frequency: dict[str, float]) -> bias.MetricValue:
    """The slope of per-class silent-object coverage on the training sounding frequency, with its interval."""
    def slope(means: np.ndarray, frequency: np.ndarray) -> float:
        if means.size < 2 or np.ptp(frequency) == 0:
            return math.nan
        return float(np.polyfit(frequency, means, 1)[0])

    return bias.class_profile_metric(bias._object_coverage_negative(records, silent_only=True), train_frequency,
                                     "prior_slope", slope)


register(BiasMetric(
    "prior_slope", "under the original audio, the least-squares slope over classes of the coverage of silent "
    "visible objects (per class, clip-averaged) on the class's training sounding frequency (0: no prior; in "
    "distribution, unlike prior coverage under digital silence)", False, "coverage per unit frequency",
    ("negative",), needs_info=("train_sounding_frequency",), family=("prior", 9),
    compute=from_info("prior_slope", "train_sounding_frequency", prior_slope), order=135.0))
