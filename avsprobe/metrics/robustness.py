"""Robustness to graded corruptions (the ``audio_corruption`` and ``visual_corruption`` probes).

- ``miou_by_audio_corruption`` / ``miou_by_visual_corruption`` (groups): mIoU per condition
  (``original``, ``FAMILY@SEVERITY``) over the clips, with its interval;
- ``change_by_audio_corruption`` / ``change_by_visual_corruption`` (groups): per family, the mean relative
  change of mIoU over its severities, ``(mean corrupted - mean original) / mean original``, with a clip-bootstrap
  interval (the clips resampled together for both terms);
- ``audio_corruption_change`` / ``visual_corruption_change`` (headline): the same over every family and severity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.metrics import bias
from avsprobe.metrics.catalog import BiasMetric, Contribution, register

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["miou_by_corruption", "relative_change", "relative_changes_by_family"]


def _table(records: pd.DataFrame, probe: str) -> pd.DataFrame:
    """``[clips, conditions]`` IoU per clip (mean over its annotated frames) and condition label."""
    return bias._clip_table(bias._ok(records, probe), "iou")


def miou_by_corruption(records: pd.DataFrame, probe: str) -> dict[str, bias.MetricValue]:
    """mIoU per condition of ``probe`` (``original`` first, then by family and severity)."""
    table = _table(records, probe)
    order = ["original", *sorted((c for c in table.columns if c != "original"),
                                 key=lambda c: (c.split("@")[0], int(c.split("@")[1])))]
    return {label: bias._metric(f"miou@{label}", table[label].dropna().to_numpy())
            for label in order if label in table.columns}


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
