from __future__ import annotations

import numpy as np
import pytest

from avsprobe.errors import AdapterError, AvsprobeError, ConfigError, DataError, ProbeNotApplicable
from avsprobe.types import AVSample, ObjectInfo


def _sample(**overrides: object) -> AVSample:
    t, h, w = 5, 8, 6
    kw: dict[str, object] = {
        "sample_id": "clip-1",
        "frames": np.zeros((t, h, w, 3), np.uint8),
        "audio": np.zeros(16000 * 5, np.float32),
        "mask": np.zeros((t, h, w), bool),
        "annotated": np.ones(t, bool),
    }
    kw.update(overrides)
    return AVSample(**kw)  # type: ignore[arg-type]


def test_error_hierarchy() -> None:
    for cls in (DataError, ProbeNotApplicable, AdapterError, ConfigError):
        assert issubclass(cls, AvsprobeError)


def test_valid_sample_properties() -> None:
    s = _sample()
    assert s.num_frames == 5 and s.duration_s == 5.0


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("frames", np.zeros((5, 8, 6, 3), np.float32), "frames must be uint8"),
        ("mask", np.zeros((5, 8, 7), bool), "mask must be bool"),
        ("annotated", np.ones(4, bool), "annotated must be bool"),
        ("audio", np.zeros((2, 100), np.float32), "audio must be float32"),
        ("objects", (ObjectInfo("o0", "piano", np.zeros((5, 2, 2), bool), True),), "object 'o0'"),
    ],
)
def test_invalid_samples_name_the_sample(field: str, value: object, match: str) -> None:
    with pytest.raises(DataError, match=f"sample 'clip-1'.*{match}"):
        _sample(**{field: value})
