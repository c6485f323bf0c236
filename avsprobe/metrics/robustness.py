"""Robustness to graded corruptions (the ``audio_corruption`` and ``visual_corruption`` probes).

- ``miou_by_audio_corruption`` / ``miou_by_visual_corruption`` (groups): mIoU per condition
  (``original``, ``FAMILY@SEVERITY``) over the clips, with its interval;
- ``change_by_audio_corruption`` / ``change_by_visual_corruption`` (groups): per family, the mean relative
  change of mIoU over its severities, ``(mean corrupted - mean original) / mean original``, with a clip-bootstrap
  interval (the clips resampled together for both terms);
- ``audio_corruption_change`` / ``visual_corruption_change`` (headline): the same over every family and severity;
- ``fscore_by_...`` and ``silent_coverage_by_...`` (groups): per condition, the F-score (``fscore.canonical``,
  clip-bootstrap interval) and the in-distribution prior, the coverage of the visible objects that do not sound
  (clip mean), so the report can draw each against severity.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.metrics import bias
from avsprobe.metrics.catalog import BiasMetric, Contribution, register
from avsprobe.metrics.stats import fscore_with_interval
from avsprobe.records import object_values

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["miou_by_corruption", "relative_change", "relative_changes_by_family", "fscore_by_corruption",
           "silent_coverage_by_corruption"]


def _table(records: pd.DataFrame, probe: str) -> pd.DataFrame:
    """``[clips, conditions]`` IoU per clip (mean over its annotated frames) and condition label."""
    return bias._clip_table(bias._ok(records, probe), "iou")


def miou_by_corruption(records: pd.DataFrame, probe: str) -> dict[str, bias.MetricValue]:
    """mIoU per condition of ``probe`` (``original`` first, then by family and severity)."""
    table = _table(records, probe)
    return {label: bias._metric(f"miou@{label}", table[label].dropna().to_numpy())
            for label in _condition_order(list(table.columns))}


def _condition_order(labels: list[str]) -> list[str]:
    rest = sorted((c for c in labels if c != "original"), key=lambda c: (c.split("@")[0], int(c.split("@")[1])))
    return (["original"] if "original" in labels else []) + rest


def fscore_by_corruption(records: pd.DataFrame, probe: str) -> dict[str, bias.MetricValue]:
    """The F-score per condition of ``probe``, over the annotated frames, with its clip-bootstrap interval."""
    rows = bias._ok(records, probe)
    rows = rows[rows.annotated]
    return {label: fscore_with_interval(rows[rows.condition_label == label])
            for label in _condition_order(list(rows.condition_label.unique()))}


def silent_coverage_by_corruption(records: pd.DataFrame, probe: str) -> dict[str, bias.MetricValue]:
    """Per condition of ``probe``: the coverage of each clip's visible objects that do not sound (frame mean per
    object, then object mean per clip), then over clips; conditions without silent objects are left out."""
    import pandas as pd

    rows = bias._ok(records, probe)
    out = []
    for sample_id, label, applied, coverage in zip(rows.sample_id, rows.condition_label, rows.applied,
                                                   object_values(rows, "coverage"), strict=True):
        silent = set(json.loads(applied).get("silent_objects", []))
        for obj, cov in coverage.items():
            if obj in silent and cov is not None:
                out.append((sample_id, label, obj, cov))
    if not out:
        return {}
    frame = pd.DataFrame(out, columns=["sample_id", "condition_label", "object", "coverage"])
    per_clip = frame.groupby(["sample_id", "condition_label", "object"]).coverage.mean().groupby(
        ["sample_id", "condition_label"]).mean().unstack()
    return {label: bias._metric(f"silent_coverage@{label}", per_clip[label].dropna().to_numpy())
            for label in _condition_order(list(per_clip.columns))}


def _change(pairs: np.ndarray) -> float:
    """``pairs [clips, 2]`` (original IoU, mean corrupted IoU): the relative change of their means."""
    original = np.nanmean(pairs[:, 0])
    return float((np.nanmean(pairs[:, 1]) - original) / original) if original > 0 else float("nan")


def relative_change(table: pd.DataFrame, labels: list[str], name: str) -> bias.MetricValue:
    """The relative change of mIoU from ``original`` to the mean over ``labels``, clips with both."""
    corrupted = table[labels].mean(axis=1, skipna=True)
    pairs = np.column_stack([table["original"].to_numpy(), corrupted.to_numpy()])
    pairs = pairs[np.isfinite(pairs).all(axis=1)]
    return bias._metric(name, pairs, _change)


def relative_changes_by_family(records: pd.DataFrame, probe: str) -> dict[str, bias.MetricValue]:
    """Per family, the relative change over its severities."""
    table = _table(records, probe)
    if "original" not in table.columns:
        return {}
    families = sorted({c.split("@")[0] for c in table.columns if "@" in c})
    return {f: relative_change(table, [c for c in table.columns if c.startswith(f + "@")], f"change@{f}")
            for f in families}


def _compute(probe: str) -> Any:
    kind = probe.split("_")[0]

    def compute(records: pd.DataFrame, info: dict[str, Any], headline: dict) -> Contribution:
        table = _table(records, probe)
        corrupted = [c for c in table.columns if "@" in c]
        if "original" not in table.columns or not corrupted:
            return Contribution()
        return Contribution({f"{kind}_corruption_change": relative_change(table, corrupted, f"{kind}_corruption_change")},
                            {f"miou_by_{probe}": miou_by_corruption(records, probe),
                             f"fscore_by_{probe}": fscore_by_corruption(records, probe),
                             f"silent_coverage_by_{probe}": silent_coverage_by_corruption(records, probe),
                             f"change_by_{probe}": relative_changes_by_family(records, probe)})

    return compute


for _i, (_probe, _what) in enumerate((("audio_corruption", "the audio (reverb, noise at an SNR, band limits, sample rate, clipping)"),
                                      ("visual_corruption", "the frames (blur, motion blur, JPEG, brightness, "
                                                            "contrast, occlusion)"))):
    register(BiasMetric(
        f"{_probe.split('_')[0]}_corruption_change", f"relative change of mIoU when {_what} is corrupted, over "
        "every family and severity 1-5: (mean corrupted mIoU - original mIoU) / original mIoU (0: unaffected; "
        "per family and per condition in the report's groups)", True, "relative change of mIoU", (_probe,),
        compute=_compute(_probe), order=300.0 + _i))
