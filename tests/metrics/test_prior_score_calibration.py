"""``prior_score_calibration`` against ``prior_calibration`` on a calibrated model: hand-computed values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from avsprobe.metrics.prior_calibration import prior_calibration
from avsprobe.metrics.prior_score_calibration import prior_score_calibration
from tests.metrics.records_fixtures import negative_records

POSTERIOR_V3 = {"piano": 0.596774, "guitar": 0.59322, "drum": 0.362069, "car": 0.347826, "dog": 0.25, "man": 0.173333,
                "bird": 0.120879, "bell": 0.081081}
"""World v3's posterior_bed (the default world's run.json)."""


def _calibrated(clips: int = 6) -> pd.DataFrame:
    """A calibrated model under the bed: each object painted with its class's posterior, uniformly, so it covers
    (probability above 0.5) exactly the classes whose posterior exceeds 0.5."""
    return negative_records({c: float(p > 0.5) for c, p in POSTERIOR_V3.items()}, condition="background", clips=clips,
                            score_by_class=POSTERIOR_V3)


def test_a_calibrated_model_scores_one_threshold_free_and_0756_on_coverage() -> None:
    records = _calibrated()
    assert prior_score_calibration(records, POSTERIOR_V3).value == pytest.approx(1.0)
    # by hand: coverage ranks (7.5, 7.5, 3.5 x 6) against posterior ranks (8 ... 1): cov 24, var 24 and 42
    expected = 24 / math.sqrt(24 * 42)
    assert expected == pytest.approx(0.7559, abs=1e-4)
    assert prior_calibration(records, POSTERIOR_V3).value == pytest.approx(expected)


def test_order_not_level_counts_and_a_flat_painting_has_no_correlation() -> None:
    # every probability halved and shifted keeps the order: still 1; one swap (drum, car) by hand: 1 - 6 * 2 / 504
    shifted = {c: 0.1 + p / 2 for c, p in POSTERIOR_V3.items()}
    records = negative_records(dict.fromkeys(POSTERIOR_V3, 0.0), condition="background", clips=4,
                               score_by_class=shifted)
    assert prior_score_calibration(records, POSTERIOR_V3).value == pytest.approx(1.0)
    swapped = {**POSTERIOR_V3, "drum": 0.30, "car": 0.36}
    records = negative_records(dict.fromkeys(POSTERIOR_V3, 0.0), condition="background", clips=4,
                               score_by_class=swapped)
    assert prior_score_calibration(records, POSTERIOR_V3).value == pytest.approx(1 - 6 * 2 / (8 * 63))
    flat = negative_records(dict.fromkeys(POSTERIOR_V3, 1.0), condition="background", clips=4,
                            score_by_class=dict.fromkeys(POSTERIOR_V3, 0.9))
    assert math.isnan(prior_score_calibration(flat, POSTERIOR_V3).value)


def test_records_without_object_scores_give_no_value() -> None:
    records = negative_records(dict.fromkeys(POSTERIOR_V3, 1.0), condition="background", clips=3)
    assert prior_score_calibration(records, POSTERIOR_V3).n_clips == 0
