"""Audio core: loading, loudness, gain, mixing, noise and the exact VGGish log-mel frontend.

Audio is mono float32 ``[N]`` at 16 kHz throughout (``avsprobe.types``).
"""

from avsprobe.audio.gain import GainResult, apply_gain_db, db_to_amplitude, normalize_loudness
from avsprobe.audio.io import LoadedAudio, load_audio, resample, save_audio
from avsprobe.audio.loudness import Loudness, measure_loudness, rms_dbfs
from avsprobe.audio.mixing import MixResult, mix, mix_at_loudness
from avsprobe.audio.noise import noise_at_loudness, pink_noise, white_noise
from avsprobe.audio.vggish import log_mel_frames, mel_matrix, vggish_examples

__all__ = [
    "GainResult",
    "LoadedAudio",
    "Loudness",
    "MixResult",
    "apply_gain_db",
    "db_to_amplitude",
    "load_audio",
    "log_mel_frames",
    "measure_loudness",
    "mel_matrix",
    "mix",
    "mix_at_loudness",
    "noise_at_loudness",
    "normalize_loudness",
    "pink_noise",
    "resample",
    "rms_dbfs",
    "save_audio",
    "vggish_examples",
    "white_noise",
]
