"""Graded audio corruptions, each named in physical units and given at five severities (ImageNet-C style).

Each corruption maps a mono 16 kHz clip to a corrupted clip of the same length; randomness comes from the seeded
``numpy.random.Generator`` passed in. :func:`corrupt` applies one family at one severity and, by default, brings
the result back to the clean clip's loudness, so a corruption is not also a loudness change.

- ``reverb``: convolution with a synthetic room impulse response of a given RT60 (s): a direct path, then
  Gaussian noise under an exponential envelope that decays 60 dB in RT60 seconds;
- ``white_noise``, ``pink_noise``, ``babble``: additive noise at a signal-to-noise ratio (dB, over the whole
  clip); babble is the sum of other clips (speech-like talkers in AVSBench, any bank clips here);
- ``lowpass``: a zero-phase Butterworth low-pass at a cut-off (Hz); ``telephone`` is the 300-3400 Hz band;
- ``sample_rate``: down to a lower sample rate (Hz) and back up, which removes everything above its Nyquist;
- ``clipping``: hard clipping at a share of the clip's peak.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from avsprobe.audio.io import resample
from avsprobe.types import SAMPLE_RATE_HZ

__all__ = ["SEVERITIES", "room_impulse_response", "reverb", "add_at_snr", "babble", "band_limit", "reduce_sample_rate",
           "hard_clip", "schroeder_rt60_s", "snr_db", "corrupt"]

SEVERITIES: dict[str, tuple[float, ...]] = {
    "reverb": (0.2, 0.4, 0.6, 0.9, 1.2),                   # RT60 (s)
    "white_noise": (20.0, 15.0, 10.0, 5.0, 0.0),            # SNR (dB)
    "pink_noise": (20.0, 15.0, 10.0, 5.0, 0.0),             # SNR (dB)
    "babble": (20.0, 15.0, 10.0, 5.0, 0.0),                 # SNR (dB)
    "lowpass": (4000.0, 3000.0, 2000.0, 1000.0, 500.0),     # cut-off (Hz)
    "telephone": (3400.0, 3000.0, 2500.0, 2000.0, 1500.0),  # upper band edge (Hz), lower edge 300 Hz
    "sample_rate": (11025.0, 8000.0, 6000.0, 4000.0, 3000.0),  # reduced rate (Hz)
    "clipping": (0.5, 0.3, 0.2, 0.1, 0.05),                 # clip level, share of the peak
}
"""Per family, the parameter at severities 1 to 5 (mildest first), in the unit its comment names."""

_DB_PER_NEPER_60 = 3.0 * np.log(10.0)
"""An amplitude envelope ``exp(-k t)`` falls 60 dB in ``T`` seconds when ``k = 3 ln(10) / T``."""


def room_impulse_response(rt60_s: float, rng: np.random.Generator, *, sample_rate_hz: int = SAMPLE_RATE_HZ
                          ) -> np.ndarray:
    """``float64 [n]``: 1 at t = 0 (the direct path), then Gaussian noise under ``exp(-3 ln(10) t / rt60_s)``,
    1.5 RT60 long; its energy decays 60 dB in ``rt60_s`` (:func:`schroeder_rt60_s` measures it)."""
    if rt60_s <= 0:
        raise ValueError(f"rt60_s must be positive, got {rt60_s}")
    n = max(2, int(round(1.5 * rt60_s * sample_rate_hz)))
    t = np.arange(n) / sample_rate_hz
    tail = rng.standard_normal(n) * np.exp(-_DB_PER_NEPER_60 * t / rt60_s)
    tail[0] = 0.0
    # the tail's energy against the direct path's: a room, not an echo-free tail
    tail *= 0.1 / np.sqrt(np.mean(tail[1: max(2, n // 10)] ** 2) + 1e-30)
    tail[0] = 1.0
    return tail


def schroeder_rt60_s(impulse_response: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ,
                     fit_db: tuple[float, float] = (-5.0, -35.0)) -> float:
    """RT60 (s) by Schroeder's backward integration: the energy decay curve's slope between ``fit_db`` (T30,
    least squares), extrapolated to 60 dB. The direct path is left out (the first sample)."""
    energy = np.asarray(impulse_response[1:], dtype=np.float64) ** 2
    decay = np.cumsum(energy[::-1])[::-1]
    decay_db = 10 * np.log10(decay / decay[0] + 1e-300)
    hi, lo = fit_db
    fit = (decay_db <= hi) & (decay_db >= lo)
    t = np.arange(len(decay_db)) / sample_rate_hz
    slope_db_per_s = np.polyfit(t[fit], decay_db[fit], 1)[0]
    return float(-60.0 / slope_db_per_s)


def reverb(audio: np.ndarray, rt60_s: float, rng: np.random.Generator, *, sample_rate_hz: int = SAMPLE_RATE_HZ
           ) -> np.ndarray:
    """``audio`` convolved with :func:`room_impulse_response`, cut to its own length."""
    from scipy.signal import fftconvolve

    rir = room_impulse_response(rt60_s, rng, sample_rate_hz=sample_rate_hz)
    return fftconvolve(np.asarray(audio, dtype=np.float64), rir)[: len(audio)]


def snr_db(signal: np.ndarray, noise: np.ndarray) -> float:
    """``10 log10(P_signal / P_noise)`` with P the mean square over the clip (dB)."""
    return float(10 * np.log10(np.mean(np.square(signal, dtype=np.float64))
                               / np.mean(np.square(noise, dtype=np.float64))))


def add_at_snr(audio: np.ndarray, noise: np.ndarray, target_snr_db: float) -> np.ndarray:
    """``audio + g noise`` with ``g`` such that :func:`snr_db` of ``audio`` to ``g noise`` is ``target_snr_db``
    (exactly, up to float rounding). ``noise`` is cut or repeated to the clip's length.

    Raises:
        ValueError: a silent clip or silent noise (no SNR is defined).
    """
    x = np.asarray(audio, dtype=np.float64)
    n = np.resize(np.asarray(noise, dtype=np.float64), x.shape)
    p_signal, p_noise = np.mean(x ** 2), np.mean(n ** 2)
    if p_signal == 0 or p_noise == 0:
        raise ValueError("a silent clip or silent noise has no signal-to-noise ratio")
    gain = np.sqrt(p_signal / (p_noise * 10 ** (target_snr_db / 10)))
    return x + gain * n


def babble(others: Sequence[np.ndarray], num_samples: int) -> np.ndarray:
    """The sum of ``others`` (each cut or repeated to ``num_samples`` and brought to unit power): several
    sources talking at once."""
    if not others:
        raise ValueError("babble needs at least one other clip")
    out = np.zeros(num_samples)
    for clip in others:
        c = np.resize(np.asarray(clip, dtype=np.float64), num_samples)
        power = np.mean(c ** 2)
        if power > 0:
            out += c / np.sqrt(power)
    return out


def band_limit(audio: np.ndarray, high_hz: float, *, low_hz: float | None = None,
               sample_rate_hz: int = SAMPLE_RATE_HZ, order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth low-pass at ``high_hz`` (band-pass from ``low_hz`` when given)."""
    from scipy.signal import butter, sosfiltfilt

    nyquist = sample_rate_hz / 2
    if low_hz is None:
        sos = butter(order, high_hz / nyquist, btype="lowpass", output="sos")
    else:
        sos = butter(order, [low_hz / nyquist, high_hz / nyquist], btype="bandpass", output="sos")
    return sosfiltfilt(sos, np.asarray(audio, dtype=np.float64))


def reduce_sample_rate(audio: np.ndarray, rate_hz: float, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Down to ``rate_hz`` and back to ``sample_rate_hz`` (soxr, high quality), the same length as ``audio``."""
    low = resample(np.asarray(audio, dtype=np.float64), sample_rate_hz, int(rate_hz))
    return np.resize(resample(low, int(rate_hz), sample_rate_hz), len(audio))


def hard_clip(audio: np.ndarray, share_of_peak: float) -> np.ndarray:
    """Clipped at ``share_of_peak`` times the clip's peak magnitude."""
    x = np.asarray(audio, dtype=np.float64)
    level = share_of_peak * np.max(np.abs(x)) if x.size else 0.0
    return np.clip(x, -level, level)


def corrupt(audio: np.ndarray, family: str, severity: int, rng: np.random.Generator, *,
            others: Sequence[np.ndarray] = (), keep_loudness: bool = True,
            sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """``float32``: ``audio`` under ``family`` (:data:`SEVERITIES`) at ``severity`` 1-5, brought back to the
    clean clip's loudness unless ``keep_loudness`` is False (a silent clip stays as the corruption left it).

    Raises:
        ValueError: an unknown family or severity, or babble without ``others``.
    """
    if family not in SEVERITIES:
        raise ValueError(f"unknown audio corruption {family!r}; the families are {', '.join(SEVERITIES)}")
    if not 1 <= severity <= len(SEVERITIES[family]):
        raise ValueError(f"severity must be 1 to {len(SEVERITIES[family])}, got {severity}")
    value = SEVERITIES[family][severity - 1]
    x = np.asarray(audio, dtype=np.float64)
    if family == "reverb":
        out = reverb(x, value, rng, sample_rate_hz=sample_rate_hz)
    elif family in ("white_noise", "pink_noise", "babble"):
        from avsprobe.audio.noise import pink_noise, white_noise

        noise = {"white_noise": lambda: white_noise(len(x), rng), "pink_noise": lambda: pink_noise(len(x), rng),
                 "babble": lambda: babble(others, len(x))}[family]()
        out = add_at_snr(x, noise, value) if np.any(x) else x
    elif family == "lowpass":
        out = band_limit(x, value, sample_rate_hz=sample_rate_hz)
    elif family == "telephone":
        out = band_limit(x, value, low_hz=300.0, sample_rate_hz=sample_rate_hz)
    elif family == "sample_rate":
        out = reduce_sample_rate(x, value, sample_rate_hz=sample_rate_hz)
    else:
        out = hard_clip(x, value)
    if keep_loudness and np.any(x) and np.any(out):
        from avsprobe.audio.gain import normalize_loudness
        from avsprobe.audio.loudness import measure_loudness

        before = measure_loudness(x, sample_rate_hz)
        if np.isfinite(before.value):
            out = normalize_loudness(out, before.value, sample_rate_hz=sample_rate_hz, what=family).audio
    return np.asarray(out, dtype=np.float32)
