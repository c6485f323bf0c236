"""The VGGish input frontend (log-mel examples), exactly as AVSBench's ``vggish_input`` computes it.

The reference frontend (torchvggish ``vggish_input.py`` / ``mel_features.py``, as AVSBench uses it): 16 kHz
mono; 400-sample frames with hop 160 and no centring; periodic Hann window;
magnitude of a 512-point rfft (zero-padded at the end); 64 HTK-mel bands from 125 to 7500 Hz built in the
mel domain with the DC row zeroed and no area normalisation; ``ln(mel + 0.01)``; non-overlapping examples of
96 frames (the incomplete tail dropped). Batched over clips, on CPU or CUDA. Output: ``[n_examples, 1, 96,
64]`` per clip. Two precisions (``precision=``):

* ``"float64"`` (the exact reference): computed in float64 and cast to float32 at the end, as the reference;
* ``"float32"`` (the fast path, what the reference model and the runner use): the FFT in float64, then the
  magnitude, the filterbank and the log in float32, about 2x faster on CPU and within 1e-5 of the float64
  values (tests check the check values and the float64 path on sines, noise and silence).

``torch.stft`` is deliberately not used: with ``win_length=400, n_fft=512`` it pads the *window* to 512
and frames 512 signal samples, which shifts content and changes the frame count.

Clips of a set length (``num_examples`` = T seconds) follow an explicit policy when they are shorter:

* ``"repeat_last"`` (default): repeat the last example up to T, as the AVSBench S4/MS3 ``.pkl`` features were
  made. A clip too short for even one example is first padded with silence to one example.
* ``"pad_silence"``: pad the waveform with digital silence to T seconds, so missing seconds read as
  silence (ln(0.01) = -4.605 in every band).
* ``"zero_logmel"``: pad with zeros in log-mel space, as AVSBench-semantic does at run time (zero is not
  silence there).

Clips longer than T are truncated to T examples (the AVSBench preprocessing refused them instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

import numpy as np

from avsprobe.types import SAMPLE_RATE_HZ

if TYPE_CHECKING:
    import torch

__all__ = [
    "VGGISH_RATE_HZ",
    "WINDOW_SAMPLES",
    "HOP_SAMPLES",
    "FFT_SIZE",
    "NUM_MEL_BANDS",
    "EXAMPLE_FRAMES",
    "ShortClipPolicy",
    "Precision",
    "hertz_to_mel",
    "mel_matrix",
    "log_mel_frames",
    "vggish_examples",
    "num_frames_for",
]

VGGISH_RATE_HZ = SAMPLE_RATE_HZ
WINDOW_SAMPLES = 400  # round(16000 * 0.025)
HOP_SAMPLES = 160  # round(16000 * 0.010)
FFT_SIZE = 512  # 2 ** ceil(log2(400))
NUM_MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # round(0.96 / 0.010), also the hop between examples
SAMPLES_PER_EXAMPLE = WINDOW_SAMPLES + HOP_SAMPLES * (EXAMPLE_FRAMES - 1)

ShortClipPolicy = Literal["repeat_last", "pad_silence", "zero_logmel"]
Precision = Literal["float64", "float32"]

# STFT frames per internal chunk (about 8 clips of 5 s): small chunks keep the [frames, 512] float64
# work buffers in cache, which measured 2-3x faster on CPU than chunks of 64 clips.
_CHUNK_FRAMES = 4096
# Clips handed to ``log_mel_frames`` at once (bounds the float64 output of one call to about 130 MB).
_CHUNK_CLIPS = 512


def hertz_to_mel(frequency_hz: np.ndarray | float) -> np.ndarray | float:
    """HTK mel scale with the natural log: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(frequency_hz, dtype=np.float64) / 700.0)


@lru_cache(maxsize=4)
def _mel_matrix_cached(rate_hz: int) -> np.ndarray:
    num_bins = FFT_SIZE // 2 + 1
    bins_mel = hertz_to_mel(np.linspace(0.0, rate_hz / 2.0, num_bins))
    edges = np.linspace(hertz_to_mel(MEL_MIN_HZ), hertz_to_mel(MEL_MAX_HZ), NUM_MEL_BANDS + 2)
    weights = np.empty((num_bins, NUM_MEL_BANDS))
    for band in range(NUM_MEL_BANDS):
        lower, centre, upper = edges[band : band + 3]
        rising = (bins_mel - lower) / (centre - lower)
        falling = (upper - bins_mel) / (upper - centre)
        weights[:, band] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0  # the DC bin never contributes (as in the reference)
    weights.flags.writeable = False
    return weights


def mel_matrix(rate_hz: int = VGGISH_RATE_HZ) -> np.ndarray:
    """``float64 [257, 64]`` triangular HTK-mel filterbank of the VGGish frontend (read-only)."""
    return _mel_matrix_cached(rate_hz)


def num_frames_for(num_samples: int) -> int:
    """STFT frames of a clip of ``num_samples``: ``1 + (N - 400) // 160`` (0 if shorter than a window)."""
    return 0 if num_samples < WINDOW_SAMPLES else 1 + (num_samples - WINDOW_SAMPLES) // HOP_SAMPLES


def log_mel_frames(waveforms: torch.Tensor, *, precision: Precision = "float64") -> torch.Tensor:
    """``[B, F, 64]`` log-mel frames of equal-length waveforms ``[B, N]`` (N >= 400), in ``precision``.

    Clips are processed a few at a time through work buffers allocated once: fresh multi-megabyte
    temporaries per chunk cost more in page faults than the FFT itself on CPU.
    """
    import torch

    if precision not in ("float64", "float32"):
        raise ValueError(f"unknown precision {precision!r}; use 'float64' or 'float32'")
    x = waveforms.to(torch.float64)
    batch, num_samples = x.shape
    num_frames = num_frames_for(num_samples)
    if num_frames == 0:
        raise ValueError(f"clips of {num_samples} samples are shorter than one {WINDOW_SAMPLES}-sample window")
    window = torch.hann_window(WINDOW_SAMPLES, periodic=True, dtype=torch.float64, device=x.device)
    mel = torch.tensor(mel_matrix(), device=x.device)  # [257, 64], copied: the cached array is read-only
    fast = precision == "float32"
    if fast:
        mel = mel.to(torch.float32)
    out = x.new_empty(batch, num_frames, NUM_MEL_BANDS, dtype=torch.float32 if fast else torch.float64)
    chunk = max(1, _CHUNK_FRAMES // max(num_frames, 1))
    # Zero-padded at the end to 512 here, once: rfft(..., n=512) pads internally and measured 3-4x slower.
    padded = x.new_zeros(min(chunk, batch), num_frames, FFT_SIZE)
    spectrum = torch.empty(padded.shape[:-1] + (FFT_SIZE // 2 + 1,), dtype=torch.complex128, device=x.device)
    magnitude = x.new_empty(spectrum.shape)
    magnitude32 = magnitude.new_empty(spectrum.shape, dtype=torch.float32) if fast else magnitude
    for start in range(0, batch, chunk):
        n = min(chunk, batch - start)
        frames = x[start : start + n].unfold(-1, WINDOW_SAMPLES, HOP_SAMPLES)  # [n, F, 400], a view
        torch.mul(frames, window, out=padded[:n, :, :WINDOW_SAMPLES])
        torch.fft.rfft(padded[:n], out=spectrum[:n])
        if fast:
            # The FFT stays float64: a float32 FFT's rounding floor (1e-7 of the frame's peak) swamps the near-
            # empty bins of sparse spectra (a sine: 2e-4 off after the log). The power |X|^2 of the accurate
            # spectrum, its square root, the filterbank (a sum of positive terms) and the log are float32.
            parts = torch.view_as_real(spectrum[:n])
            power = torch.mul(parts[..., 0], parts[..., 0], out=magnitude[:n]).addcmul_(parts[..., 1], parts[..., 1])
            torch.matmul(magnitude32[:n].copy_(power).sqrt_(), mel, out=out[start : start + n])
        else:
            torch.abs(spectrum[:n], out=magnitude[:n])  # |X|, not power
            torch.matmul(magnitude[:n], mel, out=out[start : start + n])
    return out.add_(LOG_OFFSET).log_()


def _as_batch(waveforms: object) -> list[np.ndarray] | torch.Tensor:
    import torch

    if isinstance(waveforms, torch.Tensor):
        return waveforms[None] if waveforms.ndim == 1 else waveforms
    if isinstance(waveforms, np.ndarray):
        return torch.from_numpy(waveforms[None] if waveforms.ndim == 1 else waveforms)
    return [np.asarray(w) for w in waveforms]  # type: ignore[union-attr]


def vggish_examples(
    waveforms: torch.Tensor | np.ndarray | Sequence[np.ndarray],
    *,
    num_examples: int | None = None,
    short_policy: ShortClipPolicy = "repeat_last",
    device: str | torch.device | None = None,
    precision: Precision = "float64",
) -> torch.Tensor:
    """VGGish log-mel examples of one or more 16 kHz mono clips.

    Args:
        waveforms: ``[N]``, ``[B, N]`` (tensor or array) or a list of ``[N_i]`` arrays (clips of different
            lengths are grouped by length internally). Samples as floats in [-1, 1].
        num_examples: examples per clip (T seconds). ``None`` keeps each clip's natural count, which must
            then be the same for all clips of the batch.
        short_policy: what to do with clips shorter than ``num_examples`` (module docstring).
        device: where to compute (default: the tensor's device, else CPU).
        precision: ``"float64"`` (the exact reference) or ``"float32"`` (the fast path, within 1e-5).

    Returns:
        ``float32 [B, T, 1, 96, 64]``, or ``[T, 1, 96, 64]`` for a single ``[N]`` input.
    """
    import torch

    single = getattr(waveforms, "ndim", 2) == 1
    batch = _as_batch(waveforms)
    if isinstance(batch, torch.Tensor):
        groups = {batch.shape[-1]: list(range(batch.shape[0]))}
        get = lambda idx: batch[idx[0] : idx[-1] + 1]  # noqa: E731  (contiguous range: a view)
    else:
        groups = {}
        for i, w in enumerate(batch):
            if w.ndim != 1:
                raise ValueError(f"clip {i}: expected mono [N], got shape {w.shape}")
            groups.setdefault(w.shape[0], []).append(i)
        get = lambda idx: torch.from_numpy(np.stack([batch[i] for i in idx]))  # noqa: E731
    parts: list[tuple[list[int], torch.Tensor]] = []
    for length, indices in groups.items():
        for start in range(0, len(indices), _CHUNK_CLIPS):
            idx = indices[start : start + _CHUNK_CLIPS]
            clips = get(idx)
            clips = clips.to(device) if device is not None else clips
            parts.append((idx, _examples_of_equal_length(clips, length, num_examples, short_policy, precision)))
    counts = {out.shape[1] for _, out in parts}
    if len(counts) > 1:
        raise ValueError(f"clips give different example counts {sorted(counts)}; pass num_examples")
    if len(parts) == 1:
        stacked = parts[0][1]  # one group in input order: no copy
    else:
        stacked = torch.cat([out for _, out in parts])
        order = torch.tensor([i for idx, _ in parts for i in idx])
        stacked = stacked[torch.argsort(order).to(stacked.device)]
    return stacked[0] if single else stacked


def _examples_of_equal_length(
    clips: torch.Tensor, length: int, num_examples: int | None, short_policy: ShortClipPolicy,
    precision: Precision = "float64",
) -> torch.Tensor:
    import torch

    if short_policy not in ("repeat_last", "pad_silence", "zero_logmel"):
        raise ValueError(f"unknown short_policy {short_policy!r}")
    if num_examples is not None and short_policy == "pad_silence":
        needed = num_examples * SAMPLE_RATE_HZ
        if length < needed:
            clips = torch.nn.functional.pad(clips, (0, needed - length))
            length = needed
    if length < SAMPLES_PER_EXAMPLE:
        if short_policy == "zero_logmel" and num_examples is not None:
            return clips.new_zeros(clips.shape[0], num_examples, 1, EXAMPLE_FRAMES, NUM_MEL_BANDS, dtype=torch.float32)
        clips = torch.nn.functional.pad(clips, (0, SAMPLES_PER_EXAMPLE - length))
    frames = log_mel_frames(clips, precision=precision)  # [B, F, 64]
    available = frames.shape[1] // EXAMPLE_FRAMES
    # cast once (the only copy), then view the frames as non-overlapping 96-frame examples
    examples = frames[:, : available * EXAMPLE_FRAMES].to(torch.float32).reshape(
        clips.shape[0], available, EXAMPLE_FRAMES, NUM_MEL_BANDS)
    if num_examples is not None:
        if available >= num_examples:
            examples = examples[:, :num_examples]
        elif short_policy == "zero_logmel":
            pad = examples.new_zeros(clips.shape[0], num_examples - available, EXAMPLE_FRAMES, NUM_MEL_BANDS)
            examples = torch.cat([examples, pad], dim=1)
        else:  # repeat_last (pad_silence already reached the length)
            repeat = examples[:, -1:].expand(-1, num_examples - available, -1, -1)
            examples = torch.cat([examples, repeat], dim=1)
    return examples.unsqueeze(2)
