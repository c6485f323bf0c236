"""Streaming accumulation of per-frame statistics: ``update`` / ``compute`` / ``reset``.

The accumulators keep integer per-frame statistics (never running means), so a result never depends on
how frames were batched or ordered, and the legacy AVSBench values can still be recomputed for any
``batch_size`` from the frames in the order they arrived.
"""

from __future__ import annotations

import numpy as np

from avsprobe.metrics._tensor import as_tensor
from avsprobe.metrics.binary import (
    BinaryFrameStats,
    EmptyPolicy,
    binary_frame_stats,
    canonical_fscore,
    canonical_miou,
    frame_fpr,
    legacy_fpr,
    legacy_fscore,
    legacy_miou,
    order_free_mean,
)
from avsprobe.metrics.semantic import SemanticFrameStats, avss_scores, semantic_frame_stats

__all__ = ["BinaryMetricAccumulator", "SemanticMetricAccumulator"]


class BinaryMetricAccumulator:
    """Accumulates binary AVS statistics over any number of ``update`` calls.

    Example:
        >>> import torch
        >>> acc = BinaryMetricAccumulator()
        >>> acc.update(torch.full((2, 4, 4), 5.0), torch.ones(2, 4, 4))
        >>> acc.compute()["miou"]
        1.0
    """

    def __init__(self, *, empty_policy: EmptyPolicy = "strict") -> None:
        self.empty_policy = empty_policy
        self._parts: list[BinaryFrameStats] = []
        self._native_parts: list[BinaryFrameStats] = []

    def update(self, logits: object, target: object) -> None:
        """Add frames: ``logits`` and ``target`` of shape ``[..., H, W]``.

        Logits that are not float32 are also reduced in their own dtype, for :meth:`compute_legacy`.
        """
        import torch

        logits_t = as_tensor(logits)
        part = binary_frame_stats(logits_t, target)
        self._parts.append(part)
        native = part if logits_t.dtype == torch.float32 else binary_frame_stats(logits_t, target, score_dtype="native")
        self._native_parts.append(native)

    def reset(self) -> None:
        self._parts.clear()
        self._native_parts.clear()

    @property
    def stats(self) -> BinaryFrameStats:
        """All frames seen so far, in arrival order."""
        if not self._parts:
            raise ValueError("no frames accumulated yet")
        if len(self._parts) > 1:
            self._parts = [BinaryFrameStats.concat(self._parts)]
        return self._parts[0]

    def compute(self) -> dict[str, float]:
        """Canonical values: ``miou``, ``fscore``, ``fpr_empty`` (mean FPR over empty-GT frames), ``num_frames``."""
        stats = self.stats
        empty = stats.gt_area == 0
        return {
            "miou": canonical_miou(stats, empty_policy=self.empty_policy),
            "fscore": canonical_fscore(stats),
            "fpr_empty": order_free_mean(frame_fpr(stats)[empty]),
            "num_frames": float(len(stats)),
        }

    def compute_legacy(self, *, batch_size: int, frames_per_clip: int = 5) -> dict[str, float]:
        """The AVSBench reference values for a test batch size of ``batch_size`` clips (sigmoid in the
        logits' own dtype, as the reference)."""
        if not self._native_parts:
            raise ValueError("no frames accumulated yet")
        stats = BinaryFrameStats.concat(self._native_parts)
        kw = {"batch_size": batch_size, "frames_per_clip": frames_per_clip}
        return {
            "miou": legacy_miou(stats, **kw),
            "fscore": legacy_fscore(stats, **kw),
            "fpr": legacy_fpr(stats, **kw),
        }


class SemanticMetricAccumulator:
    """Accumulates AVSS per-frame, per-class counts; ``compute`` takes the same options as ``avss_scores``."""

    def __init__(self) -> None:
        self._parts: list[SemanticFrameStats] = []
        self._valid: list[np.ndarray] = []

    def update(self, logits: object, labels: object, frame_valid: object | None = None) -> None:
        """Add frames: ``logits [N, K, H, W]``, ``labels [N, H, W]``, optional ``frame_valid bool [N]``."""
        part = semantic_frame_stats(logits, labels)
        self._parts.append(part)
        valid = np.ones(len(part), dtype=bool) if frame_valid is None else np.asarray(frame_valid, dtype=bool)
        self._valid.append(valid)

    def reset(self) -> None:
        self._parts.clear()
        self._valid.clear()

    def compute(self, *, legacy: bool = True, **options: object) -> dict[str, object]:
        """Legacy reference values by default; ``legacy=False`` drops padded frames and unseen classes."""
        if not self._parts:
            raise ValueError("no frames accumulated yet")
        stats = SemanticFrameStats(
            np.concatenate([p.intersection for p in self._parts]),
            np.concatenate([p.pred_count for p in self._parts]),
            np.concatenate([p.label_count for p in self._parts]),
        )
        if not legacy:
            options = {"frame_valid": np.concatenate(self._valid), "class_average": "present", **options}
        return avss_scores(stats, **options)  # type: ignore[arg-type]
