"""Other papers' negative-audio protocols, computed from the records of the ``negative`` probe.

* **AVSBench-Robust** (Li et al., "Do audio-visual segmentation models truly segment sounding objects?",
  2025): under each negative audio, mIoU and F scored against the clip's *original* positive masks (the
  masks of what sounded in the unprobed clip; the records keep those counts as ``original_*``), and FPR as
  they compute it: per frame the fraction of pixels with sigmoid > 0.5, averaged over frames. Their G-mIoU,
  G-F and G-FPR have no public definition and are left out.
* **Negative-audio sound-source localisation** (Juanola, Haro, Fuentes, ICASSP 2025): ``pIA``, the share
  of the frame (in %) predicted active under negative audio, per clip then averaged; ``AOC``, the area over
  the curve ``y(t)`` = fraction of clips with pIA <= t, for t = 0, 0.05, ..., 1 (pIA as a fraction;
  trapezoid rule over the 21 points: 0 when every clip predicts nothing, 0.975 when every clip predicts the
  whole frame); and
  ``HM``, the harmonic mean of the positive performance ``P`` (100 x the run's mIoU with the original
  audio) and ``100 - pIA``.

Every value is over annotated frames, with a bootstrap 95 % interval over clips where one applies.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from avsprobe.metrics.bias import (
    PRIOR_CONDITIONS,
    MetricValue,
    _metric,
    ok_rows,
    percentile_interval,
    resample_weights,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NEGATIVE_LABELS", "AOC_THRESHOLDS", "robust_protocol", "ssl_protocol", "aoc"]

NEGATIVE_LABELS = PRIOR_CONDITIONS
"""The negative conditions each protocol is reported for: the ones ``prior_coverage`` keeps apart."""
AOC_THRESHOLDS = np.round(np.linspace(0.0, 1.0, 21), 2)


def _negative_frames(records: pd.DataFrame, label: str) -> pd.DataFrame:
    rows = ok_rows(records, "negative")
    return rows[(rows.condition_label == label) & rows.annotated.astype(bool)]


def _against_original(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows' counts against the original masks (the expected ones where no ``original_*`` was recorded:
    the probe left the expected mask as it was)."""
    out = rows.copy()
    if "original_intersection" not in out:
        return out
    has = out.original_intersection.notna().to_numpy()
    out.loc[has, "intersection"] = out.loc[has, "original_intersection"]
    out.loc[has, "union"] = out.loc[has, "original_union"]
    out.loc[has, "expected_area"] = out.loc[has, "original_area"]
    out["tp_at"] = [o if h else t for o, t, h in zip(out.original_tp_at, out.tp_at, has, strict=True)]
    return out


def robust_protocol(records: pd.DataFrame) -> dict[str, dict[str, MetricValue]]:
    """Per negative condition: ``miou`` and ``fscore`` against the original masks, and ``fpr``."""
    from avsprobe.report.compute import fscore_with_interval

    out = {}
    for label in NEGATIVE_LABELS:
        rows = _negative_frames(records, label)
        if rows.empty:
            continue
        scored = _against_original(rows)
        union = scored.union.to_numpy(np.float64)
        inter = scored.intersection.to_numpy(np.float64)
        pred = scored.pred_area.to_numpy(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, inter / union, (pred == 0).astype(np.float64))  # empty mask: 1 if nothing predicted
        per_clip = scored.assign(iou=iou).groupby("sample_id").iou.mean()
        fpr = _pooled_frame_mean(scored.sample_id.to_numpy(), pred / scored.num_pixels.to_numpy(np.float64))
        out[label] = {"miou": _metric(f"robust_miou@{label}", per_clip.to_numpy()),
                      "fscore": fscore_with_interval(scored), "fpr": fpr}
    return out


def _pooled_frame_mean(clips: np.ndarray, values: np.ndarray) -> MetricValue:
    """The mean over frames (pooled, as AVSBench-Robust averages) with a clip-bootstrap interval."""
    names, index = np.unique(clips, return_inverse=True)
    sums = np.bincount(index, weights=values, minlength=len(names))
    counts = np.bincount(index, minlength=len(names)).astype(np.float64)
    weights = resample_weights(len(names))
    point = float(sums.sum() / counts.sum())
    low, high = percentile_interval((weights @ sums) / (weights @ counts), point)
    return MetricValue("fpr", point, low, high, len(names))


def aoc(pia_fractions: np.ndarray) -> float:
    """Area over the curve of the fraction of clips with pIA <= t (t = 0, 0.05, ..., 1), trapezoid rule."""
    values = np.asarray(pia_fractions, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan
    above = 1.0 - (values[None, :] <= AOC_THRESHOLDS[:, None] + 1e-12).mean(axis=1)
    return float(((above[1:] + above[:-1]) / 2 * np.diff(AOC_THRESHOLDS)).sum())


def ssl_protocol(records: pd.DataFrame, positive_miou: float | None) -> dict[str, dict[str, MetricValue]]:
    """Per negative condition: ``pia`` (%), ``aoc`` and ``hm`` (with ``P = 100 x positive_miou``)."""
    out = {}
    for label in NEGATIVE_LABELS:
        rows = _negative_frames(records, label)
        if rows.empty:
            continue
        per_clip = (rows.pred_area / rows.num_pixels).groupby(rows.sample_id).mean().to_numpy(np.float64)
        pia = _metric(f"pia@{label}", 100.0 * per_clip)
        values = {"pia": pia, "aoc": _metric(f"aoc@{label}", per_clip, aoc)}
        if positive_miou is not None and math.isfinite(positive_miou):
            p = 100.0 * positive_miou

            def hm(x: np.ndarray, p: float = p) -> float:
                rest = 100.0 - 100.0 * float(np.nanmean(x))
                return 0.0 if p + rest == 0 else 2 * p * rest / (p + rest)

            values["hm"] = _metric(f"hm@{label}", per_clip, hm)
        out[label] = values
    return out
