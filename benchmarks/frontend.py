"""Throughput of the batched VGGish frontend, both paths: the float64 reference and the float32 fast path.

Prints clips per second for 450 clips of 5 s (targets: float64 >= 300, float32 >= 800 on 2 CPU cores), the
largest difference between the two paths, and the ratio against ``librosa.feature.melspectrogram`` called per
clip with the same framing (n_fft 512, window 400, hop 160, no centring, 64 bands), side by side in one run.

    python benchmarks/frontend.py [--clips 450] [--device cpu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from avsprobe.audio.vggish import vggish_examples


def _best_time(batch: torch.Tensor, precision: str, device: str, repeats: int) -> tuple[float, torch.Tensor]:
    vggish_examples(batch[:4], device=device, precision=precision)  # warm-up
    best, out = float("inf"), None
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = vggish_examples(batch, device=device, precision=precision)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=450)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    clips = np.random.default_rng(0).uniform(-0.5, 0.5, (args.clips, 5 * 16000))
    batch = torch.from_numpy(clips)
    t64, out64 = _best_time(batch, "float64", args.device, args.repeats)
    t32, out32 = _best_time(batch, "float32", args.device, args.repeats)
    assert out64.shape == out32.shape == (args.clips, 5, 1, 96, 64)

    import librosa

    librosa.feature.melspectrogram(y=clips[0], sr=16000, n_fft=512, win_length=400, hop_length=160,
                                   center=False, n_mels=64, fmin=125, fmax=7500)  # warm-up (filter cache)
    t0 = time.perf_counter()
    for clip in clips:
        librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=512, win_length=400, hop_length=160,
                                       center=False, n_mels=64, fmin=125, fmax=7500)
    t_librosa = time.perf_counter() - t0
    print(f"clips={args.clips} x 5 s, device={args.device}, threads={torch.get_num_threads()}, best of {args.repeats}")
    print(f"float64 reference path: {t64:.2f} s = {args.clips / t64:.0f} clips/s (target >= 300)")
    print(f"float32 fast path:      {t32:.2f} s = {args.clips / t32:.0f} clips/s (target >= 800)")
    print(f"largest |float32 - float64|: {float((out32.cpu() - out64.cpu()).abs().max()):.2e} (limit 1e-5)")
    print(f"librosa melspectrogram per clip (float64): {args.clips / t_librosa:.0f} clips/s; "
          f"fast path {t_librosa / t32:.2f}x, reference {t_librosa / t64:.2f}x")


if __name__ == "__main__":
    main()
