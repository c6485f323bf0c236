"""Score predicted masks with the AVSBench legacy metrics and the canonical variants, side by side.

    python examples/score_masks.py

Uses random logits so it runs anywhere; replace ``logits`` and ``target`` with your model's output
``[N, H, W]`` and the ground-truth masks (frames in test-set order) to score a real model.
"""

from __future__ import annotations

import torch

from avsprobe.metrics import BinaryMetricAccumulator


def main() -> None:
    g = torch.Generator().manual_seed(0)
    target = (torch.rand(40, 224, 224, generator=g) > 0.7).float()
    logits = (target * 2 - 1) * 2 + torch.randn(40, 224, 224, generator=g) * 2
    acc = BinaryMetricAccumulator()
    for start in range(0, 40, 10):  # any batching gives the same canonical numbers
        acc.update(logits[start : start + 10], target[start : start + 10])
    print("canonical:", {k: round(v, 4) for k, v in acc.compute().items()})
    for bs in (1, 4):
        print(f"avsbench legacy, batch size {bs}:", {k: round(v, 4) for k, v in acc.compute_legacy(batch_size=bs).items()})


if __name__ == "__main__":
    main()
