"""``prior_slope`` on hand-made records: the slope computed by hand, and its interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from avsprobe.metrics.catalog import get
from avsprobe.metrics.prior_slope import prior_slope
from tests.metrics.records_fixtures import negative_records

FREQUENCY = {"piano": 0.8, "guitar": 0.6, "bell": 0.2}


def _records(coverage_by_class: dict[str, float], clips: int = 4) -> pd.DataFrame:
    return negative_records(coverage_by_class, condition="original", clips=clips)


def test_a_prior_proportional_to_frequency_has_its_slope() -> None:
    # coverage = 0.5 * frequency + 0.1: slope 0.5 exactly, in every resample
    value = prior_slope(_records({k: 0.5 * v + 0.1 for k, v in FREQUENCY.items()}), FREQUENCY)
    assert value.value == pytest.approx(0.5, abs=1e-12)
    assert value.ci_low == pytest.approx(0.5, abs=1e-12) and value.ci_high == pytest.approx(0.5, abs=1e-12)


def test_no_prior_has_slope_zero_and_a_by_hand_case() -> None:
    assert prior_slope(_records({k: 0.3 for k in FREQUENCY}), FREQUENCY).value == pytest.approx(0.0, abs=1e-12)
    coverage = {"piano": 0.9, "guitar": 0.2, "bell": 0.1}
    x = np.array([0.8, 0.6, 0.2])
    y = np.array([0.9, 0.2, 0.1])
    by_hand = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    assert prior_slope(_records(coverage), FREQUENCY).value == pytest.approx(by_hand, abs=1e-12)


def test_it_is_catalogued_for_the_prior_table() -> None:
    m = get("prior_slope")
    assert m.family == ("prior", 9) and m.probes == ("negative",) and m.higher_is_better is False
