"""Training-step cost of the uncertainty-based debias: ``ours`` (uncertainty) over ``ours-nodebias``.

Both take the same optimisation step (forward, set criterion, backward, AdamW) of the ``tiny`` variant on a
batch of 32 frames at 96x96 with two sounding objects each; ``ours`` runs its distorted-audio branch in the
same batched decoder pass (the visual features are computed once). The paper reports about 1.5x training
time; target: at most 1.6x.

    python benchmarks/debias.py [--steps 10] [--batch 32] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from avsprobe.reference.config import get_config
from avsprobe.reference.criterion import SetCriterion, targets_from_labels
from avsprobe.reference.model import ReferenceModel


def step_times(debias: str, args: argparse.Namespace) -> list[float]:
    torch.manual_seed(0)
    cfg = get_config("tiny", debias=debias)
    model = ReferenceModel(cfg).to(args.device).train()
    criterion = SetCriterion(cfg)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    s = cfg.frame_size
    frames = torch.randn(args.batch, 3, s, s, generator=g).to(args.device)
    audio = torch.randn(args.batch, 96, 64, generator=g).to(args.device)
    labels = torch.zeros(args.batch, s, s, dtype=torch.uint8)
    labels[:, 10:40, 10:40] = 1
    labels[:, 50:80, 40:90] = 4
    marks = torch.zeros(args.batch, cfg.num_queries, dtype=torch.bool, device=args.device)
    marks[:, [0, 1, 2, 7, 8]] = True
    targets = targets_from_labels(labels.to(args.device), cfg.num_classes, (s // 4, s // 4))
    times = []
    for i in range(args.steps + 2):
        start = time.perf_counter()
        output = model(frames, audio, marks=marks, generator=g)
        loss, _ = criterion(output, targets, g)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= 2:  # warm-up steps are not counted
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    base = statistics.median(step_times("none", args))
    ours = statistics.median(step_times("uncertainty", args))
    print(f"training step, tiny variant, {args.batch} frames, {args.device} (median of {args.steps}):")
    print(f"  ours-nodebias:       {base * 1000:8.1f} ms")
    print(f"  ours (uncertainty):  {ours * 1000:8.1f} ms")
    print(f"  ratio: {ours / base:.2f}x (paper about 1.5x; target <= 1.6x)")


if __name__ == "__main__":
    main()
