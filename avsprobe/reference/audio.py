"""Audio side of the reference model: the encoder on VGGish log-mel examples, and the fixed descriptor the
perception module reads.

Inputs are VGGish examples (``avsprobe.audio.vggish``): ``float32 [B, 96, 64]`` log-mel (0.96 s, 64 bands) per
frame, or 128-d embeddings computed elsewhere (``audio_input="embedding"``, e.g. the official VGGish
embeddings AVSBench ships).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AudioEncoder", "log_mel_descriptor", "DESCRIPTOR_DIM", "EMBEDDING_DIM"]

EMBEDDING_DIM = 128
"""Size of the audio embedding (the VGGish embedding size, so external embeddings plug in)."""

DESCRIPTOR_DIM = 128
"""Size of :func:`log_mel_descriptor`: the mean and standard deviation of each of the 64 mel bands."""


def log_mel_descriptor(log_mel: torch.Tensor) -> torch.Tensor:
    """``[B, 96, 64]`` log-mel -> ``[B, 128]``: per band the mean and the standard deviation over time.

    Parameter-free, so the perception module (K-means, GMM or a classifier) can be fitted before the
    segmentation model is trained.
    """
    return torch.cat([log_mel.mean(dim=1), log_mel.std(dim=1, unbiased=False)], dim=-1)


class AudioEncoder(nn.Module):
    """A small CNN on a log-mel example, then the projection MLP to the decoder's width.

    ``audio_proj`` follows the official code's shape (Linear-ReLU-Linear). With ``audio_input="embedding"``
    the CNN is skipped and 128-d embeddings go straight to ``audio_proj``; with ``"vggish"`` the frozen VGGish
    network (``avsprobe.audio.vggish_net``) replaces the small CNN.

    Args:
        hidden_dim: decoder width C.
        audio_input: ``"log_mel"`` or ``"embedding"``.
    """

    def __init__(self, hidden_dim: int, audio_input: str = "log_mel", vggish_path: str | None = None) -> None:
        super().__init__()
        self.audio_input = audio_input
        if audio_input == "vggish":
            from avsprobe.audio.vggish_net import load_vggish

            self.cnn: nn.Module = load_vggish(vggish_path or "")
        elif audio_input == "log_mel":
            layers: list[nn.Module] = [nn.BatchNorm2d(1)]
            c_in = 1
            for c in (16, 32, 64, EMBEDDING_DIM):
                layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
                c_in = c
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
            self.cnn = nn.Sequential(*layers)
        elif audio_input == "embedding":
            self.cnn = nn.Identity()
        else:
            raise ValueError(f"unknown audio_input {audio_input!r}; use 'log_mel', 'vggish' or 'embedding'")
        self.audio_proj = nn.Sequential(nn.Linear(EMBEDDING_DIM, 2 * hidden_dim), nn.ReLU(inplace=True),
                                        nn.Linear(2 * hidden_dim, hidden_dim))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``[B, 96, 64]`` log-mel (or ``[B, 128]`` embeddings) -> ``F_A [B, C]``."""
        x = audio if self.audio_input == "embedding" else self.cnn(audio[:, None])
        return self.audio_proj(x)
