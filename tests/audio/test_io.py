"""Audio loading and saving: formats, mono mix-down, resampling, clear errors, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from avsprobe.audio import load_audio, save_audio
from avsprobe.errors import DataError


def test_stereo_44k_becomes_mono_16k(tmp_path: Path) -> None:
    t = np.arange(44100 * 2) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    path = tmp_path / "clip.wav"
    sf.write(path, stereo, 44100, subtype="PCM_16")
    loaded = load_audio(path)
    assert loaded.sample_rate_hz == 16000 and loaded.original_rate_hz == 44100 and loaded.original_channels == 2
    assert loaded.audio.dtype == np.float32 and loaded.audio.shape == (32000,)
    # averaging the channels halves the amplitude; resampling keeps a 440 Hz tone's level
    rms = np.sqrt(np.mean(loaded.audio[1000:-1000].astype(np.float64) ** 2))
    assert rms == pytest.approx(0.25 / np.sqrt(2), rel=1e-3)


def test_flac_and_16k_passthrough_are_exact(tmp_path: Path) -> None:
    x = (np.random.default_rng(0).integers(-20000, 20000, 16000) / 32768.0).astype(np.float32)
    path = tmp_path / "clip.flac"
    save_audio(path, x)
    assert np.array_equal(load_audio(path).audio, x)  # 16-bit values round-trip exactly


def test_int16_scaling_matches_vggish_reader(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    sf.write(path, np.array([16384, -32768, 1], dtype=np.int16), 16000, subtype="PCM_16")
    assert load_audio(path).audio.tolist() == [0.5, -1.0, 1 / 32768]


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found: .*missing.wav"):
        load_audio(tmp_path / "missing.wav")
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage")
    with pytest.raises(DataError, match="cannot read audio file .*corrupt.wav"):
        load_audio(bad)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0), 16000)
    with pytest.raises(DataError, match="empty.wav is empty"):
        load_audio(empty)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.1]), 16000, subtype="FLOAT")
    with pytest.raises(DataError, match="nan.wav contains NaN"):
        load_audio(nan)


def test_save_is_atomic_and_refuses_bad_audio(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    save_audio(path, np.zeros(10, np.float32))
    before = path.read_bytes()
    with pytest.raises(DataError, match="NaN"):
        save_audio(path, np.array([np.nan], np.float32))
    assert path.read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary left behind


def test_same_audio_same_bytes(tmp_path: Path) -> None:
    x = np.random.default_rng(3).uniform(-1, 1, 8000).astype(np.float32)
    save_audio(tmp_path / "a.wav", x)
    save_audio(tmp_path / "b.wav", x)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
