"""Threshold-free evidence for the visual prior: whether a model tells sounding objects from silent ones of the
same class, and how much it covers silent objects once models are compared at the same recall.

A model that predicts less covers fewer silent objects and fewer sounding ones; a model that follows the audio
better covers fewer silent objects *at the same recall*. Both views read the ``negative`` probe's baseline rows
(the original audio, in distribution):

- ``sounding_auroc``: per class, the AUROC of sounding against silent visible objects, each object scored by
  its mean predicted probability (``object_score``, averaged over the clip's annotated frames); the mean over
  the classes that have both. 0.5: the model cannot tell them apart; 1: every sounding object scores above
  every silent one of its class. The interval resamples clips.
- :func:`matched_recall`: every model's operating point moved to the recall of sounding objects that the
  least-recalling model reaches at probability 0.5 (among the recalls the most models can reach), and its
  silent-object coverage read there (the records'
  per-object pixel counts at the thresholds of :data:`~avsprobe.metrics.binary.OBJECT_THRESHOLDS`,
  interpolated linearly between the two thresholds around it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.metrics import bias
from avsprobe.metrics.binary import OBJECT_THRESHOLDS
from avsprobe.metrics.catalog import BiasMetric, Contribution, register
from avsprobe.records import object_values

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["object_table", "weighted_auroc", "sounding_auroc", "operating_curve", "MatchedPoint", "matched_recall",
           "FLAT_RECALL"]


def _visible_objects(records: pd.DataFrame, column: str) -> Iterator[tuple[str, str, str, bool, Any, dict]]:
    """``(sample_id, object, class_name, sounding, value, areas)`` for each visible object of the ``negative``
    probe's original-audio rows: its value in the per-object ``column`` and the row's object areas."""
    rows = bias.ok_rows(records, "negative", baseline=True)
    if column not in rows.columns:
        return
    for sample_id, applied, values, areas in zip(rows.sample_id, rows.applied, object_values(rows, column),
                                                 object_values(rows, "object_area"), strict=True):
        applied = json.loads(applied)
        classes = applied.get("object_classes", {})
        silent = set(applied.get("silent_objects", []))
        for obj, value in values.items():
            if obj in classes:
                yield sample_id, obj, classes[obj], obj not in silent, value, areas


def object_table(records: pd.DataFrame) -> pd.DataFrame:
    """``[sample_id, object, class_name, sounding, score]``: each visible object of the ``negative`` probe's
    original-audio rows, its class, whether it sounds and its mean ``object_score`` over annotated frames."""
    import pandas as pd

    out = [(sample_id, obj, cls, sounding, score)
           for sample_id, obj, cls, sounding, score, _ in _visible_objects(records, "object_score") if score is not None]
    frame = pd.DataFrame(out, columns=["sample_id", "object", "class_name", "sounding", "score"])
    return frame.groupby(["sample_id", "object", "class_name", "sounding"], as_index=False).score.mean()


def weighted_auroc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray | None = None) -> float:
    """P(a positive scores above a negative) + 0.5 P(tie), each item counted ``weights`` times (a bootstrap
    resample's multiplicities); NaN without a weighted positive and negative."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    weights = np.ones_like(scores) if weights is None else np.asarray(weights, dtype=np.float64)
    pos_total, neg_total = weights[positive].sum(), weights[~positive].sum()
    if pos_total == 0 or neg_total == 0:
        return math.nan
    levels, at = np.unique(scores, return_inverse=True)
    pos = np.bincount(at, weights * positive, minlength=levels.size)
    neg = np.bincount(at, weights * ~positive, minlength=levels.size)
    below = np.cumsum(neg) - neg  # negative weight strictly below each score level
    return float((pos * (below + 0.5 * neg)).sum() / (pos_total * neg_total))


def sounding_auroc(records: pd.DataFrame) -> bias.MetricValue | None:
    """Mean over classes of the within-class AUROC of sounding against silent objects (``by_group``: per
    class), with a clip-bootstrap interval; None where no class has both."""
    objects = object_table(records)
    if objects.empty:
        return None
    clips = {s: i for i, s in enumerate(sorted(objects.sample_id.unique()))}
    clip_of = objects.sample_id.map(clips).to_numpy()
    scores, sounding = objects.score.to_numpy(), objects.sounding.to_numpy(bool)
    by_class = {str(c): np.flatnonzero(objects.class_name.to_numpy() == c) for c in sorted(objects.class_name.unique())}

    def per_class(weights: np.ndarray) -> dict[str, float]:
        return {c: weighted_auroc(scores[at], sounding[at], weights[at]) for c, at in by_class.items()}

    def mean_auroc(drawn: np.ndarray) -> float:
        counts = np.bincount(drawn[:, 0].astype(np.int64), minlength=len(clips)).astype(np.float64)
        values = [v for v in per_class(counts[clip_of]).values() if math.isfinite(v)]
        return float(np.mean(values)) if values else math.nan

    point_by_class = {c: v for c, v in per_class(np.ones_like(scores)).items() if math.isfinite(v)}
    if not point_by_class:
        return None
    value, low, high = bias.bootstrap(np.arange(len(clips), dtype=np.float64)[:, None], mean_auroc)
    return bias.MetricValue("sounding_auroc", value, low, high, len(clips), point_by_class)


def _object_curves(records: pd.DataFrame) -> pd.DataFrame:
    """``[sample_id, sounding, coverage_at]``: per visible object (original audio), its coverage at each of
    :data:`OBJECT_THRESHOLDS`, averaged over the frames where it is visible."""
    import pandas as pd

    out = [(sample_id, obj, sounding, np.asarray(covered, dtype=np.float64) / areas[obj])
           for sample_id, obj, _, sounding, covered, areas in _visible_objects(records, "object_covered_at")
           if areas.get(obj, 0) > 0]
    frame = pd.DataFrame(out, columns=["sample_id", "object", "sounding", "coverage_at"])
    if frame.empty:
        return frame
    return (frame.groupby(["sample_id", "object", "sounding"])
            .coverage_at.apply(lambda c: np.mean(np.stack(c.to_list()), axis=0)).reset_index())


def operating_curve(records: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Per clip, object-normalised coverage of sounding and of silent objects at every threshold.

    Returns:
        ``(sounding [clips, G], silent [clips, G], sample_ids)`` (NaN rows where a clip has no object of that
        kind), or None where the records have no per-object curves (runs made before they were recorded).
    """
    curves = _object_curves(records)
    if curves.empty:
        return None
    ids = sorted(curves.sample_id.unique())
    out = []
    for kind in (True, False):
        part = curves[curves.sounding == kind]
        means = {s: np.mean(np.stack(g.to_list()), axis=0) for s, g in part.groupby("sample_id").coverage_at}
        out.append(np.stack([means.get(s, np.full(len(OBJECT_THRESHOLDS), math.nan)) for s in ids]))
    return out[0], out[1], ids


FLAT_RECALL = 0.01
"""A recall curve that moves less than this over the thresholds is flat (a constant output)."""


def _at_recall(recall_curve: np.ndarray, target: float) -> tuple[int, float] | None:
    """The grid position ``(i, w)`` where the non-increasing ``recall_curve`` crosses ``target``: the value
    there is ``(1 - w) curve[i] + w curve[i + 1]``; None where the curve never comes down to it."""
    for i in range(len(recall_curve) - 1):
        high, low = recall_curve[i], recall_curve[i + 1]
        if high >= target >= low:
            return i, (0.0 if high == low else (high - target) / (high - low))
    return None


@dataclass(frozen=True)
class MatchedPoint:
    """One model at the shared recall: its threshold and its silent-object coverage there (with a clip
    bootstrap at that threshold), beside its own recall and silent coverage at probability 0.5."""

    model: str
    recall_at_half: float
    silent_at_half: float
    threshold: float
    silent_at_matched: bias.MetricValue


def matched_recall(curves: dict[str, tuple[np.ndarray, np.ndarray, list[str]]]) -> tuple[float, list[MatchedPoint]]:
    """Every model's silent-object coverage at one shared recall of sounding objects.

    The shared recall is one of the models' recalls at probability 0.5: of those, the one that the most models
    can reach (a model reaches the recalls between its recall at the highest threshold and at the lowest),
    and of those the lowest. A model that hears almost nothing (audio zeroed) then does not set a recall the
    others cannot come down to; it is left out instead.

    Args:
        curves: model -> :func:`operating_curve` of its records.

    Returns:
        ``(target recall, points)``; a model whose curve still does not reach the target, whose recall moves
        less than :data:`FLAT_RECALL` over all thresholds, or that has no silent object, is left out.
    """
    half = OBJECT_THRESHOLDS.index(0.5)

    def mean(curve: np.ndarray) -> np.ndarray:
        return bias._column_means(curve)  # NaN, without a warning, where no clip has that kind of object

    # a model whose scores do not move with the threshold (a constant output: empty, full) has no other
    # operating point to move to: it neither sets the target nor is compared
    movable = {m: c for m, c in curves.items()
               if np.ptp(mean(c[0])) >= FLAT_RECALL and np.isfinite(mean(c[1])).all()}
    if not movable:
        return math.nan, []
    ranges = {m: (float(mean(c[0])[-1]), float(mean(c[0])[0])) for m, c in movable.items()}
    candidates = sorted(float(mean(c[0])[half]) for c in movable.values())
    reach = {t: sum(low <= t <= high for low, high in ranges.values()) for t in candidates}
    target = min(candidates, key=lambda t: (-reach[t], t))
    points = []
    for model, (sounding, silent, _) in movable.items():
        at = _at_recall(mean(sounding), target)
        if at is None:
            continue
        i, w = at
        per_clip = (1 - w) * silent[:, i] + w * silent[:, i + 1]
        threshold = (1 - w) * OBJECT_THRESHOLDS[i] + w * OBJECT_THRESHOLDS[i + 1]
        kept = per_clip[np.isfinite(per_clip)]
        points.append(MatchedPoint(model, float(mean(sounding)[half]), float(mean(silent)[half]), float(threshold),
                                   bias._metric("silent_object_coverage@matched_recall", kept)))
    return target, points


def _compute(records: pd.DataFrame, info: dict[str, Any], headline: dict[str, bias.MetricValue]) -> Contribution:
    value = sounding_auroc(records)
    return Contribution({} if value is None else {"sounding_auroc": value})


register(BiasMetric(
    "sounding_auroc", "under the original audio, per class, the AUROC of sounding against silent visible objects "
    "(object score: mean predicted probability over the object), averaged over classes with both: threshold-free, "
    "so predicting less does not raise it (0.5: the audio is not used to tell them apart)", True, "AUROC",
    ("negative",), family=("prior", 11), compute=_compute, order=137.0))
