"""Mixing several sources, each at its own loudness, or a signal with noise at a given SNR."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from avsprobe.audio.gain import apply_gain_db, clip_unit, db_to_amplitude, normalize_loudness
from avsprobe.types import SAMPLE_RATE_HZ

__all__ = ["mix", "MixResult", "mix_at_loudness"]


def _stack(sources: Sequence[np.ndarray]) -> np.ndarray:
    if not sources:
        raise ValueError("mixing needs at least one source")
    lengths = {np.asarray(s).shape for s in sources}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise ValueError(f"sources must be mono [N] of one length, got shapes {sorted(lengths)}")
    return np.stack([np.asarray(s, dtype=np.float64) for s in sources])


def mix(sources: Sequence[np.ndarray], gains_db: Sequence[float] | None = None) -> np.ndarray:
    """``float64 [N]`` sum of equal-length mono sources, each scaled by its gain in dB (default 0 dB).

    A silent source adds nothing: mixing ``a`` with silence returns ``a``.
    """
    stacked = _stack(sources)
    gains = np.array([db_to_amplitude(g) for g in (gains_db or [0.0] * len(sources))])
    if gains.shape[0] != stacked.shape[0]:
        raise ValueError(f"{stacked.shape[0]} sources but {gains.shape[0]} gains")
    return (stacked * gains[:, None]).sum(axis=0)


@dataclass(frozen=True)
class MixResult:
    """A mixture and what was done to each source.

    Attributes:
        audio: ``float32 [N]`` mixture (clipped to [-1, 1] when asked).
        gains_db: gain applied to each source.
        source_loudness: loudness each source reached alone (LUFS, or RMS dBFS where it says so).
        clipped_fraction: fraction of mixture samples past full scale before clipping.
    """

    audio: np.ndarray
    gains_db: tuple[float, ...]
    source_loudness: tuple[float, ...]
    clipped_fraction: float


def mix_at_loudness(
    sources: Sequence[np.ndarray],
    targets_lufs: Sequence[float],
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    clip: bool = True,
) -> MixResult:
    """Bring each source to its own loudness, then sum.

    Raises:
        ProbeNotApplicable: a source is silent (it cannot be brought to a loudness).
    """
    stacked = _stack(sources)
    if len(targets_lufs) != stacked.shape[0]:
        raise ValueError(f"{stacked.shape[0]} sources but {len(targets_lufs)} loudness targets")
    gains, reached, levelled = [], [], []
    for i, (source, target) in enumerate(zip(stacked, targets_lufs, strict=True)):
        result = normalize_loudness(source, target, sample_rate_hz=sample_rate_hz, clip=False, what=f"source {i}")
        gains.append(result.gain_db)
        reached.append(result.after.value)
        levelled.append(apply_gain_db(source, result.gain_db))
    out = np.sum(levelled, axis=0)
    clipped = 0.0
    if clip:
        out, clipped = clip_unit(out)
    return MixResult(out.astype(np.float32), tuple(gains), tuple(reached), clipped)
