"""White and pink noise from a seeded ``numpy.random.Generator``, optionally at a target loudness."""

from __future__ import annotations

from typing import Literal

import numpy as np

from avsprobe.audio.gain import GainResult, normalize_loudness
from avsprobe.types import SAMPLE_RATE_HZ

__all__ = ["NoiseKind", "white_noise", "pink_noise", "noise_at_loudness"]

NoiseKind = Literal["white", "pink"]


def white_noise(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``float64 [num_samples]`` standard Gaussian noise (flat power spectrum)."""
    return rng.standard_normal(num_samples)


def pink_noise(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``float64 [num_samples]`` pink noise: power spectral density proportional to 1/f.

    Gaussian white noise is shaped in the frequency domain by ``1/sqrt(f)`` (the DC bin is set to 0), so
    the power falls by 10 log10(2) = 3.01 dB per octave. Normalised to unit variance.
    """
    if num_samples <= 0:
        return np.zeros(0)
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples)
    shaping = np.zeros_like(freqs)
    shaping[1:] = 1.0 / np.sqrt(freqs[1:])
    pink = np.fft.irfft(spectrum * shaping, n=num_samples)
    std = pink.std()
    return pink / std if std > 0 else pink


def noise_at_loudness(
    kind: NoiseKind,
    duration_s: float,
    target_lufs: float,
    rng: np.random.Generator,
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> GainResult:
    """``duration_s`` seconds of white or pink noise brought to ``target_lufs`` (see ``normalize_loudness``)."""
    n = int(round(duration_s * sample_rate_hz))
    if kind == "white":
        raw = white_noise(n, rng)
    elif kind == "pink":
        raw = pink_noise(n, rng)
    else:
        raise ValueError(f"unknown noise kind {kind!r}; use 'white' or 'pink'")
    return normalize_loudness(raw * 0.1, target_lufs, sample_rate_hz=sample_rate_hz, what=f"{kind} noise")
