"""Audio in which nothing sounds, for fitting the perception module Phi to say "no class".

Fitted on the train clips alone, Phi never meets audio quieter than the bias lab's bed, nor noise without a
source: every refit marked guitar on digital silence and on the bed turned down (audit, bias-lab-audit.md
section 2.1), so under silence an active-query model's masks measured Phi, not a visual prior. These
negatives, labelled "no class present", teach Phi that: digital silence, the pink bed from -90 to -50 LUFS,
and white and pink noise at the reference loudness. Each becomes VGGish examples through the same frontend as
the clips' audio.
"""

from __future__ import annotations

import numpy as np
import torch

from avsprobe.audio.loudness import REFERENCE_LUFS
from avsprobe.audio.noise import noise_at_loudness
from avsprobe.audio.vggish import vggish_examples
from avsprobe.seeding import rng_for

__all__ = ["NEGATIVE_CONDITIONS", "negative_log_mel"]

BED_LEVELS_LUFS = (-90.0, -80.0, -70.0, -60.0, -50.0)
NEGATIVE_CONDITIONS = ("silence", *(f"bed@{level:g}" for level in BED_LEVELS_LUFS), "white", "pink")
"""The negative audio Phi is fitted to mark nothing on."""


def negative_audio(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """``float32 [N]`` 16 kHz audio of one negative condition (:data:`NEGATIVE_CONDITIONS`)."""
    if kind == "silence":
        return np.zeros(int(seconds * 16_000), dtype=np.float32)
    if kind.startswith("bed@"):  # the -60 LUFS bed turned down or up (below the gate, loudness has no meaning)
        bed = noise_at_loudness("pink", seconds, -60.0, rng).audio.astype(np.float64)
        return (bed * 10.0 ** ((float(kind[4:]) + 60.0) / 20.0)).astype(np.float32)
    return noise_at_loudness(kind, seconds, REFERENCE_LUFS, rng).audio.astype(np.float32)


def negative_log_mel(frames_per_clip: int, clips_per_condition: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    """``float32 [M, 96, 64]`` VGGish examples of every negative condition (``clips_per_condition`` clips of
    ``frames_per_clip`` seconds each, seeded) and the condition of each example."""
    clips, kinds = [], []
    for kind in NEGATIVE_CONDITIONS:
        for i in range(clips_per_condition):
            clips.append(negative_audio(kind, float(frames_per_clip), rng_for(seed, "phi-negatives", kind, i)))
            kinds += [kind] * frames_per_clip
    examples = vggish_examples(clips, num_examples=frames_per_clip, precision="float32")[:, :, 0]  # [C, T, 96, 64]
    return examples.reshape(-1, *examples.shape[-2:]), kinds
