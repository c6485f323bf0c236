"""Intervals of statistics that are not means of per-clip values (the dataset-level F-score)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from avsprobe.metrics.bias import RESAMPLES, MetricValue, percentile_interval, resample_weights
from avsprobe.metrics.binary import BinaryFrameStats, canonical_fscore, frame_fscore_curves

if TYPE_CHECKING:
    import pandas as pd

    from avsprobe.metrics.binary import BinaryFrameStats

__all__ = ["fscore_with_interval", "seed_interval", "frame_stats_of"]


def frame_stats_of(rows: pd.DataFrame) -> BinaryFrameStats:
    """The records' per-frame counts (scored rows of one frame size, in their order) as ``BinaryFrameStats``."""
    return BinaryFrameStats(rows.intersection.to_numpy(np.int64), rows.pred_area.to_numpy(np.int64),
                            rows.expected_area.to_numpy(np.int64), int(rows.num_pixels.iloc[0]),
                            np.stack(rows.tp_at.to_numpy()).astype(np.int64),
                            np.stack(rows.pp_at.to_numpy()).astype(np.int64))


def seed_interval(values: np.ndarray | list[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(mean, low, high)`` over training seeds: the Student t-interval of the seed mean, ``mean +- t *
    sd / sqrt(n)`` (n - 1 degrees of freedom), which treats each seed as one draw of the training. Between-seed
    variance can dwarf the clips' (the bias-lab audit measured 50x), so this, not a clip bootstrap, says
    whether another set of seeds would agree. NaN bounds with fewer than two seeds."""
    from scipy.stats import t

    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    half = float(t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def fscore_with_interval(rows: pd.DataFrame, *, seed: int = 0, resamples: int = RESAMPLES) -> MetricValue:
    """``fscore.canonical`` of per-frame records and its percentile 95 % interval over clips.

    Each resample draws clips with replacement and recomputes the dataset-level curve from the stored
    per-frame counts (the mean F curve over the drawn clips' frames with an object, then its maximum).
    """
    stats = frame_stats_of(rows)
    value = canonical_fscore(stats)
    clips, clip_of_frame = np.unique(rows.sample_id.to_numpy(), return_inverse=True)
    valid = stats.gt_area > 0
    if not valid.any():
        return MetricValue("fscore", value, math.nan, math.nan, len(clips))
    curves = frame_fscore_curves(stats.take(valid))
    curve_sums = np.zeros((len(clips), curves.shape[1]))
    np.add.at(curve_sums, clip_of_frame[valid], curves)
    counts = np.bincount(clip_of_frame[valid], minlength=len(clips)).astype(np.float64)
    n = len(clips)
    weights = resample_weights(n, seed=seed, resamples=resamples)
    frames = weights @ counts
    with np.errstate(invalid="ignore", divide="ignore"):
        best = ((weights @ curve_sums) / frames[:, None]).max(axis=1)
    best = best[frames > 0]
    # a max over thresholds: resamples are biased upward, so the interval is median-corrected
    low, high = percentile_interval(best, value, median_corrected=True) if best.size else (math.nan, math.nan)
    return MetricValue("fscore", value, float(low), float(high), n)
