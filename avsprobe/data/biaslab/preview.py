"""A contact sheet of a bias-lab world, for a person to look at: frames with the sounding masks
overlaid, and the log-mel spectrogram of each clip's audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avsprobe.audio.vggish import log_mel_frames
from avsprobe.data.biaslab.reader import BiasLabWorld
from avsprobe.fileio import atomic_path

__all__ = ["write_preview"]


def _outline(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` px outside ``mask``."""
    grown = mask.copy()
    for _ in range(width):
        grown = grown | np.roll(grown, 1, 0) | np.roll(grown, -1, 0) | np.roll(grown, 1, 1) | np.roll(grown, -1, 1)
    return grown & ~mask


def _overlay(frame: np.ndarray, sounding: np.ndarray, silent: np.ndarray) -> np.ndarray:
    """Sounding objects outlined in magenta (no class has that colour), silent ones in thin white."""
    out = frame.copy()
    out[_outline(silent, 1)] = (245, 245, 245)
    out[_outline(sounding, 2)] = (255, 0, 255)
    return out


def write_preview(world_dir: str | Path, out_png: str | Path, *, clips: int = 6, split: str = "test") -> Path:
    """Write a PNG contact sheet of the first ``clips`` clips of ``split``; return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    world = BiasLabWorld(world_dir)
    uids = world.uids(split)[:clips] or world.uids()[:clips]
    samples = [world.read(uid) for uid in uids]
    frames_per_clip = samples[0].num_frames
    fig, axes = plt.subplots(len(samples), frames_per_clip + 1, figsize=(2.0 * (frames_per_clip + 2.2), 2.1 * len(samples)),
                             gridspec_kw={"width_ratios": [1] * frames_per_clip + [2.2]}, squeeze=False)
    for row, sample in zip(axes, samples, strict=True):
        silent = np.zeros_like(sample.mask)
        for o in sample.objects:
            if not o.is_sounding:
                silent |= o.mask
        for t in range(frames_per_clip):
            row[t].imshow(_overlay(sample.frames[t], sample.mask[t], silent[t]))
            row[t].set_xticks([])
            row[t].set_yticks([])
            if t == 0:
                row[t].set_ylabel(sample.sample_id, fontsize=8)
        described = ", ".join(
            f"{o.class_name} {f'{o.loudness_lufs:.0f} LUFS' if o.is_sounding else '(silent)'}" for o in sample.objects)
        row[0].set_title(described, fontsize=8, loc="left")
        mel = log_mel_frames(torch.from_numpy(sample.audio.astype(np.float64))[None])[0].numpy()
        row[-1].imshow(mel.T, origin="lower", aspect="auto", cmap="magma", vmin=-4.7, vmax=3.0,
                       extent=(0, sample.duration_s, 0, mel.shape[1]))
        row[-1].set_xlabel("s", fontsize=7)
        row[-1].set_ylabel("mel band", fontsize=7)
        row[-1].tick_params(labelsize=6)
    fig.suptitle(f"bias lab '{world.root.name}': magenta outline = sounding (the ground-truth mask), white outline = silent object; "
                 "right: VGGish log-mel of the mixture", fontsize=9)
    fig.tight_layout()
    out = Path(out_png)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return out
