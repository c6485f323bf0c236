"""The VGGish network (the AudioSet VGG that AVSBench models use frozen) and its converted PyTorch weights.

Weights: the usual conversion ``vggish-10086976.pth`` (harritaylor/torchvggish), a plain state dict with keys
``features.{0,3,6,8,11,13}.{weight,bias}`` (convolutions) and ``embeddings.{0,2,4}.{weight,bias}`` (the three
fully connected layers). It is loaded with ``torch.load(weights_only=True)``: no code runs. Input: VGGish
log-mel examples ``[B, 1, 96, 64]`` (``avsprobe.audio.vggish``); output: 128-d embeddings after ReLU, no PCA
post-processing (AVSBench's models use the raw embeddings).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from avsprobe.errors import DataError

__all__ = ["VGGish", "load_vggish"]


class VGGish(nn.Module):
    """VGG-style conv stack (64, 128, 256x2, 512x2 with four max-pools) and three FC layers to 128-d."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for block in ((64,), (128,), (256, 256), (512, 512)):
            for c in block:
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(inplace=True)]
                c_in = c
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 4096),
                                        nn.ReLU(inplace=True), nn.Linear(4096, 128), nn.ReLU(inplace=True))

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """``[B, 1, 96, 64]`` -> ``[B, 128]``."""
        x = self.features(log_mel)  # [B, 512, 6, 4]
        # the FC weights were ported from TensorFlow, which flattens channels-last
        x = x.permute(0, 2, 3, 1).contiguous().flatten(1)
        return self.embeddings(x)


def load_vggish(path: str | Path) -> VGGish:
    """A frozen, eval-mode :class:`VGGish` with weights from a converted ``.pth`` state dict.

    Raises:
        DataError: the file is missing, is not a plain tensor state dict, or does not fit the network.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"VGGish weights {path} not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError or RuntimeError for untrusted or corrupt files
        raise DataError(f"{path} is not a weights-only VGGish state dict: {exc}") from exc
    model = VGGish()
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as exc:
        raise DataError(f"{path} does not have the VGGish key layout: {exc}") from exc
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
