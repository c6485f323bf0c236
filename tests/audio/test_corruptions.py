"""Graded audio corruptions, each against its known answer: the SNR reached within 0.1 dB, the RT60 of the
generated room response within 10 %, the band limits and the clipping level where they should be, the
loudness brought back, and the same seed giving the same bytes."""

from __future__ import annotations

import numpy as np
import pytest

from avsprobe.audio.corruptions import (
    SEVERITIES,
    add_at_snr,
    band_limit,
    corrupt,
    hard_clip,
    reduce_sample_rate,
    room_impulse_response,
    schroeder_rt60_s,
    snr_db,
)
from avsprobe.audio.loudness import measure_loudness

RATE = 16_000


def _tone(freq_hz: float, seconds: float = 2.0, amplitude: float = 0.1) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * RATE)) / RATE)


def _power_db_at(x: np.ndarray, freq_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    k = int(round(freq_hz * len(x) / RATE))
    return float(10 * np.log10(spectrum[k - 2: k + 3].sum() + 1e-300))


@pytest.mark.parametrize("target", [20.0, 5.0, 0.0, -3.0])
def test_noise_is_added_at_the_stated_snr(target: float) -> None:
    rng = np.random.default_rng(0)
    clean = _tone(440.0)
    noise = rng.standard_normal(len(clean))
    noisy = add_at_snr(clean, noise, target)
    assert abs(snr_db(clean, noisy - clean) - target) < 0.1
    with pytest.raises(ValueError, match="no signal-to-noise"):
        add_at_snr(np.zeros(10), noise[:10], 10.0)


@pytest.mark.parametrize("rt60_s", SEVERITIES["reverb"])
def test_the_room_response_has_the_stated_rt60(rt60_s: float) -> None:
    rir = room_impulse_response(rt60_s, np.random.default_rng(1))
    assert abs(schroeder_rt60_s(rir) - rt60_s) <= 0.1 * rt60_s
    assert rir[0] == 1.0 and len(rir) == int(round(1.5 * rt60_s * RATE))


def test_band_limits_pass_below_and_stop_above() -> None:
    mixture = _tone(500.0) + _tone(3000.0) + _tone(6000.0)
    low = band_limit(mixture, 2000.0)
    assert abs(_power_db_at(low, 500.0) - _power_db_at(mixture, 500.0)) < 0.5
    assert _power_db_at(mixture, 3000.0) - _power_db_at(low, 3000.0) > 30
    phone = band_limit(_tone(100.0) + _tone(1000.0), 3400.0, low_hz=300.0)
    assert _power_db_at(_tone(100.0), 100.0) - _power_db_at(phone, 100.0) > 30
    down = reduce_sample_rate(mixture, 8000.0)
    assert len(down) == len(mixture) and _power_db_at(mixture, 6000.0) - _power_db_at(down, 6000.0) > 40
    assert abs(_power_db_at(down, 500.0) - _power_db_at(mixture, 500.0)) < 0.5


def test_clipping_is_at_the_stated_share_of_the_peak() -> None:
    x = _tone(440.0, amplitude=0.8)
    clipped = hard_clip(x, 0.25)
    assert np.max(np.abs(clipped)) == pytest.approx(0.25 * np.max(np.abs(x)))
    assert np.array_equal(clipped[np.abs(x) < 0.2], x[np.abs(x) < 0.2])


@pytest.mark.parametrize("family", sorted(SEVERITIES))
def test_every_family_keeps_the_loudness_and_is_seeded(family: str) -> None:
    clean = (_tone(440.0) + 0.3 * _tone(2500.0)).astype(np.float32)
    others = [_tone(f) for f in (200.0, 330.0, 710.0)]
    first = corrupt(clean, family, 3, np.random.default_rng(7), others=others)
    again = corrupt(clean, family, 3, np.random.default_rng(7), others=others)
    assert first.dtype == np.float32 and first.shape == clean.shape and first.tobytes() == again.tobytes()
    assert abs(measure_loudness(first).value - measure_loudness(clean).value) < 0.1
    assert not np.allclose(first, clean)
    with pytest.raises(ValueError, match="severity must be 1 to 5"):
        corrupt(clean, family, 6, np.random.default_rng(7), others=others)


def test_severities_grow_harsher() -> None:
    """Severity 1 to 5: lower SNR, longer RT60, lower cut-offs and rates, a lower clipping level."""
    for family, values in SEVERITIES.items():
        ascending = family == "reverb"
        assert list(values) == sorted(values, reverse=not ascending), family
