"""Kept predictions: the level grid loses no comparison a records column makes; the file round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avsprobe.errors import DataError
from avsprobe.metrics.binary import OBJECT_THRESHOLDS, f_thresholds
from avsprobe.predictions import (
    KeptPrediction,
    level_probabilities,
    probability_levels,
    read_predictions,
    write_predictions,
)


def _comparisons(p: np.ndarray) -> np.ndarray:
    """Every comparison the records make of a float32 probability, computed directly: ``[N, 255 + 1 + 49]``."""
    f = f_thresholds().numpy()
    strict = np.asarray((0.5, *OBJECT_THRESHOLDS), dtype=np.float32)
    return np.concatenate([p[:, None] >= f[None], p[:, None] > strict[None]], axis=1)


def test_restored_probabilities_pass_exactly_the_kept_comparisons() -> None:
    f = f_thresholds().numpy()
    strict = np.asarray((0.5, *OBJECT_THRESHOLDS), dtype=np.float32)
    edges = np.concatenate([f, strict])
    up, down = np.nextafter(edges, np.float32(2)), np.nextafter(edges, np.float32(-1))
    rng = np.random.default_rng(0)
    random = rng.random(20_000, dtype=np.float32) ** 3  # many near 0, where the background lies
    p = np.concatenate([edges, up, down, random, [0.0, 1.0, 0.5, 1e-30]]).astype(np.float32)
    p = np.clip(p, 0, 1)
    levels = probability_levels(torch.from_numpy(p))
    restored = level_probabilities(levels).numpy()
    assert restored.dtype == np.float32
    np.testing.assert_array_equal(_comparisons(restored), _comparisons(p))
    np.testing.assert_array_equal(probability_levels(torch.from_numpy(restored)), levels)
    # the level orders pixels as the probability does, and counts the comparisons passed
    assert (np.diff(levels[np.argsort(p, kind="stable")].astype(int)) >= 0).all()
    # 0.5 is both the records' rule and an object threshold: one comparison
    np.testing.assert_array_equal(levels, _comparisons(p).sum(axis=1) - (p > 0.5))
    assert int(probability_levels(torch.tensor([1.0]))[0]) == 255 + 49
    assert int(probability_levels(torch.tensor([0.0]))[0]) == 1  # 0 >= the first F threshold, 0


def test_levels_refuse_other_dtypes() -> None:
    with pytest.raises(ValueError, match="float32"):
        probability_levels(torch.zeros(3, dtype=torch.float64))


def test_file_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    binary = KeptPrediction(7, rng.integers(0, 305, (5, 32, 40)).astype(np.uint16), rng.random((5, 2)),
                            ['{"phi_marks": "[\\"piano\\"]"}'] * 5)
    semantic = KeptPrediction(9, np.full((5, 32, 40), 303, np.uint16), np.full((5, 0), np.nan), [""] * 5,
                              rng.integers(0, 71, (5, 32, 40)).astype(np.uint8))
    wide = KeptPrediction(11, np.ones((2, 8, 8), np.uint16), np.array([[np.nan], [0.25]]), ["{}"] * 2,
                          rng.integers(0, 1000, (2, 8, 8)).astype(np.uint16))
    path = tmp_path / "predictions" / "part-x.npz"
    size = write_predictions(path, [binary, semantic, wide])
    assert size == path.stat().st_size > 0
    back = read_predictions(path)
    assert sorted(back) == [7, 9, 11]
    for item in (binary, semantic, wide):
        got = back[item.job_index]
        np.testing.assert_array_equal(got.levels, item.levels)
        assert got.levels.dtype == np.uint16
        np.testing.assert_array_equal(got.object_mean, item.object_mean)
        assert got.notes == item.notes
        if item.classes is None:
            assert got.classes is None
        else:
            np.testing.assert_array_equal(got.classes, item.classes)
            assert got.classes.dtype == item.classes.dtype


def test_damaged_or_missing_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="part-missing.npz is missing"):
        read_predictions(tmp_path / "part-missing.npz")
    bad = tmp_path / "part-bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="part-bad.npz"):
        read_predictions(bad)
