"""Loudness: ITU-R BS.1770 integrated loudness (LUFS) with pyloudnorm, and an RMS dBFS fallback.

BS.1770 gating needs at least one 400 ms block, and pyloudnorm returns -inf when every block lies below
the -70 LUFS absolute gate. For such clips the RMS level in dBFS (``20 log10 rms``; a full-scale sine is
-3.01 dBFS) is used instead, and the result says which measure it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from avsprobe.types import SAMPLE_RATE_HZ

__all__ = ["LoudnessMeasure", "Loudness", "measure_loudness", "rms_dbfs", "BS1770_BLOCK_S"]

LoudnessMeasure = Literal["lufs", "rms_dbfs"]

BS1770_BLOCK_S = 0.4
"""Length of a BS.1770 gating block."""


@dataclass(frozen=True)
class Loudness:
    """A loudness value and the measure that produced it (``-inf`` for digital silence)."""

    value: float
    measure: LoudnessMeasure

    @property
    def is_silent(self) -> bool:
        return self.value == -math.inf


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level ``20 log10(sqrt(mean(x^2)))`` in dBFS; ``-inf`` for silence or empty input."""
    if audio.size == 0:
        return -math.inf
    rms = math.sqrt(float(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


@lru_cache(maxsize=8)
def _meter(rate_hz: int):  # noqa: ANN202 - pyloudnorm.Meter, imported lazily
    import pyloudnorm

    return pyloudnorm.Meter(rate_hz)


def measure_loudness(audio: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> Loudness:
    """Integrated loudness in LUFS, or RMS dBFS where the BS.1770 gating cannot measure the clip.

    Args:
        audio: ``[N]`` mono samples.
        sample_rate_hz: their rate.
    """
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"expected mono audio [N], got shape {x.shape}")
    if not np.any(x):
        return Loudness(-math.inf, "lufs" if x.size > BS1770_BLOCK_S * sample_rate_hz else "rms_dbfs")
    if x.size > BS1770_BLOCK_S * sample_rate_hz:
        lufs = float(_meter(sample_rate_hz).integrated_loudness(x))
        if math.isfinite(lufs):
            return Loudness(lufs, "lufs")
    return Loudness(rms_dbfs(x), "rms_dbfs")
