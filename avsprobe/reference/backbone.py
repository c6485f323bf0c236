"""The ``tiny`` visual backbone and pixel decoder of the reference model (trains on a CPU).

A five-stage CNN (strides 2 to 32) and an FPN-style pixel decoder in Mask2Former's roles: three feature
levels (strides 32, 16, 8) that the decoder layers attend to in round-robin, and per-pixel mask embeddings at
stride 4 that the query embeddings are dotted with. Frames ``[B, 3, H, W]`` (normalised); H and W must be
multiples of 32.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["TinyBackbone", "PixelDecoder", "sine_position_encoding"]

_STAGE_CHANNELS = (24, 32, 64, 96, 128)  # strides 2, 4, 8, 16, 32


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


class TinyBackbone(nn.Module):
    """Five stages, each a stride-2 conv and a stride-1 conv (3x3, BatchNorm, ReLU).

    Returns features at strides 4, 8, 16, 32: ``[B, 32, H/4, W/4]`` ... ``[B, 128, H/32, W/32]``.
    """

    channels = _STAGE_CHANNELS[1:]

    def __init__(self) -> None:
        super().__init__()
        stages, c_in = [], 3
        for c in _STAGE_CHANNELS:
            stages.append(nn.Sequential(_conv_bn_relu(c_in, c, 2), _conv_bn_relu(c, c, 1)))
            c_in = c
        self.stages = nn.ModuleList(stages)

    def forward(self, frames: torch.Tensor) -> list[torch.Tensor]:
        x, out = frames, []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i >= 1:
                out.append(x)
        return out


class PixelDecoder(nn.Module):
    """Top-down FPN to ``dim`` channels.

    Returns ``(levels, mask_features)``: ``levels`` the stride-32, -16 and -8 maps ``[B, dim, h_l, w_l]`` (the
    decoder's memory, coarse first, as in Mask2Former), ``mask_features`` ``[B, dim, H/4, W/4]``.
    """

    def __init__(self, in_channels: tuple[int, ...], dim: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in in_channels)
        self.output = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1, bias=False), nn.GroupNorm(8, dim), nn.ReLU(inplace=True))
            for _ in in_channels)
        self.mask_features = nn.Conv2d(dim, dim, 1)

    def forward(self, features: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor]:
        maps: list[torch.Tensor] = []
        x = None
        for i in reversed(range(len(features))):  # stride 32 first
            lateral = self.lateral[i](features[i])
            x = lateral if x is None else lateral + nn.functional.interpolate(x, size=lateral.shape[-2:], mode="nearest")
            x = self.output[i](x)
            maps.append(x)
        return maps[:3], self.mask_features(maps[-1])


def sine_position_encoding(height: int, width: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """DETR's 2-D sine encoding, normalised coordinates: ``[height * width, dim]`` (row-major)."""
    half = dim // 2
    y = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height * 2 * math.pi
    x = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width * 2 * math.pi
    freq = 10000 ** (2 * (torch.arange(half, device=device) // 2) / half)
    pos_y = y[:, None] / freq  # [H, half]
    pos_x = x[:, None] / freq
    pos_y = torch.stack([pos_y[:, 0::2].sin(), pos_y[:, 1::2].cos()], dim=2).flatten(1)
    pos_x = torch.stack([pos_x[:, 0::2].sin(), pos_x[:, 1::2].cos()], dim=2).flatten(1)
    grid = torch.cat([pos_y[:, None, :].expand(height, width, half), pos_x[None, :, :].expand(height, width, half)],
                     dim=-1)
    return grid.reshape(height * width, dim)
