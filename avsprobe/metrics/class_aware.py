"""Metrics of semantic (class-predicting) models, from the records of a semantic run.

* ``semantic_scores``: AVSS semantic mIoU and F on the unprobed conditions, as the reference computes them
  (``miou.avss``/``fscore.avss``: per-class values averaged over the frames where the class occurs, summed,
  divided by all K classes, background included) and over the classes present (``miou.avss.present``),
  each with a clip-bootstrap interval (resampled clips' per-class sums recombined).
* ``class_follow_rate`` (swap): swapped frames whose new source object is predicted as the new sound's class.
* ``offscreen_class_paint`` (negative/offscreen): visible objects painted with the off-screen sound's class,
  the share of (frame, object) pairs, per clip.
* ``semantic_class_accuracy`` (semantic probe): per class, the frames whose target object is predicted as
  that class, at equal loudness and area.

Predicted classes are each object's most frequent predicted class (``object_pred_class``); class names map to
the model's indices through ``run.json``'s ``model_classes``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import numpy as np

from avsprobe.metrics.bias import (
    RESAMPLES,
    MetricValue,
    _metric,
    ok_rows,
    percentile_interval,
    resample_weights,
)
from avsprobe.metrics.semantic import SemanticFrameStats, avss_scores, frame_class_values
from avsprobe.records import object_values

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["semantic_scores", "class_follow_rate", "offscreen_class_paint", "semantic_class_accuracy"]


def _avss_from_sums(iou: np.ndarray, f: np.ndarray, seen: np.ndarray, present_only: bool) -> tuple[float, float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        per_iou = np.where(seen > 0, iou / seen, np.nan)
        per_f = np.where(seen > 0, f / seen, np.nan)
    if present_only:
        keep = seen > 0
        return (float(per_iou[keep].mean()), float(per_f[keep].mean())) if keep.any() else (math.nan, math.nan)
    return float(np.nan_to_num(per_iou).sum() / len(seen)), float(np.nan_to_num(per_f).sum() / len(seen))


def semantic_scores(records: pd.DataFrame, *, seed: int = 0, resamples: int = RESAMPLES) -> dict[str, MetricValue]:
    """AVSS semantic mIoU and F (reference-exact and over present classes) on the baseline conditions."""
    if "sem_intersection" not in records:
        return {}
    rows = ok_rows(records, baseline=True)
    rows = rows[rows.sem_intersection.notna()].drop_duplicates(["sample_id", "frame"])
    if rows.empty:
        return {}
    stats = SemanticFrameStats(np.stack(rows.sem_intersection.to_numpy()).astype(np.int64),
                               np.stack(rows.sem_pred.to_numpy()).astype(np.int64),
                               np.stack(rows.sem_label.to_numpy()).astype(np.int64))
    # per-frame per-class values exactly as avss_scores computes them, summed per clip
    clips, clip_of = np.unique(rows.sample_id.to_numpy(), return_inverse=True)
    sums = [np.zeros((len(clips), stats.num_classes)) for _ in range(3)]
    for target, values in zip(sums, frame_class_values(stats), strict=True):
        np.add.at(target, clip_of, values.astype(np.float64))
    n = len(clips)
    weights = resample_weights(n, seed=seed, resamples=resamples)
    resampled = [weights @ s for s in sums]  # [resamples, K] each
    out = {}
    for name, present, key in (("miou_avss", False, 0), ("fscore_avss", False, 1), ("miou_avss_present", True, 0)):
        point = avss_scores(stats, class_average="present" if present else "all")["fscore" if key else "miou"]
        values = np.array([_avss_from_sums(resampled[0][i], resampled[1][i], resampled[2][i], present)[key]
                           for i in range(resamples)])
        values = values[np.isfinite(values)]
        low, high = percentile_interval(values, point, median_corrected=True) if values.size else (math.nan, math.nan)
        out[name] = MetricValue(name, float(point), low, high, n)
    return out


def _class_index(classes: list[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(classes)}


def _object_classes(rows: pd.DataFrame) -> list[dict[str, int]]:
    return object_values(rows, "object_pred_class")


def class_follow_rate(records: pd.DataFrame, classes: list[str]) -> MetricValue:
    """Per clip: swapped frames whose new object is predicted as the swapped-in sound's class; averaged."""
    rows = ok_rows(records, "swap", baseline=False)
    if rows.empty or "object_pred_class" not in rows:
        return MetricValue("class_follow_rate", math.nan, math.nan, math.nan, 0)
    index = _class_index(classes)
    wanted = [index.get(json.loads(a).get("partner_class", ""), -2) for a in rows.applied]
    follows = [float(pred.get("new") == w) for pred, w in zip(_object_classes(rows), wanted, strict=True)]
    per_clip = rows.assign(follows=follows).groupby("sample_id").follows.mean()
    return _metric("class_follow_rate", per_clip.to_numpy())


def offscreen_class_paint(records: pd.DataFrame, classes: list[str]) -> MetricValue:
    """Per clip: the share of (frame, visible object) pairs painted with the off-screen sound's class."""
    rows = ok_rows(records, "negative", baseline=False)
    rows = rows[rows.condition_label == "offscreen"]
    if rows.empty or "object_pred_class" not in rows:
        return MetricValue("offscreen_class_paint", math.nan, math.nan, math.nan, 0)
    index = _class_index(classes)
    painted = []
    for applied, pred, area in zip(rows.applied, _object_classes(rows), object_values(rows, "object_area"), strict=True):
        partner = index.get(json.loads(applied).get("partner_class", ""), -2)
        present = [name for name, pixels in area.items() if pixels > 0]
        painted.append(float(np.mean([pred.get(name) == partner for name in present])) if present else math.nan)
    per_clip = rows.assign(painted=painted).groupby("sample_id").painted.mean()
    return _metric("offscreen_class_paint", per_clip.dropna().to_numpy())


def semantic_class_accuracy(records: pd.DataFrame, classes: list[str]) -> dict[str, MetricValue]:
    """Per class of the semantic probe: frames whose target object is predicted as that class."""
    rows = ok_rows(records, "semantic", baseline=False)
    if rows.empty or "object_pred_class" not in rows:
        return {}
    index = _class_index(classes)
    hits = [float(pred.get("target") == index.get(label, -2))
            for pred, label in zip(_object_classes(rows), rows.condition_label, strict=True)]
    rows = rows.assign(hit=hits)
    return {str(label): _metric(f"semantic_class_accuracy@{label}", group.groupby("sample_id").hit.mean().to_numpy())
            for label, group in rows.groupby("condition_label")}
