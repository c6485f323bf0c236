"""Gain in dB and normalisation to a target loudness, reporting the gain applied and the clipping."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avsprobe.audio.loudness import (
    BS1770_BLOCK_S,
    Loudness,
    LoudnessMeasure,
    block_energies,
    gated_lufs,
    measure_loudness,
    rms_dbfs,
)
from avsprobe.errors import ProbeNotApplicable
from avsprobe.types import SAMPLE_RATE_HZ

__all__ = ["db_to_amplitude", "apply_gain_db", "GainResult", "normalize_loudness", "clip_unit"]

# Loudness after a gain is re-measured and corrected at most this often: BS.1770's absolute gate
# (-70 LUFS) lets a few blocks of a dynamic clip cross it, so loudness is not exactly scale-equivariant.
_MAX_CORRECTIONS = 3
_TOLERANCE_LU = 0.01
# A clip too quiet for the gate is first brought to this RMS level so BS.1770 can measure it.
_PROBE_RMS_DBFS = -20.0


def db_to_amplitude(gain_db: float) -> float:
    """Amplitude ratio of a gain in dB: ``10 ** (gain_db / 20)`` (-6 dB -> 0.501187)."""
    return 10.0 ** (gain_db / 20.0)


def apply_gain_db(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """``audio`` scaled by ``gain_db`` (same dtype; no clipping; 0 dB returns an equal copy)."""
    a = np.asarray(audio)
    return (a * db_to_amplitude(gain_db)).astype(a.dtype, copy=False)


def clip_unit(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """Clip to [-1, 1]; return the clipped audio and the fraction of samples that were outside."""
    outside = np.abs(audio) > 1.0
    fraction = float(outside.mean()) if audio.size else 0.0
    return (np.clip(audio, -1.0, 1.0) if fraction else audio), fraction


@dataclass(frozen=True)
class GainResult:
    """Audio brought to a target loudness.

    Attributes:
        audio: ``float32 [N]`` result (clipped to [-1, 1] when ``clip`` was asked).
        gain_db: total gain applied.
        clipped_fraction: fraction of samples that exceeded full scale before clipping.
        before: loudness of the input.
        after: loudness of the result, in the same measure as the target was reached in.
    """

    audio: np.ndarray
    gain_db: float
    clipped_fraction: float
    before: Loudness
    after: Loudness

    @property
    def measure(self) -> LoudnessMeasure:
        return self.after.measure


def normalize_loudness(
    audio: np.ndarray,
    target_lufs: float,
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    clip: bool = True,
    what: str = "audio",
) -> GainResult:
    """Scale ``audio`` so its loudness is ``target_lufs``.

    Integrated loudness (BS.1770) is used when the clip can be gated (at least 0.4 s, above the -70 LUFS
    gate at some level); the gain is re-measured and corrected until it is within 0.01 LU. Shorter clips
    fall back to RMS dBFS, and ``after.measure`` says so.

    Args:
        audio: ``[N]`` mono samples.
        target_lufs: target loudness (LUFS, or dBFS RMS for the fallback).
        sample_rate_hz: sample rate.
        clip: clip the result to [-1, 1] and report the clipped fraction (the loudness then falls short
            of the target for a clip that was driven past full scale).
        what: what the audio is, for the error message.

    Raises:
        ProbeNotApplicable: the input is digital silence (it has no loudness to scale).
    """
    x = np.asarray(audio, dtype=np.float64)
    gateable = x.size > BS1770_BLOCK_S * sample_rate_hz
    z = block_energies(x, sample_rate_hz) if gateable and np.any(x) else None
    before = Loudness(gated_lufs(z), "lufs") if z is not None else measure_loudness(x, sample_rate_hz)
    if before.measure == "lufs" and not math.isfinite(before.value) and z is not None:
        before = Loudness(rms_dbfs(x), "rms_dbfs")  # every block below the absolute gate
    if before.is_silent:
        raise ProbeNotApplicable(f"{what} is silent: it has no loudness to bring to {target_lufs:.1f} LUFS")
    if z is None:  # shorter than one gating block: RMS dBFS, exactly scale-equivariant
        gain_db = target_lufs - before.value
        current = Loudness(target_lufs, "rms_dbfs")
    else:
        # search the gain on the block energies (energy scales by 10^(gain/10)); a clip too quiet for
        # the gate starts from its RMS level
        gain_db = 0.0 if before.measure == "lufs" else _PROBE_RMS_DBFS - before.value
        current = Loudness(gated_lufs(z * 10.0 ** (gain_db / 10.0)), "lufs")
        for _ in range(_MAX_CORRECTIONS):
            gain_db += target_lufs - current.value
            current = Loudness(gated_lufs(z * 10.0 ** (gain_db / 10.0)), "lufs")
            if abs(current.value - target_lufs) <= _TOLERANCE_LU:
                break
    out = apply_gain_db(x, gain_db)
    clipped = 0.0
    if clip:
        out, clipped = clip_unit(out)
        if clipped:
            current = measure_loudness(out, sample_rate_hz)
    if not math.isfinite(gain_db):
        raise ProbeNotApplicable(f"{what}: no finite gain reaches {target_lufs:.1f} LUFS")
    return GainResult(out.astype(np.float32), float(gain_db), clipped, before, current)
