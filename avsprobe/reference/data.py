"""Training data for the reference model: a split of an AVSS-layout tree (the bias lab, AVSBench AVSS)
loaded once into memory as per-frame tensors.

Each annotated frame is one training item with its own 1-s audio example, as in AVSBench.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from avsprobe.audio.vggish import vggish_examples
from avsprobe.data.avsbench.layout import open_reader
from avsprobe.data.palette import AVSS_CLASSES, avss_class_index
from avsprobe.errors import DataError
from avsprobe.parallel import parallel_map

__all__ = ["FrameData", "load_frames", "class_maps"]


@dataclass
class FrameData:
    """One split, frame by frame (M frames).

    Attributes:
        frames: ``uint8 [M, 3, S, S]`` at the model's frame size.
        labels: ``uint8 [M, H, W]`` model class index + 1 per pixel of the sounding objects (0 = background),
            at the data's mask size.
        log_mel: ``float32 [M, 96, 64]`` the frame's VGGish example.
        presence: ``bool [M, K]`` classes heard in the clip's audio (the perception module's labels; none in a
            bias-lab clip whose audio is its bed alone).
        clip_ids: sample id of each frame.
        classes: the K class names.
    """

    frames: torch.Tensor
    labels: torch.Tensor
    log_mel: torch.Tensor
    presence: torch.Tensor
    clip_ids: list[str]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def class_maps(classes: Sequence[str]) -> np.ndarray:
    """Lookup ``uint8 [num AVSS classes]`` from AVSS class id to model class + 1 (0 for any other class)."""
    lookup = np.zeros(len(AVSS_CLASSES), dtype=np.uint8)
    for i, name in enumerate(classes):
        lookup[avss_class_index(name)] = i + 1
    return lookup


def _read_one(job: tuple[object, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, bool]:
    reader, sample_id = job
    sample = reader.read(sample_id)  # type: ignore[attr-defined]
    if sample.semantic_mask is None:
        raise DataError(f"sample {sample_id!r} has no semantic masks: the reference model trains on AVSS-layout data")
    keep = sample.annotated
    return (sample.frames[keep], sample.semantic_mask[keep], sample.audio, np.flatnonzero(keep), sample.num_frames,
            bool(sample.meta.get("bed_only")))


def load_frames(root: str | Path, split: str, classes: Sequence[str], frame_size: int, *,
                workers: int | None = None, on_progress: Callable[[int, int], None] | None = None) -> FrameData:
    """Read every annotated frame of ``split`` under ``root`` (an AVSS-layout tree) into memory."""
    reader = open_reader(Path(root), split=split)
    ids = list(reader.sample_ids())
    if not ids:
        raise DataError(f"no {split} clips under {root}")
    lookup = class_maps(classes)
    rows = parallel_map(_read_one, [(reader, i) for i in ids], workers=workers, chunksize=8, on_progress=on_progress)
    frames, labels, log_mel, presence, clip_ids = [], [], [], [], []
    num_frames = max(r[4] for r in rows)
    examples = vggish_examples([r[2] for r in rows], num_examples=num_frames, precision="float32")[:, :, 0]  # [C, T, 96, 64]
    for (f, sem, _, index, _, bed_only), ex, sample_id in zip(rows, examples, ids, strict=True):
        model_labels = lookup[np.clip(sem, 0, len(lookup) - 1)]
        present = np.zeros(len(classes), dtype=bool)
        # Phi's labels describe the audio: a bed-only clip (world v3) sounds no class, though its masks keep
        # the objects the world planted as sounding (the segmentation target is the visual prior's to learn)
        if not bed_only:
            present[np.unique(model_labels[model_labels > 0]) - 1] = True
        frames.append(f)
        labels.append(model_labels)
        log_mel.append(ex[torch.from_numpy(index)])
        presence.append(np.repeat(present[None], len(index), axis=0))
        clip_ids += [sample_id] * len(index)
    x = torch.from_numpy(np.concatenate(frames)).permute(0, 3, 1, 2).contiguous()
    if x.shape[-1] != frame_size or x.shape[-2] != frame_size:
        x = torch.nn.functional.interpolate(x.float(), size=(frame_size, frame_size), mode="bilinear",
                                            align_corners=False).round().clamp(0, 255).to(torch.uint8)
    return FrameData(frames=x, labels=torch.from_numpy(np.concatenate(labels)), log_mel=torch.cat(log_mel),
                     presence=torch.from_numpy(np.concatenate(presence)), clip_ids=clip_ids, classes=tuple(classes))
