"""Interaction enhancement's speed-up: the decoder forward with 25 % of N = 100 queries active against all active.

The ``paper`` variant's decoder (9 layers, hidden 256, 8 heads, FFN 2048, 100 queries) runs on the visual
features of 384x384 frames (memory levels 12x12, 24x24, 48x48 and 96x96 mask features, as Mask2Former at
stride 32/16/8/4), once with every query active and once with 25 active queries per frame (mark 0 plus 24,
gathered per frame). Only ``ReferenceModel.decode`` is timed: the backbone is the same in both. Target: at
least 1.5x faster with 25 % active.

    python benchmarks/decoder.py [--frames 8] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from avsprobe.reference.backbone import sine_position_encoding
from avsprobe.reference.config import get_config
from avsprobe.reference.model import ReferenceModel, VisualFeatures


def _visual(frames: int, dim: int, device: str, generator: torch.Generator) -> VisualFeatures:
    sizes = [(12, 12), (24, 24), (48, 48)]
    memory = [torch.randn(frames, h * w, dim, generator=generator).to(device) for h, w in sizes]
    pos = [sine_position_encoding(h, w, dim, torch.device(device))[None].expand(frames, -1, -1) for h, w in sizes]
    return VisualFeatures(memory, pos, sizes, torch.randn(frames, dim, 96, 96, generator=generator).to(device))


def _time(fn, repeats: int, device: str) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    cfg = get_config("paper", frame_size=96)  # decode() alone is timed: the tiny backbone stands in
    torch.manual_seed(0)
    model = ReferenceModel(cfg).to(args.device).eval()
    g = torch.Generator().manual_seed(0)
    visual = _visual(args.frames, cfg.hidden_dim, args.device, g)
    queries = torch.randn(args.frames, cfg.num_queries, cfg.hidden_dim, generator=g).to(args.device)
    every = torch.ones(args.frames, cfg.num_queries, dtype=torch.bool, device=args.device)
    quarter = torch.zeros_like(every)
    for f in range(args.frames):  # mark 0 and 24 others, a different set per frame
        chosen = torch.randperm(cfg.num_queries - 1, generator=g)[:24] + 1
        quarter[f, 0] = True
        quarter[f, chosen] = True
    with torch.no_grad():
        t_all = _time(lambda: model.decode(visual, queries, every), args.repeats, args.device)
        t_quarter = _time(lambda: model.decode(visual, queries, quarter), args.repeats, args.device)
    print(f"decoder forward, {args.frames} frames, paper variant (N = {cfg.num_queries}, {cfg.num_layers} layers), "
          f"{args.device}:")
    print(f"  all {cfg.num_queries} queries active: {t_all * 1000:8.1f} ms")
    print(f"  25 % active (25 per frame):   {t_quarter * 1000:8.1f} ms")
    print(f"  speed-up: {t_all / t_quarter:.2f}x (target >= 1.5x)")


if __name__ == "__main__":
    main()
