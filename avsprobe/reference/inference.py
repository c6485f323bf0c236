"""Inference with the reference model: uint8 frames and log-mel in, foreground logits out (shared by
validation during training and by the model adapters)."""

from __future__ import annotations

import torch

from avsprobe.reference.model import PROBABILITY_EPS, ReferenceModel

__all__ = ["normalise_frames", "foreground_logits", "PROBABILITY_EPS"]


def normalise_frames(frames: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """``uint8 [B, 3, H, W]`` -> ``float32``: scaled to [0, 1], then ``(x - mean) / std`` per channel."""
    x = frames.float() / 255.0
    return (x - torch.tensor(mean, device=x.device).view(1, 3, 1, 1)) / torch.tensor(std, device=x.device).view(1, 3, 1, 1)


@torch.no_grad()
def foreground_logits(model: ReferenceModel, frames: torch.Tensor, audio: torch.Tensor,
                      out_size: tuple[int, int]) -> torch.Tensor:
    """Sounding-object logits ``[B, *out_size]`` for normalised ``frames [B, 3, S, S]`` and ``audio [B, 96, 64]``.

    The foreground probability is upsampled bilinearly, clipped and turned into a logit.
    """
    prob = model.foreground(model(frames, audio)).double()  # float64: see foreground_probability
    prob = torch.nn.functional.interpolate(prob[:, None], size=out_size, mode="bilinear", align_corners=False)[:, 0]
    return torch.logit(prob.clamp(PROBABILITY_EPS, 1 - PROBABILITY_EPS)).float()
