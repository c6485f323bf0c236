"""Bias metrics: functions of the records table, each with a bootstrap 95 % interval over clips.

Every metric first reduces the records to per-clip values (a clip is one sample id), then aggregates them;
the interval resamples clips with replacement (1,000 resamples, seeded, percentile method), so frames of one
clip never count as independent evidence. ``catalog.paired_difference`` compares two models on the clips both
saw.

Definitions (README, "Bias metrics and reports"), all on ``status == "ok"`` rows of annotated frames:

* ``miou_by_level`` / ``intensity_gap``: mean per-clip IoU under each intensity level; gap = loudest - quietest.
  A condition whose audio missed its level (``level_reached_ok`` false) is left out and counted
  (``missed_levels``).
* ``semantic_by_class`` / ``semantic_spread``: mIoU per class of the semantic probe; spread = max - min.
* ``dominance``: mix conditions with A and B at equal levels: mean |cov_A - cov_B| / (cov_A + cov_B).
* ``fpr_silence``, ``fpr_noise`` (white and pink), ``fpr_offscreen``: mean fraction of the frame predicted.
* ``prior_score`` per class: mean coverage of that class's objects under negative audio; ``prior_corr``: its
  Spearman correlation with the class's sounding frequency in training.
* ``prior_coverage`` per negative condition (headline: silence): mean over a clip's visible objects of their
  coverage, then over clips; ``silent_object_coverage``: the same for visible objects that do not sound,
  under the original audio. ``fpr_background``: the frame fraction under the data's background bed alone.
* ``follow_rate``: swap frames where the newly sounding object is covered more than the formerly sounding one.
* ``miou_by_area`` / ``area_gap``: mIoU per area fraction; gap = largest - smallest fraction.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from avsprobe.records import level_reached, object_values, unpack_thumbnail

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MetricValue",
    "bootstrap",
    "miou_by_level",
    "missed_levels",
    "intensity_gap",
    "semantic_by_class",
    "semantic_spread",
    "dominance",
    "dominance_by_level_pair",
    "ok_rows",
    "false_positive_rates",
    "prior_scores",
    "prior_corr",
    "prior_coverage",
    "silent_object_coverage",
    "follow_rate",
    "miou_by_area",
    "area_gap",
    "additivity",
    "miou_by_level_and_class",
]

RESAMPLES = 1000
NOISE_KINDS = {"white", "pink"}


@dataclass(frozen=True)
class MetricValue:
    """A metric with its interval: ``value`` and the bootstrap 95 % ``[ci_low, ci_high]`` over ``n_clips``."""

    name: str
    value: float
    ci_low: float
    ci_high: float
    n_clips: int
    by_group: dict[str, float] = field(default_factory=dict)


def bootstrap(values: np.ndarray, statistic: Callable[[np.ndarray], float] = np.nanmean, *, seed: int = 0,
              resamples: int = RESAMPLES, median_corrected: bool = False) -> tuple[float, float, float]:
    """``(statistic, low, high)``: the statistic of the per-clip rows and its percentile 95 % interval.

    Args:
        values: ``[clips, ...]`` per-clip values (rows are resampled together).
        statistic: maps a ``[clips, ...]`` array to a number (NaN-aware where rows may be missing).
        median_corrected: shift the percentiles by the bootstrap median's bias (``median(draws) - point``),
            for statistics such as a max or a max - min over noisy group means, whose resamples are biased
            upward (an oracle's semantic spread of 0.333 got [0.386, 1.000] from plain percentiles). The
            shifted interval always contains the estimate.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] == 0:
        return math.nan, math.nan, math.nan
    point = float(statistic(values))
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    if statistic is np.nanmean and values.ndim == 1:
        # the common case in one call: the same index stream as drawing the resamples one by one
        draws = _column_means(values[rng.integers(0, n, (resamples, n))].T)
    else:
        draws = np.array([statistic(values[rng.integers(0, n, n)]) for _ in range(resamples)], dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return point, math.nan, math.nan
    return (point, *percentile_interval(draws, point, median_corrected=median_corrected))


def resample_weights(n: int, *, seed: int = 0, resamples: int = RESAMPLES) -> np.ndarray:
    """``float64 [resamples, n]``: how many times each of ``n`` clips is drawn in each bootstrap resample, so
    statistics built from per-clip sums resample as ``weights @ sums`` (the index stream of ``bootstrap``)."""
    draws = np.random.default_rng(seed).integers(0, n, (resamples, n))
    counts = np.bincount((draws + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n)
    return counts.reshape(resamples, n).astype(np.float64)


def percentile_interval(draws: np.ndarray, point: float, *, median_corrected: bool = False) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of bootstrap ``draws``, optionally shifted by the median's bias."""
    low, high, median = np.percentile(draws, [2.5, 97.5, 50.0])
    if median_corrected and math.isfinite(point):
        shift = median - point
        low, high = low - shift, high - shift
    return float(low), float(high)


def ok_rows(records: pd.DataFrame, probe: str | None = None, *, baseline: bool | None = None) -> pd.DataFrame:
    """The rows every metric and figure works on: ``status == "ok"`` on annotated frames, of one probe (or
    all), only baseline or only probed conditions (or both)."""
    keep = (records.status == "ok") & records.annotated.astype(bool)
    if probe is not None:
        keep &= records.probe == probe
    if baseline is not None:
        keep &= records.is_baseline.astype(bool) == baseline
    return records[keep]


_ok = ok_rows


def _missed_level(rows: pd.DataFrame) -> pd.Series:
    """Per row: the probe recorded that the audio did not reach its level (``level_reached_ok`` false)."""
    import pandas as pd

    return ~pd.Series(level_reached(rows), index=rows.index, dtype=bool)


def _intensity_rows(records: pd.DataFrame) -> pd.DataFrame:
    """OK intensity rows, without the conditions whose audio missed its level (``level_reached_ok`` false):
    a clip that cannot reach -23 LUFS without clipping must not count as heard at -23 LUFS."""
    rows = _ok(records, "intensity")
    return rows[~_missed_level(rows)]


def missed_levels(records: pd.DataFrame) -> dict[str, int]:
    """Per intensity level: how many clips missed it (kept out of that level's metrics)."""
    rows = _ok(records, "intensity")
    missed = rows[_missed_level(rows)]
    counts = missed.drop_duplicates(["sample_id", "condition_label"]).groupby("condition_label").size()
    return {str(k): int(v) for k, v in counts.items()}


def _column_means(values: np.ndarray) -> np.ndarray:
    """NaN-aware column means; a column with no clip in a resample is NaN (no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=0)


def _clip_table(rows: pd.DataFrame, value: str, column: str = "condition_label") -> pd.DataFrame:
    """``[clips, groups]`` mean of ``value`` per clip and group (NaN where a clip lacks a group)."""
    return rows.pivot_table(index="sample_id", columns=column, values=value, aggfunc="mean")


def _metric(name: str, values: np.ndarray, statistic: Callable[[np.ndarray], float] = np.nanmean,
            by_group: dict[str, float] | None = None, *, median_corrected: bool = False) -> MetricValue:
    point, low, high = bootstrap(values, statistic, median_corrected=median_corrected)
    return MetricValue(name, point, low, high, int(np.asarray(values).shape[0]), by_group or {})


def _levels(labels: list[str]) -> list[str]:
    return sorted((lab for lab in labels if lab.endswith("LUFS")), key=lambda lab: float(lab[:-4]))


def miou_by_level(records: pd.DataFrame) -> dict[str, MetricValue]:
    """mIoU (canonical, per clip then over clips) under each intensity level, each over the clips that enter
    that level (the interval resamples only those), plus ``original`` over the clips that enter a level: a
    clip where nothing sounds has no level (the probe does not apply) and, predicted empty, would score 1
    in the baseline alone, showing a drop from ``original`` to every level that no level causes."""
    table = _clip_table(_intensity_rows(records), "iou")
    levels = _levels(list(table.columns))
    if levels and "original" in table:
        table.loc[table[levels].isna().all(axis=1), "original"] = np.nan
    return {label: _metric(f"miou@{label}", table[label].dropna().to_numpy()) for label in table.columns}


def intensity_gap_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: IoU at the loudest level minus IoU at the quietest."""
    import pandas as pd

    table = _clip_table(_intensity_rows(records), "iou")
    levels = _levels(list(table.columns))
    if len(levels) < 2:
        return pd.Series(dtype=float)
    pair = table[[levels[-1], levels[0]]].dropna()
    return pair[levels[-1]] - pair[levels[0]]


def intensity_gap(records: pd.DataFrame) -> MetricValue:
    """mIoU at the loudest level minus mIoU at the quietest, per clip, averaged over clips."""
    return _metric("intensity_gap", intensity_gap_per_clip(records).to_numpy())


def miou_by_level_and_class(records: pd.DataFrame) -> dict[str, MetricValue]:
    """Per-class intensity curves: ``"{class}@{level}"`` -> mIoU over the clips where that class sounds."""
    rows = _intensity_rows(records)
    rows = rows[rows.category.astype(str) != ""]
    out = {}
    exploded = rows.assign(class_name=rows.category.astype(str).str.split("_")).explode("class_name")
    for (cls, label), group in exploded.groupby(["class_name", "condition_label"]):
        out[f"{cls}@{label}"] = _metric(f"miou@{cls}@{label}", group.groupby("sample_id").iou.mean().to_numpy())
    return out


def semantic_by_class(records: pd.DataFrame) -> dict[str, MetricValue]:
    """mIoU per class under the semantic probe (equal loudness and area)."""
    rows = _ok(records, "semantic")
    table = _clip_table(rows[~rows.is_baseline.astype(bool)], "iou")
    return {cls: _metric(f"semantic@{cls}", table[cls].dropna().to_numpy()) for cls in table.columns}


def semantic_spread(records: pd.DataFrame) -> MetricValue:
    """max - min of the per-class mIoU; the interval resamples clips (each clip shows some classes)."""
    rows = _ok(records, "semantic")
    table = _clip_table(rows[~rows.is_baseline.astype(bool)], "iou")
    if table.shape[1] < 2:
        return MetricValue("semantic_spread", math.nan, math.nan, math.nan, 0)

    def spread(values: np.ndarray) -> float:
        means = _column_means(values)
        means = means[np.isfinite(means)]
        return float(means.max() - means.min()) if means.size >= 2 else math.nan

    per_class = {c: float(np.nanmean(table[c])) for c in table.columns}
    std = float(np.std(list(per_class.values())))
    return _metric("semantic_spread", table.to_numpy(), spread, {**per_class, "std": std}, median_corrected=True)


def _coverage(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per frame with one column per coverage key (NaN where an object is absent)."""
    import pandas as pd

    cov = pd.DataFrame(object_values(rows, "coverage"), index=rows.index).astype(float)
    return pd.concat([rows[["sample_id", "condition_label", "frame"]], cov], axis=1)


def _mix_dominance(records: pd.DataFrame) -> pd.DataFrame:
    """One row per (clip, two-source mix): mean coverage of A and B over the clip's frames, the levels, and
    the dominance |cov_A - cov_B| / (cov_A + cov_B) (NaN where nothing is covered)."""
    import pandas as pd

    rows = _ok(records, "mix")
    rows = rows[rows.condition_label.str.contains(r"\+")]
    if rows.empty:
        return pd.DataFrame(columns=["sample_id", "condition_label", "A", "B", "level_a", "level_b", "dominance"])
    cov = _coverage(rows).groupby(["sample_id", "condition_label"])[["A", "B"]].mean().reset_index()
    levels = cov.condition_label.str.extract(r"A@(?P<level_a>[-\d.]+)\+B@(?P<level_b>[-\d.]+)").astype(float)
    total = cov.A + cov.B
    dominance = ((cov.A - cov.B).abs() / total).where(total > 0)
    return pd.concat([cov, levels], axis=1).assign(dominance=dominance)


def dominance_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: mean |cov_A - cov_B| / (cov_A + cov_B) over its equal-level mixes (where anything is covered)."""
    table = _mix_dominance(records)
    equal = table[(table.level_a == table.level_b) & table.dominance.notna()]
    return equal.groupby("sample_id").dominance.mean()


def dominance_by_level_pair(records: pd.DataFrame) -> pd.DataFrame:
    """Per level pair: mean dominance over the clips where anything is covered, mean coverage of A and B,
    and the clips (what the dominance heat maps draw)."""
    table = _mix_dominance(records)
    grouped = table.groupby(["level_a", "level_b"])
    return grouped.agg(dominance=("dominance", "mean"), coverage_a=("A", "mean"), coverage_b=("B", "mean"),
                       n_clips=("sample_id", "nunique")).reset_index()


def dominance(records: pd.DataFrame) -> MetricValue:
    """Mean |cov_A - cov_B| / (cov_A + cov_B) under the mixes of A and B at equal levels."""
    return _metric("dominance", dominance_per_clip(records).to_numpy())


def _thumb(packed: bytes) -> np.ndarray:
    return unpack_thumbnail(packed).ravel()


def additivity_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: mean over mixes and frames of IoU(P_AB, P_A | P_B), on the 64x64 prediction thumbnails."""
    import pandas as pd

    rows = _ok(records, "mix")
    if rows.empty or "pred_thumb" not in rows:
        return pd.Series(dtype=float)
    thumbs = {(r.sample_id, r.condition_label, r.frame): r.pred_thumb for r in rows.itertuples()}
    values: dict[str, list[float]] = {}
    for (sample, label, frame), packed in thumbs.items():
        if "+" not in label:
            continue
        a_label, b_label = label.split("+")
        alone = [thumbs.get((sample, part, frame)) for part in (a_label, b_label)]
        if any(x is None for x in alone):
            continue
        both, union = _thumb(packed), _thumb(alone[0]) | _thumb(alone[1])
        denominator = (both | union).sum()
        values.setdefault(sample, []).append(1.0 if denominator == 0 else float((both & union).sum() / denominator))
    return pd.Series({k: float(np.mean(v)) for k, v in values.items()}, dtype=float)


def additivity(records: pd.DataFrame) -> MetricValue:
    """IoU of the prediction for A+B with the union of the predictions for A alone and B alone
    (1 = the masks of a mixture add up; low = one source dominates or they interfere)."""
    return _metric("additivity", additivity_per_clip(records).to_numpy())


_FPR_LABELS = {"fpr_silence": {"silence"}, "fpr_noise": NOISE_KINDS, "fpr_offscreen": {"offscreen"},
               "fpr_background": {"background"}}


def fpr_per_clip(records: pd.DataFrame, name: str) -> pd.Series:
    """Per clip: mean fraction of the frame predicted under the negative conditions of ``name``."""
    rows = _ok(records, "negative")
    return rows[rows.condition_label.isin(_FPR_LABELS[name])].groupby("sample_id").fpr.mean()


def false_positive_rates(records: pd.DataFrame) -> dict[str, MetricValue]:
    """``fpr_silence``, ``fpr_noise`` (white and pink), ``fpr_offscreen``, ``fpr_background``: mean fraction of
    the frame predicted."""
    out = {}
    for name in _FPR_LABELS:
        per_clip = fpr_per_clip(records, name)
        if not per_clip.empty:
            out[name] = _metric(name, per_clip.to_numpy())
    return out


def _object_coverage_negative(records: pd.DataFrame, labels: set[str] | None = None, *,
                              silent_only: bool = False, column: str = "coverage") -> pd.DataFrame:
    """``[sample_id, condition_label, object, class_name, coverage]``: mean coverage over frames of each
    visible object under each negative condition (``labels``; default every non-baseline one), or, with
    ``silent_only``, of each object that does not sound under the original audio. ``column``: another
    per-object column averaged instead (``object_score``: the mean predicted probability), still named
    ``coverage`` in the result."""
    import pandas as pd

    rows = _ok(records, "negative")
    if silent_only:
        rows = rows[rows.is_baseline.astype(bool)]
    else:
        rows = rows[~rows.is_baseline.astype(bool)]
        if labels is not None:
            rows = rows[rows.condition_label.isin(labels)]
    out = []
    values = object_values(rows, column) if column in rows else [{}] * len(rows)
    for sample_id, label, applied, coverage in zip(rows.sample_id, rows.condition_label, rows.applied, values,
                                                   strict=True):
        applied = json.loads(applied)
        classes = applied.get("object_classes", {})
        keep = set(applied.get("silent_objects", [])) if silent_only else set(classes)
        for obj, cov in coverage.items():
            if cov is not None and obj in classes and obj in keep:
                out.append((sample_id, label, obj, classes[obj], cov))
    frame = pd.DataFrame(out, columns=["sample_id", "condition_label", "object", "class_name", "coverage"])
    return frame.groupby(["sample_id", "condition_label", "object", "class_name"], as_index=False).coverage.mean()


PRIOR_CONDITIONS = ("silence", "background", "white", "pink", "offscreen")
"""Negative conditions ``prior_coverage`` is reported for; the headline is ``silence``."""


def prior_coverage_per_clip(records: pd.DataFrame, label: str = "silence") -> pd.Series:
    """Per clip: the mean over its visible objects of their coverage under one negative condition (each
    object counts once, whatever its size: object-normalised)."""
    return _object_coverage_negative(records, {label}).groupby("sample_id").coverage.mean()


def prior_coverage(records: pd.DataFrame) -> dict[str, MetricValue]:
    """Per negative condition: ``prior_coverage`` over clips, ``by_group`` its mean per class (objects of that
    class, clip-averaged). Unlike ``prior_score`` it keeps the conditions apart: noise at -23 LUFS can make
    a model's audio side hear a class, so only silence and the background bed isolate the visual prior."""
    cov = _object_coverage_negative(records, set(PRIOR_CONDITIONS))
    out = {}
    for label in PRIOR_CONDITIONS:
        part = cov[cov.condition_label == label]
        if part.empty:
            continue
        per_class = {str(c): float(g.groupby("sample_id").coverage.mean().mean()) for c, g in part.groupby("class_name")}
        out[label] = _metric(f"prior_coverage@{label}", part.groupby("sample_id").coverage.mean().to_numpy(),
                             by_group=per_class)
    return out


def silent_object_coverage_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: mean coverage of its visible objects that do not sound, under the original audio."""
    return _object_coverage_negative(records, silent_only=True).groupby("sample_id").coverage.mean()


def silent_object_coverage(records: pd.DataFrame) -> MetricValue | None:
    """Coverage of visible non-sounding objects under the original audio (the prior while something else
    sounds); None when no clip has a silent object."""
    per_clip = silent_object_coverage_per_clip(records)
    return None if per_clip.empty else _metric("silent_object_coverage", per_clip.to_numpy())


def prior_scores(records: pd.DataFrame) -> dict[str, MetricValue]:
    """Per class: mean coverage of its objects under negative audio (what a visual prior segments)."""
    cov = _object_coverage_negative(records)
    out = {}
    for cls, group in cov.groupby("class_name"):
        per_clip = group.groupby("sample_id").coverage.mean()
        out[str(cls)] = _metric(f"prior_score@{cls}", per_clip.to_numpy())
    return out


def class_profile_metric(coverage: pd.DataFrame, target: dict[str, float], name: str,
                         statistic: Callable[[np.ndarray, np.ndarray], float], *, min_classes: int = 1) -> MetricValue:
    """A statistic of a model's per-class coverage against a per-class ``target`` (training frequency, a
    posterior), with a clip-bootstrap interval.

    Args:
        coverage: ``_object_coverage_negative`` rows (``sample_id``, ``class_name``, ``coverage``).
        statistic: ``(class means, targets) -> float`` over the classes whose clip-averaged coverage is
            finite in a resample.
        min_classes: fewer classes with a target than this: NaN over 0 clips.
    """
    classes = sorted(c for c in coverage.class_name.unique() if c in target)
    if len(classes) < min_classes or not classes:
        return MetricValue(name, math.nan, math.nan, math.nan, 0)
    table = coverage.pivot_table(index="sample_id", columns="class_name", values="coverage", aggfunc="mean")[classes]
    targets = np.array([target[c] for c in classes])

    def over_classes(values: np.ndarray) -> float:
        means = _column_means(values)
        keep = np.isfinite(means)
        return statistic(means[keep], targets[keep])

    return _metric(name, table.to_numpy(), over_classes)


def spearman_over_classes(means: np.ndarray, targets: np.ndarray) -> float:
    """Spearman correlation of class means with their targets; NaN below 3 classes or where either is flat."""
    from scipy.stats import spearmanr

    if means.size < 3 or np.ptp(means) == 0 or np.ptp(targets) == 0:
        return math.nan
    return float(spearmanr(means, targets).statistic)


def prior_corr(records: pd.DataFrame, train_frequency: dict[str, float]) -> MetricValue:
    """Spearman correlation over classes of ``prior_score`` with the class's training sounding frequency."""
    return class_profile_metric(_object_coverage_negative(records), train_frequency, "prior_corr",
                                spearman_over_classes, min_classes=3)


def follow_rate_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: fraction of swapped frames where the new source's object is covered more than the old."""
    import pandas as pd

    rows = _ok(records, "swap")
    rows = rows[~rows.is_baseline.astype(bool)]
    if rows.empty:
        return pd.Series(dtype=float)
    cov = _coverage(rows)
    cov["follows"] = (cov["new"] > cov["old"]).astype(float)
    return cov.groupby("sample_id").follows.mean()


def follow_rate(records: pd.DataFrame) -> MetricValue:
    """Fraction of swapped frames where the new source's object is covered more than the old one's."""
    return _metric("follow_rate", follow_rate_per_clip(records).to_numpy())


def miou_by_area(records: pd.DataFrame) -> dict[str, MetricValue]:
    """mIoU per area fraction of the area probe (and ``original``)."""
    table = _clip_table(_ok(records, "area"), "iou")
    return {label: _metric(f"miou@{label}", table[label].dropna().to_numpy()) for label in table.columns}


def area_gap_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: IoU at the largest area fraction minus IoU at the smallest."""
    import pandas as pd

    table = _clip_table(_ok(records, "area"), "iou")
    fractions = sorted((c for c in table.columns if c.startswith("area")), key=lambda c: float(c[4:]))
    if len(fractions) < 2:
        return pd.Series(dtype=float)
    pair = table[[fractions[-1], fractions[0]]].dropna()
    return pair[fractions[-1]] - pair[fractions[0]]


def area_gap(records: pd.DataFrame) -> MetricValue:
    """mIoU at the largest area fraction minus mIoU at the smallest, per clip, averaged over clips."""
    return _metric("area_gap", area_gap_per_clip(records).to_numpy())


def miou_per_clip(records: pd.DataFrame) -> pd.Series:
    """Per clip: IoU on the baseline (unprobed) conditions."""
    rows = ok_rows(records, baseline=True)
    return rows.groupby(["sample_id", "probe"]).iou.mean().groupby(level="sample_id").mean()
