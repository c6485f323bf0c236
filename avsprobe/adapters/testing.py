"""Known-answer adapters: models whose biases are known exactly, to check the bias metrics end to end.

They read ``AVBatch.truth`` (the probed samples), which no real model may do.

* ``oracle``: segments exactly the expected mask: no bias at all.
* ``audio-blind-oracle``: segments what sounded in the unprobed clip, whatever the audio: pure visual prior.
* ``loudness-gated-oracle``: the oracle, but only for sources at or above ``gate_lufs``: a pure, known
  audio-priming bias by intensity.
* ``empty``: segments nothing (defined in ``avsprobe.adapters.builtin``, re-exported here).
* ``semantic-oracle``: a semantic (71 AVSS classes) model that paints each expected pixel with its class.
* ``piano-everywhere``: a semantic model that paints every visible object as a piano, whatever it hears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from avsprobe.adapters.base import InputSpec, ModelAdapter
from avsprobe.adapters.builtin import EmptyAdapter
from avsprobe.audio.loudness import measure_loudness
from avsprobe.data.palette import AVSS_CLASSES, avss_class_index
from avsprobe.errors import AdapterError

if TYPE_CHECKING:
    import torch

    from avsprobe.types import AVBatch

__all__ = ["OracleAdapter", "AudioBlindOracleAdapter", "LoudnessGatedOracleAdapter", "EmptyAdapter",
           "SemanticOracleAdapter", "PianoEverywhereAdapter"]


def _to_logits(masks: list[np.ndarray], batch: AVBatch) -> torch.Tensor:
    import torch

    h, w = batch.frames.shape[-2:]
    stacked = torch.from_numpy(np.stack(masks).astype(np.float32))  # [B, T, h0, w0]
    if stacked.shape[-2:] != (h, w):
        stacked = torch.nn.functional.interpolate(stacked, size=(h, w), mode="nearest")
    return stacked * 20.0 - 10.0


def _truth(batch: AVBatch) -> list:
    if batch.truth is None:
        raise AdapterError("known-answer adapters need the runner's ground truth (AVBatch.truth)")
    return batch.truth


class OracleAdapter(ModelAdapter):
    """Known answer: segments exactly the expected mask (no bias at all)."""

    name = "oracle"

    def predict(self, batch: AVBatch) -> torch.Tensor:
        return _to_logits([p.expected_mask for p in _truth(batch)], batch)


class AudioBlindOracleAdapter(ModelAdapter):
    """Known answer: segments what sounded in the unprobed clip, whatever the audio (pure visual prior)."""

    name = "audio-blind-oracle"

    def predict(self, batch: AVBatch) -> torch.Tensor:
        return _to_logits([p.original_mask if p.original_mask is not None else p.expected_mask
                           for p in _truth(batch)], batch)


class LoudnessGatedOracleAdapter(ModelAdapter):
    """Segments an expected source only when its loudness is at least ``gate_lufs``.

    Mix conditions gate A and B by their own levels; other conditions gate the whole clip by the loudness
    of its probed audio (measured as avsprobe measures it).
    """

    name = "loudness-gated-oracle"

    def __init__(self, gate_lufs: float = -38.0) -> None:
        super().__init__()
        self.gate_lufs = float(gate_lufs)

    def predict(self, batch: AVBatch) -> torch.Tensor:
        masks = []
        for probed in _truth(batch):
            applied = probed.applied
            if "A" in applied and ("A_loudness_lufs" in applied or "B_loudness_lufs" in applied):
                mask = np.zeros_like(probed.expected_mask)
                for who in ("A", "B"):
                    level = applied.get(f"{who}_loudness_lufs")
                    if level is not None and level >= self.gate_lufs:
                        mask |= probed.object_masks[who]
                masks.append(mask)
            else:
                loud = measure_loudness(probed.audio).value >= self.gate_lufs
                masks.append(probed.expected_mask if loud else np.zeros_like(probed.expected_mask))
        return _to_logits(masks, batch)


def _class_logits(labels: list[np.ndarray], batch: AVBatch) -> torch.Tensor:
    """One-hot class logits ``[B, T, 71, H, W]`` (+10 for the class, -10 elsewhere) of AVSS label maps."""
    import torch

    h, w = batch.frames.shape[-2:]
    ids = torch.from_numpy(np.stack(labels).astype(np.int64))  # [B, T, h0, w0]
    if ids.shape[-2:] != (h, w):
        ids = torch.nn.functional.interpolate(ids.float(), size=(h, w), mode="nearest").long()
    onehot = torch.nn.functional.one_hot(ids, len(AVSS_CLASSES)).permute(0, 1, 4, 2, 3).float()
    return onehot * 20.0 - 10.0


class _SemanticKnownAnswer(ModelAdapter):
    """A known-answer model that outputs class logits over the 71 AVSS classes."""

    def __init__(self) -> None:
        super().__init__()

        self.input_spec = InputSpec(output="semantic")


class SemanticOracleAdapter(_SemanticKnownAnswer):
    """Known answer (semantic): paints each expected pixel with its class, found by name among the 71 AVSS
    classes (so the data's label order, its ``label2idx.json``, cannot change the answer)."""

    name = "semantic-oracle"

    def predict(self, batch: AVBatch) -> torch.Tensor:
        labels = []
        for p in _truth(batch):
            ids = p.labels_as(AVSS_CLASSES)
            if ids is None:
                raise AdapterError(f"semantic-oracle: the classes of {p.sample_id!r} are unknown")
            labels.append(ids)
        return _class_logits(labels, batch)


class PianoEverywhereAdapter(_SemanticKnownAnswer):
    """Known answer (semantic): paints every visible object as a piano, whatever the audio (a pure prior)."""

    name = "piano-everywhere"

    def predict(self, batch: AVBatch) -> torch.Tensor:
        piano = avss_class_index("piano")
        labels = []
        for p in _truth(batch):
            visible = np.zeros(p.expected_mask.shape, dtype=bool)
            for mask in p.object_masks.values():
                visible |= np.asarray(mask)
            labels.append(np.where(visible, piano, 0))
        return _class_logits(labels, batch)
