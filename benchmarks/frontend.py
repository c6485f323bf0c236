"""Throughput of the batched float64 VGGish frontend against a per-clip librosa mel spectrogram.

Prints clips per second for 450 clips of 5 s on CPU (target: at least 300) and the ratio against
``librosa.feature.melspectrogram`` called per clip with the same framing (n_fft 512, window 400, hop 160,
no centring, 64 bands), measured side by side in one run.

    python benchmarks/frontend.py [--clips 450] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from avsprobe.audio.vggish import vggish_examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=450)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    clips = np.random.default_rng(0).uniform(-0.5, 0.5, (args.clips, 5 * 16000))
    batch = torch.from_numpy(clips)

    vggish_examples(batch[:4], device=args.device)  # warm-up
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = vggish_examples(batch, device=args.device)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    t_ours = time.perf_counter() - t0
    assert out.shape == (args.clips, 5, 1, 96, 64)

    import librosa

    librosa.feature.melspectrogram(y=clips[0], sr=16000, n_fft=512, win_length=400, hop_length=160,
                                   center=False, n_mels=64, fmin=125, fmax=7500)  # warm-up (filter cache)
    t0 = time.perf_counter()
    for clip in clips:
        librosa.feature.melspectrogram(y=clip, sr=16000, n_fft=512, win_length=400, hop_length=160,
                                       center=False, n_mels=64, fmin=125, fmax=7500)
    t_librosa = time.perf_counter() - t0
    print(f"clips={args.clips} x 5 s, device={args.device}, threads={torch.get_num_threads()}")
    print(f"avsprobe VGGish frontend (float64, batched): {t_ours:.2f} s = {args.clips / t_ours:.0f} clips/s (target >= 300)")
    print(f"librosa melspectrogram per clip (float64):   {t_librosa:.2f} s = {args.clips / t_librosa:.0f} clips/s")
    print(f"ratio: {t_librosa / t_ours:.2f}x faster than per-clip librosa")


if __name__ == "__main__":
    main()
