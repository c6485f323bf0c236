"""Gain, loudness, mixing and noise with hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest

from avsprobe.audio import (
    apply_gain_db,
    db_to_amplitude,
    measure_loudness,
    mix,
    mix_at_loudness,
    noise_at_loudness,
    normalize_loudness,
    pink_noise,
    rms_dbfs,
    white_noise,
)
from avsprobe.errors import ProbeNotApplicable

RATE = 16000


def tone(freq: float = 440.0, seconds: float = 2.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_zero_db_is_identity() -> None:
    x = tone()
    assert np.array_equal(apply_gain_db(x, 0.0), x)
    assert db_to_amplitude(0.0) == 1.0


def test_minus_6_db_multiplies_by_0_501187() -> None:
    assert db_to_amplitude(-6.0) == pytest.approx(0.501187, abs=1e-6)
    x = np.array([1.0, -0.5, 0.25])
    np.testing.assert_allclose(apply_gain_db(x, -6.0), x * 0.5011872336, rtol=1e-9)


def test_rms_dbfs_of_full_scale_sine_and_silence() -> None:
    assert rms_dbfs(tone(amplitude=1.0)) == pytest.approx(-3.0103, abs=1e-3)
    assert rms_dbfs(np.zeros(100)) == -math.inf


def test_lufs_is_pyloudnorm_for_long_clips() -> None:
    x = tone(1000.0, 3.0)
    got = measure_loudness(x, RATE)
    assert got.measure == "lufs"
    assert got.value == pytest.approx(pyloudnorm.Meter(RATE).integrated_loudness(x.astype(np.float64)), abs=1e-9)


def test_short_and_gated_out_clips_fall_back_to_rms() -> None:
    short = tone(seconds=0.3)
    assert measure_loudness(short, RATE).measure == "rms_dbfs"
    assert measure_loudness(short, RATE).value == pytest.approx(rms_dbfs(short))
    whisper = tone(amplitude=1e-5)  # about -103 dBFS: below the -70 LUFS absolute gate
    assert measure_loudness(whisper, RATE).measure == "rms_dbfs"


@pytest.mark.parametrize("target", [-53.0, -47.0, -41.0, -35.0, -29.0, -23.0])
@pytest.mark.parametrize("seconds", [1.0, 5.0])
def test_gain_reaches_target_within_0_1_lu(target: float, seconds: float) -> None:
    rng = np.random.default_rng(int(-target))
    # a dynamic signal: a tone with bursts of noise and a quiet gap
    x = tone(300.0, seconds, 0.2) + rng.normal(0, 0.05, int(seconds * RATE)).astype(np.float32)
    x[: RATE // 4] *= 0.01
    result = normalize_loudness(x, target, sample_rate_hz=RATE)
    assert result.measure == "lufs" and result.clipped_fraction == 0.0
    measured = pyloudnorm.Meter(RATE).integrated_loudness(result.audio.astype(np.float64))
    assert measured == pytest.approx(target, abs=0.1)
    assert result.gain_db == pytest.approx(20 * math.log10(np.abs(result.audio).max() / np.abs(x).max()), abs=1e-3)


def test_very_quiet_clip_is_measured_then_normalised() -> None:
    result = normalize_loudness(tone(amplitude=1e-5), -30.0, sample_rate_hz=RATE)
    assert result.before.measure == "rms_dbfs" and result.after.measure == "lufs"
    assert result.after.value == pytest.approx(-30.0, abs=0.1)


def test_short_clip_uses_rms_and_says_so() -> None:
    result = normalize_loudness(tone(seconds=0.2), -20.0, sample_rate_hz=RATE)
    assert result.measure == "rms_dbfs"
    assert rms_dbfs(result.audio) == pytest.approx(-20.0, abs=1e-3)


def test_clipping_is_reported() -> None:
    result = normalize_loudness(tone(amplitude=0.5), 0.0, sample_rate_hz=RATE)
    assert result.clipped_fraction > 0.1
    assert np.abs(result.audio).max() <= 1.0
    unclipped = normalize_loudness(tone(amplitude=0.5), 0.0, sample_rate_hz=RATE, clip=False)
    assert unclipped.clipped_fraction == 0.0 and np.abs(unclipped.audio).max() > 1.0


def test_silent_input_is_not_applicable() -> None:
    with pytest.raises(ProbeNotApplicable, match="silent"):
        normalize_loudness(np.zeros(RATE, np.float32), -23.0)


def test_mixing_with_a_silent_source_returns_the_other_source() -> None:
    a = tone()
    assert np.array_equal(mix([a, np.zeros_like(a)]), a.astype(np.float64))
    np.testing.assert_allclose(mix([a, a], [0.0, -6.0]), a * (1 + 0.5011872336), rtol=1e-6)


def test_mix_at_loudness_levels_each_source() -> None:
    a, b = tone(300.0, 2.0), tone(2000.0, 2.0, 0.05)
    result = mix_at_loudness([a, b], [-30.0, -40.0], sample_rate_hz=RATE)
    assert result.source_loudness == pytest.approx((-30.0, -40.0), abs=0.05)
    alone_a = a * db_to_amplitude(result.gains_db[0])
    alone_b = b * db_to_amplitude(result.gains_db[1])
    np.testing.assert_allclose(result.audio, alone_a + alone_b, atol=1e-6)
    with pytest.raises(ProbeNotApplicable):
        mix_at_loudness([a, np.zeros_like(a)], [-30.0, -30.0])


def _octave_band_power_db(x: np.ndarray, low_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    band = (freqs >= low_hz) & (freqs < 2 * low_hz)
    return 10 * math.log10(spectrum[band].mean())


def test_pink_noise_falls_3_db_per_octave_white_is_flat() -> None:
    rng = np.random.default_rng(123)
    pink = pink_noise(20 * RATE, rng)
    white = white_noise(20 * RATE, rng)
    bands = [125.0, 250.0, 500.0, 1000.0, 2000.0]
    pink_slopes = np.diff([_octave_band_power_db(pink, f) for f in bands])
    white_slopes = np.diff([_octave_band_power_db(white, f) for f in bands])
    # mean power per bin in a band falls by 10 log10(2) = 3.01 dB per octave for 1/f noise
    assert pink_slopes == pytest.approx([-3.01] * 4, abs=0.3)
    assert white_slopes == pytest.approx([0.0] * 4, abs=0.3)


def test_noise_is_seeded_and_at_loudness() -> None:
    a = noise_at_loudness("pink", 2.0, -35.0, np.random.default_rng(7))
    b = noise_at_loudness("pink", 2.0, -35.0, np.random.default_rng(7))
    assert a.audio.tobytes() == b.audio.tobytes()
    assert measure_loudness(a.audio).value == pytest.approx(-35.0, abs=0.1)
    c = noise_at_loudness("white", 2.0, -35.0, np.random.default_rng(8))
    assert a.audio.tobytes() != c.audio.tobytes()


@pytest.mark.parametrize("target", [-62.0, -64.0, -66.0])
def test_levels_below_minus_63_lufs_are_reached_where_the_absolute_gate_moves(target: float) -> None:
    """A clip whose quiet part (8 dB down) drops under the -70 LUFS absolute gate once scaled: the first gain
    step, measured with that part still gated in, misses the level by tenths of an LU; the search's
    correction steps must bring it within 0.1 LU (measured by pyloudnorm itself)."""
    x = np.concatenate([tone(300.0, 2.0, 0.3), tone(300.0, 3.0, 0.3 * 10 ** (-8 / 20))]).astype(np.float32)
    result = normalize_loudness(x, target, sample_rate_hz=RATE)
    measured = pyloudnorm.Meter(RATE).integrated_loudness(result.audio.astype(np.float64))
    assert measured == pytest.approx(target, abs=0.1)
