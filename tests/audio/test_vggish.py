"""VGGish frontend: check values of the torchvggish reference frontend and an independent float64 numpy implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from avsprobe.audio.vggish import (
    hertz_to_mel,
    log_mel_frames,
    mel_matrix,
    num_frames_for,
    vggish_examples,
)

RATE = 16000


def numpy_reference_examples(x: np.ndarray) -> np.ndarray:
    """The VGGish frontend written from the formulas in plain float64 numpy, loops where the text has them."""
    window, hop, fft = 400, 160, 512
    n_frames = 1 + (len(x) - window) // hop
    frames = np.stack([x[i * hop : i * hop + window] for i in range(n_frames)])
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)
    spec = np.abs(np.fft.rfft(frames * hann, n=fft))
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    bins_mel = mel(np.linspace(0, RATE / 2, fft // 2 + 1))
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    weights = np.zeros((fft // 2 + 1, 64))
    for i in range(64):
        lo, c, hi = edges[i], edges[i + 1], edges[i + 2]
        for b, m in enumerate(bins_mel):
            weights[b, i] = max(0.0, min((m - lo) / (c - lo), (hi - m) / (hi - c)))
    weights[0] = 0.0
    log_mel = np.log(spec @ weights + 0.01)
    n_ex = 1 + (n_frames - 96) // 96
    return np.stack([log_mel[k * 96 : (k + 1) * 96] for k in range(n_ex)])[:, None].astype(np.float32)


def sine(freq_hz: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * freq_hz * t)


def test_mel_scale_check_values() -> None:
    assert hertz_to_mel(125.0) == pytest.approx(185.169539, abs=1e-5)
    assert hertz_to_mel(7500.0) == pytest.approx(2773.331854, abs=1e-5)


def test_filterbank_shape_and_support() -> None:
    m = mel_matrix()
    assert m.shape == (257, 64)
    rows = np.nonzero(m.any(axis=1))[0]
    assert rows.min() == 5 and rows.max() == 239 and len(rows) == 235
    assert np.nonzero(m[:, 0])[0].tolist() == [5]  # band 0 touches only 156.25 Hz
    assert not m[0].any()


def test_five_seconds_give_498_frames_and_5_examples() -> None:
    assert num_frames_for(5 * RATE) == 498
    assert num_frames_for(10 * RATE) == 998
    assert vggish_examples(np.zeros(5 * RATE)).shape == (5, 1, 96, 64)
    assert vggish_examples(np.zeros(10 * RATE)).shape == (10, 1, 96, 64)


def test_silence_is_log_of_offset_everywhere() -> None:
    out = vggish_examples(np.zeros(5 * RATE))
    assert torch.allclose(out, torch.full_like(out, math.log(0.01)), atol=1e-5)
    assert float(out[0, 0, 0, 0]) == pytest.approx(-4.605170, abs=1e-5)


def test_1khz_sine_check_values() -> None:
    frames = log_mel_frames(torch.from_numpy(sine(1000.0, 5.0))[None])[0]
    assert int(frames[0].argmax()) == 19
    assert float(frames[0, 19]) == pytest.approx(4.118052, abs=1e-5)
    assert float(frames[0].mean()) == pytest.approx(-3.657225, abs=1e-5)


@pytest.mark.parametrize("seconds", [1.0, 5.0, 7.3])
def test_matches_independent_numpy_implementation(seconds: float) -> None:
    x = np.random.default_rng(0).uniform(-0.5, 0.5, int(seconds * RATE)) + sine(440, seconds, 0.3)
    expected = numpy_reference_examples(x)
    got = vggish_examples(x).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_batched_equals_per_clip_and_lists_of_mixed_lengths() -> None:
    rng = np.random.default_rng(1)
    clips = [rng.uniform(-1, 1, 5 * RATE) for _ in range(3)]
    batched = vggish_examples(np.stack(clips))
    for i, clip in enumerate(clips):
        assert torch.equal(batched[i], vggish_examples(clip))
    mixed = vggish_examples([clips[0], clips[1][: 3 * RATE]], num_examples=5)
    assert mixed.shape == (2, 5, 1, 96, 64)
    assert torch.equal(mixed[0], batched[0])


def test_short_clip_policies() -> None:
    x = sine(500.0, 3.0)
    natural = vggish_examples(x)
    assert natural.shape[0] == num_frames_for(3 * RATE) // 96 == 3
    repeat = vggish_examples(x, num_examples=5, short_policy="repeat_last")
    n = natural.shape[0]
    assert torch.equal(repeat[:n], natural) and all(torch.equal(repeat[k], natural[-1]) for k in range(n, 5))
    silence = vggish_examples(x, num_examples=5, short_policy="pad_silence")
    assert torch.allclose(silence[4], torch.full_like(silence[4], math.log(0.01)), atol=1e-6)
    zeros = vggish_examples(x, num_examples=5, short_policy="zero_logmel")
    assert torch.equal(zeros[n:], torch.zeros_like(zeros[n:])) and torch.equal(zeros[:n], natural)
    longer = vggish_examples(sine(500.0, 7.0), num_examples=5)
    assert longer.shape[0] == 5
    tiny = vggish_examples(sine(500.0, 0.2), num_examples=5)
    assert tiny.shape == (5, 1, 96, 64)


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="short_policy"):
        vggish_examples(np.zeros(RATE), num_examples=2, short_policy="wrap")  # type: ignore[arg-type]


@pytest.mark.gpu
def test_cuda_matches_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    x = np.random.default_rng(2).uniform(-1, 1, (4, 5 * RATE))
    cpu = vggish_examples(x)
    gpu = vggish_examples(torch.from_numpy(x), device="cuda").cpu()
    assert torch.allclose(cpu, gpu, atol=1e-5)


def test_fast_path_meets_the_check_values_and_the_float64_path() -> None:
    frames = log_mel_frames(torch.from_numpy(sine(1000.0, 5.0))[None], precision="float32")[0]
    assert frames.dtype == torch.float32 and int(frames[0].argmax()) == 19
    assert float(frames[0, 19]) == pytest.approx(4.118052, abs=1e-5)
    assert float(frames[0].mean()) == pytest.approx(-3.657225, abs=1e-5)
    silence = vggish_examples(np.zeros(5 * RATE), precision="float32")
    assert torch.allclose(silence, torch.full_like(silence, math.log(0.01)), atol=1e-5)
    rng = np.random.default_rng(3)
    # a pure sine (near-empty bins, where a float32 FFT would be 2e-4 off), loud noise, and a mixture
    for x in (sine(440.0, 5.0), rng.uniform(-1, 1, 5 * RATE), rng.uniform(-0.5, 0.5, 7 * RATE) + sine(300, 7.0, 0.3)):
        fast, exact = vggish_examples(x, precision="float32"), vggish_examples(x)
        assert float((fast - exact).abs().max()) <= 1e-5
    with pytest.raises(ValueError, match="unknown precision"):
        vggish_examples(np.zeros(RATE), precision="float16")  # type: ignore[arg-type]
