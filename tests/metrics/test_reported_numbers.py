"""Tests that pin the numbers avsprobe reports: each fails on a plausible slip that the rest of the suite lets
through (a 50 % interval, a missing median correction, the wrong intensity endpoint, ties counted as
following, a contrast taken backwards)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from avsprobe.metrics import bias
from avsprobe.metrics.stats import fscore_with_interval


def test_percentile_interval_is_the_central_95_percent() -> None:
    draws = np.arange(1001, dtype=np.float64)  # percentiles fall on the draws themselves
    assert bias.percentile_interval(draws, 500.0) == (25.0, 975.0)


def test_bootstrap_interval_of_a_mean_has_the_normal_width() -> None:
    """400 standard normal values: the 95 % bootstrap interval of the mean is about +-1.96 / 20 wide (a 50 %
    one would be +-0.67 / 20)."""
    values = np.random.default_rng(3).normal(size=400)
    point, low, high = bias.bootstrap(values)
    half_width = (high - low) / 2
    assert half_width == pytest.approx(1.96 * values.std() / 20, rel=0.15)
    assert low < point < high


def _one_frame_rows(curve_peaks: list[int]) -> pd.DataFrame:
    """One frame per clip, 100-pixel object; clip i predicts exactly the object at threshold ``peak_i`` only
    (all 100 pixels above it, none of the rest), so its F curve is 1 at that threshold and lower elsewhere."""
    rows = []
    for i, peak in enumerate(curve_peaks):
        k = np.arange(255)
        pp = np.where(k <= peak, 100 + 2 * (peak - k), 100 - 2 * (k - peak)).clip(0)
        tp = np.minimum(pp, 100)
        rows.append({"sample_id": f"c{i:02d}", "intersection": 100, "pred_area": 100, "expected_area": 100,
                     "num_pixels": 1000, "tp_at": tp.astype(np.int64), "pp_at": pp.astype(np.int64)})
    return pd.DataFrame(rows)


def test_fscore_interval_is_median_corrected() -> None:
    """A max over thresholds of resampled mean curves is biased upward; the interval is shifted by the
    bootstrap median's bias, computed here independently from the same resample counts."""
    from avsprobe.metrics.binary import BinaryFrameStats, canonical_fscore, frame_fscore_curves

    rows = _one_frame_rows([20 * i for i in range(12)])
    value = fscore_with_interval(rows)
    stats = BinaryFrameStats(rows.intersection.to_numpy(), rows.pred_area.to_numpy(), rows.expected_area.to_numpy(),
                             1000, np.stack(rows.tp_at), np.stack(rows.pp_at))
    curves = frame_fscore_curves(stats)
    point = canonical_fscore(stats)
    weights = bias.resample_weights(len(rows))
    draws = np.array([(w @ curves / w.sum()).max() for w in weights])
    low, high, median = np.percentile(draws, [2.5, 97.5, 50])
    assert value.value == pytest.approx(point, abs=1e-12)
    assert median - point > 0.01  # the case is biased, so the correction matters
    assert (value.ci_low, value.ci_high) == pytest.approx((low - (median - point), high - (median - point)), abs=1e-12)


def _intensity_records(iou_by_level: dict[str, float], clips: int = 3) -> pd.DataFrame:
    rows = []
    for c in range(clips):
        for label, iou in iou_by_level.items():
            rows.append({"sample_id": f"c{c}", "probe": "intensity", "condition_label": label, "status": "ok",
                         "annotated": True, "is_baseline": label == "original", "frame": 0, "iou": iou,
                         "applied": json.dumps({"level_reached_ok": True})})
    return pd.DataFrame(rows)


def test_intensity_gap_is_loudest_minus_quietest() -> None:
    levels = {"original": 0.9, "-53LUFS": 0.1, "-47LUFS": 0.3, "-41LUFS": 0.5, "-35LUFS": 0.6, "-29LUFS": 0.7,
              "-23LUFS": 0.8}
    gap = bias.intensity_gap(_intensity_records(levels))
    assert gap.value == pytest.approx(0.8 - 0.1, abs=1e-12)


def test_follow_rate_counts_ties_as_not_following() -> None:
    """A frame where the new and the old source are covered alike (both 0, or both fully) does not follow."""
    coverage = [{"new": 1.0, "old": 0.0}, {"new": 0.0, "old": 0.0}, {"new": 1.0, "old": 1.0}, {"new": 0.2, "old": 0.5}]
    rows = pd.DataFrame([{"sample_id": "c0", "probe": "swap", "condition_label": "swap", "status": "ok",
                          "annotated": True, "is_baseline": False, "frame": k, "coverage": json.dumps(c)}
                         for k, c in enumerate(coverage)])
    assert bias.follow_rate(rows).value == 0.25


def test_the_original_row_of_miou_by_level_covers_the_clips_the_levels_cover() -> None:
    """A silent clip (no level applies; predicted empty it scores 1 in its baseline) stays out of ``original``,
    which otherwise showed 0.448 beside 0.082 at -23 LUFS, a drop no level caused."""
    sounding = _intensity_records({"original": 0.6, "-53LUFS": 0.2, "-23LUFS": 0.6}, clips=2)
    silent = _intensity_records({"original": 1.0}, clips=1).assign(sample_id="silent")
    levels = bias.miou_by_level(pd.concat([sounding, silent], ignore_index=True))
    assert levels["original"].value == pytest.approx(0.6) and levels["original"].n_clips == 2
    assert levels["-23LUFS"].value == pytest.approx(0.6)


def test_seed_interval_is_the_student_t_interval() -> None:
    from avsprobe.metrics.stats import seed_interval

    mean, low, high = seed_interval([0.1, 0.2, 0.3, 0.4, 0.5])
    # sd = 0.158114, se = 0.0707107, t(0.975, 4) = 2.776445
    assert mean == pytest.approx(0.3) and high - mean == pytest.approx(2.776445 * 0.0707107, rel=1e-5)
    assert low == pytest.approx(2 * mean - high)
    assert math.isnan(seed_interval([0.3])[1]) and math.isnan(seed_interval([])[0])
