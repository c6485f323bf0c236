"""Whether the mask follows the audio in time (the ``temporal`` probe).

- ``follow_by_shift`` (group): per audio shift, the share of frames whose mask matches what the shifted audio
  makes sound there (IoU >= 0.5; a frame whose second was padded with silence matches when nothing is predicted);
- ``switch_agreement_by_lag`` (group): under the mid-clip switch, for each lag L in -2..2 s, the share of frames
  t whose mask follows the object that sounded at t - L (it covers more of that object than of the other; frames
  where t - L falls outside the clip are left out), averaged over clips;
- ``switch_follow`` (headline): that share at lag 0;
- ``best_lag`` (headline): the lag with the highest agreement (the smaller |L| on a tie), with a clip-bootstrap
  interval; a model that follows the audio at once has 0, one that lags by a second 1.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.metrics import bias
from avsprobe.metrics.catalog import BiasMetric, Contribution, register
from avsprobe.records import object_values

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LAGS_S", "follow_by_shift", "switch_agreement", "best_lag"]

LAGS_S = (-2, -1, 0, 1, 2)
"""The lags (s, one frame per second) the switch is read at."""

MATCH_IOU = 0.5
"""A frame's mask matches when its IoU with the expected mask reaches this."""


def follow_by_shift(records: pd.DataFrame) -> dict[str, bias.MetricValue]:
    """Per shift condition (and ``original``), the clip-mean share of annotated frames that match."""
    rows = bias._ok(records, "temporal")
    rows = rows[rows.annotated & rows.condition_label.str.startswith(("shift", "original"))]
    table = bias._clip_table(rows.assign(match=(rows.iou >= MATCH_IOU).astype(float)), "match")
    order = sorted(table.columns, key=lambda c: 0 if c == "original" else int(c[5:-1]))
    return {label: bias._metric(f"follow@{label}", table[label].dropna().to_numpy()) for label in order}


def switch_agreement(records: pd.DataFrame) -> np.ndarray:
    """``[clips, lags]``: per clip, the share of valid frames following the object that sounded L s earlier
    (NaN where no frame is valid at that lag)."""
    rows = bias._ok(records, "temporal")
    rows = rows[rows.annotated & (rows.condition_label == "switch")]
    out = []
    for _, clip in rows.groupby("sample_id", sort=True):
        cut = json.loads(clip.applied.iloc[0])["switch_frame"]
        frames = clip.frame.to_numpy()
        coverage = object_values(clip, "coverage")
        follows = np.array([("A" if (c.get("A") or 0) > (c.get("B") or 0) else
                             "B" if (c.get("B") or 0) > (c.get("A") or 0) else "") for c in coverage])
        total = int(clip.frame.max()) + 1
        per_lag = []
        for lag in LAGS_S:
            source = frames - lag
            valid = (source >= 0) & (source < total)
            expected = np.where(source < cut, "A", "B")
            per_lag.append(float(np.mean(follows[valid] == expected[valid])) if valid.any() else np.nan)
        out.append(per_lag)
    return np.asarray(out, dtype=np.float64).reshape(-1, len(LAGS_S))


def _best(agreement: np.ndarray) -> float:
    means = np.nanmean(agreement, axis=0)
    if not np.isfinite(means).any():
        return float("nan")
    best = np.nanmax(means)
    candidates = [lag for lag, m in zip(LAGS_S, means, strict=True) if m == best]
    return float(min(candidates, key=lambda lag: (abs(lag), lag)))


def best_lag(agreement: np.ndarray) -> bias.MetricValue:
    """The lag (s) at which the mask follows the switch best, with its clip-bootstrap interval."""
    return bias._metric("best_lag", agreement, _best)


def _compute(records: pd.DataFrame, info: dict[str, Any], headline: dict) -> Contribution:
    groups: dict[str, dict[str, bias.MetricValue]] = {}
    out: dict[str, bias.MetricValue] = {}
    follow = follow_by_shift(records)
    if len(follow) > 1:
        groups["follow_by_shift"] = follow
    agreement = switch_agreement(records)
    if len(agreement):
        groups["switch_agreement_by_lag"] = {f"{lag:+d}s": bias._metric(f"switch@{lag:+d}s", agreement[:, k])
                                             for k, lag in enumerate(LAGS_S)}
        out["switch_follow"] = groups["switch_agreement_by_lag"]["+0s"]
        out["best_lag"] = best_lag(agreement)
    return Contribution(out, groups)


register(BiasMetric(
    "switch_follow", "under a mid-clip switch between two sources, the share of frames whose mask follows the "
    "object sounding in that frame's second (it covers more of it than of the other); per lag, and per audio "
    "shift the share of frames matching the shifted audio, in the report's groups", True, "share of frames",
    ("temporal",), compute=_compute, order=310.0))
register(BiasMetric(
    "best_lag", "under a mid-clip switch, the lag L (s, -2 to 2) at which the mask best follows the object that "
    "sounded L s earlier (0: at once; the smaller |L| on a tie)", None, "seconds", ("temporal",),
    compute=_compute, order=311.0))
