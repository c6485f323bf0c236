"""Speed of the one-pass 255-threshold F statistics against a loop over thresholds.

Prints the ratio measured side by side in one run (target: at least 50x on 1,000 frames of 224x224, CPU).
The loop baseline is already vectorised over frames and pixels; it only loops over the 255 thresholds,
as the reference ``_eval_pr`` does.

    python benchmarks/metrics.py [--frames 1000] [--size 224]
"""

from __future__ import annotations

import argparse
import time

import torch

from avsprobe.metrics.binary import binary_frame_stats, f_thresholds


def threshold_loop(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.sigmoid(logits.float()).flatten(1)
    gt = target.flatten(1) > 0
    tp, pp = [], []
    for tau in f_thresholds():
        positive = scores >= tau
        pp.append(positive.sum(1))
        tp.append((positive & gt).sum(1))
    return torch.stack(tp, 1), torch.stack(pp, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(args.frames, args.size, args.size, generator=g) * 4
    target = torch.rand(args.frames, args.size, args.size, generator=g) > 0.7

    binary_frame_stats(logits[:8], target[:8])  # warm-up: thread pool and allocator
    fast_times = []
    for _ in range(3):
        t0 = time.perf_counter()
        stats = binary_frame_stats(logits, target)
        fast_times.append(time.perf_counter() - t0)
    t_fast = sorted(fast_times)[1]  # median of 3
    t0 = time.perf_counter()
    tp, pp = threshold_loop(logits, target)
    t_loop = time.perf_counter() - t0
    assert (tp.numpy() == stats.tp_at).all() and (pp.numpy() == stats.pp_at).all(), "results differ"
    print(f"frames={args.frames} size={args.size}x{args.size} threads={torch.get_num_threads()}")
    print(f"one-pass histogram: {t_fast:.3f} s (median of 3)")
    print(f"255-threshold loop: {t_loop:.3f} s")
    print(f"speed-up: {t_loop / t_fast:.1f}x (target >= 50x)")


if __name__ == "__main__":
    main()
