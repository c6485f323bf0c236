"""Loading and saving audio with soundfile: mono mix-down, resampling to 16 kHz with soxr, atomic writes.

Any format libsndfile reads (WAV, FLAC, OGG, ...) loads. The result is mono float32 in [-1, 1] at
``target_rate_hz``; what was converted (original rate and channel count) is recorded in the result.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avsprobe.errors import DataError
from avsprobe.fileio import atomic_path
from avsprobe.types import SAMPLE_RATE_HZ

__all__ = ["LoadedAudio", "load_audio", "save_audio", "resample", "to_mono"]


@dataclass(frozen=True)
class LoadedAudio:
    """Audio read from a file.

    Attributes:
        audio: ``float32 [N]`` mono at ``sample_rate_hz``.
        sample_rate_hz: rate of ``audio``.
        original_rate_hz: rate stored in the file.
        original_channels: channel count stored in the file (averaged to mono).
        path: the file read.
    """

    audio: np.ndarray
    sample_rate_hz: int
    original_rate_hz: int
    original_channels: int
    path: str

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sample_rate_hz


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels: ``[N]`` stays, ``[N, C]`` (soundfile's layout) becomes ``[N]``."""
    if audio.ndim == 1:
        return audio
    if audio.ndim == 2:
        return audio.mean(axis=1)
    raise ValueError(f"expected audio [N] or [N, C], got shape {audio.shape}")


def resample(audio: np.ndarray, orig_rate_hz: int, target_rate_hz: int) -> np.ndarray:
    """Resample mono audio with soxr (high quality); a no-op copy-free return when the rates agree."""
    if orig_rate_hz == target_rate_hz:
        return audio
    import soxr

    return soxr.resample(audio, orig_rate_hz, target_rate_hz, quality="HQ")


def load_audio(path: str | os.PathLike[str], *, target_rate_hz: int = SAMPLE_RATE_HZ) -> LoadedAudio:
    """Read an audio file as mono float32 at ``target_rate_hz``.

    Samples are read as float64 (PCM is scaled by 1/32768 for 16-bit, as VGGish's reader does), channels
    are averaged, then the signal is resampled if needed.

    Raises:
        DataError: the file is missing, unreadable, empty, or holds NaN or infinite samples.
    """
    import soundfile as sf

    p = Path(path)
    if not p.is_file():
        raise DataError(f"audio file not found: {p}")
    try:
        data, rate = sf.read(str(p), dtype="float64", always_2d=True)
    except Exception as exc:  # libsndfile raises several types for corrupt files
        raise DataError(f"cannot read audio file {p}: {exc}") from exc
    if data.shape[0] == 0:
        raise DataError(f"audio file {p} is empty (0 samples)")
    _check_wav_length(p)
    if not np.isfinite(data).all():
        raise DataError(f"audio file {p} contains NaN or infinite samples")
    mono = resample(to_mono(data), int(rate), target_rate_hz)
    return LoadedAudio(mono.astype(np.float32), target_rate_hz, int(rate), int(data.shape[1]), str(p))


def _check_wav_length(path: Path) -> None:
    """A RIFF/WAVE file whose ``data`` chunk declares more bytes than the file holds was cut short (a copy or
    download that stopped): libsndfile reads what is there without a word, so the clip would score as if
    whole. Other formats, and headers of streamed files (size 0 or 0xFFFFFFFF), are not checked."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                available = size - offset - 8
                if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > available:
                    raise DataError(f"audio file {path} is truncated: its header declares {chunk_size} bytes of "
                                    f"samples, the file holds {available}")
                return
            offset += 8 + chunk_size + (chunk_size & 1)


def save_audio(
    path: str | os.PathLike[str],
    audio: np.ndarray,
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    subtype: str = "PCM_16",
) -> None:
    """Write mono audio atomically (temporary file, then rename). The format follows the suffix.

    Args:
        path: destination (``.wav``, ``.flac``, ...).
        audio: ``[N]`` float samples in [-1, 1] (libsndfile clips what lies outside for PCM subtypes).
        sample_rate_hz: rate to record in the file.
        subtype: libsndfile subtype; 16-bit PCM like AVSBench's wavs by default.

    Raises:
        DataError: empty, non-finite or non-mono audio.
    """
    import soundfile as sf

    a = np.asarray(audio)
    if a.ndim != 1 or a.size == 0:
        raise DataError(f"refusing to write {path}: audio must be non-empty mono [N], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise DataError(f"refusing to write {path}: audio contains NaN or infinite samples")
    fmt = Path(path).suffix.lstrip(".").upper() or "WAV"
    with atomic_path(path) as tmp:
        sf.write(str(tmp), a, sample_rate_hz, subtype=subtype, format=fmt)
