"""AVSS semantic metrics (AVSBench-semantic, 71 classes) over per-frame per-class statistics.

:func:`semantic_frame_stats` reduces logits ``[N, K, H, W]`` and labels ``[N, H, W]`` to per-frame,
per-class pixel counts. :func:`avss_scores` then gives:

* the **legacy** reference value (OpenNLPLab/AVSBench ``avss/utils/compute_color_metrics.py``): per-frame per-class IoU and F (single operating
  point, the argmax; beta^2 = 0.3), each class averaged over the frames where it occurs in GT or
  prediction, then the sum over classes divided by *all* K classes (a class never seen scores 0),
  background included and padded frames scored;
* the **canonical** variant (``class_average="present"``, ``frame_valid`` given): only classes that occur
  somewhere are averaged, and frames flagged as padding are dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from avsprobe.metrics._tensor import as_tensor
from avsprobe.metrics.binary import F_BETA2

__all__ = ["AVSS_NUM_CLASSES", "SemanticFrameStats", "semantic_frame_stats", "semantic_prediction_stats",
           "frame_class_values", "avss_scores"]

AVSS_NUM_CLASSES = 71
"""70 sounding classes + background (index 0)."""

# float64 machine epsilon: the reference adds np.finfo(float).eps to the union.
_REF_UNION_EPS = 2.220446049250313e-16


@dataclass(frozen=True)
class SemanticFrameStats:
    """Per-frame, per-class pixel counts: ``int64 [N, K]`` each.

    Attributes:
        intersection: #(pred == c and label == c).
        pred_count: #(pred == c).
        label_count: #(label == c).
    """

    intersection: np.ndarray
    pred_count: np.ndarray
    label_count: np.ndarray

    def __len__(self) -> int:
        return int(self.intersection.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.intersection.shape[1])


def semantic_frame_stats(logits: object, labels: object) -> SemanticFrameStats:
    """Per-class counts of ``argmax(softmax(logits))`` against ``labels``.

    Args:
        logits: ``[N, K, H, W]`` class logits. The prediction is the argmax of their softmax taken in the
            logits' own floating dtype, as in the reference (first index on ties, which softmax rounding can
            create: a float16 or bfloat16 softmax ties more often than a float32 one).
        labels: ``[N, H, W]`` integer class ids in ``0..K-1``.
    """
    import torch

    logits_t = as_tensor(logits)
    labels_t = as_tensor(labels).to(torch.int64)
    if logits_t.ndim != 4 or labels_t.shape != (logits_t.shape[0], *logits_t.shape[2:]):
        raise ValueError(f"expected logits [N, K, H, W] and labels [N, H, W], got "
                         f"{tuple(logits_t.shape)} and {tuple(labels_t.shape)}")
    n, k = logits_t.shape[:2]
    if labels_t.numel() and (labels_t.min() < 0 or labels_t.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}")
    scores = logits_t if logits_t.is_floating_point() else logits_t.to(torch.float32)
    return semantic_prediction_stats(torch.softmax(scores, dim=1).argmax(dim=1), labels_t, k)


def semantic_prediction_stats(pred: object, labels: object, num_classes: int) -> SemanticFrameStats:
    """Per-class counts of predicted class ids ``pred [N, H, W]`` (the argmax) against ``labels [N, H, W]``,
    both in ``0..num_classes-1``."""
    import torch

    pred_t = as_tensor(pred).to(torch.int64)
    labels_t = as_tensor(labels).to(torch.int64)
    n, k = pred_t.shape[0], num_classes
    pred_t = pred_t.reshape(n, -1)
    lab = labels_t.reshape(n, -1)
    offset = k * torch.arange(n, device=pred_t.device)[:, None]

    def counts(values: torch.Tensor) -> np.ndarray:
        return torch.bincount(values.reshape(-1), minlength=n * k).reshape(n, k).cpu().numpy().astype(np.int64)

    match = pred_t == lab
    return SemanticFrameStats(
        intersection=counts((lab + offset)[match]),
        pred_count=counts(pred_t + offset),
        label_count=counts(lab + offset),
    )


def frame_class_values(stats: SemanticFrameStats, *, beta2: float = F_BETA2
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame and class, as the reference computes them in float32: IoU (``A_I / (A_U + eps)``), F at the
    argmax (0 where undefined), and whether the class occurs (``A_U > 0``); each ``[N, K]``."""
    inter, pred, lab = stats.intersection, stats.pred_count, stats.label_count
    f32 = np.float32
    union = pred + lab - inter
    iou = inter.astype(f32) / (union.astype(f32) + f32(_REF_UNION_EPS))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = inter.astype(f32) / pred.astype(f32)
        recall = inter.astype(f32) / lab.astype(f32)
        f = f32(1 + beta2) * precision * recall / (f32(beta2) * precision + recall)
    f[np.isnan(f)] = 0
    return iou, f, union > 0


def avss_scores(
    stats: SemanticFrameStats,
    *,
    frame_valid: np.ndarray | None = None,
    class_average: Literal["all", "present"] = "all",
    include_background: bool = True,
    beta2: float = F_BETA2,
) -> dict[str, object]:
    """Semantic mIoU and F. The defaults reproduce the AVSBench reference exactly.

    Args:
        stats: per-frame counts.
        frame_valid: optional ``bool [N]``; frames marked False (padding) are dropped. The reference
            scores them (leave ``None`` for the legacy value).
        class_average: ``"all"`` divides by every class (reference); ``"present"`` averages only over
            classes that occur in some counted frame.
        include_background: whether class 0 takes part in the class average.
        beta2: F-measure beta^2.

    Returns:
        ``{"miou": float, "fscore": float, "per_class_iou": float64 [K], "per_class_f": float64 [K],
        "frames_per_class": int64 [K]}``; per-class values are NaN for classes never seen.
    """
    if frame_valid is not None:
        keep = np.asarray(frame_valid, dtype=bool)
        stats = SemanticFrameStats(stats.intersection[keep], stats.pred_count[keep], stats.label_count[keep])
    iou, f, seen = frame_class_values(stats, beta2=beta2)
    frames_per_class = seen.sum(axis=0)
    sum_iou = iou.astype(np.float64).sum(axis=0)
    sum_f = f.astype(np.float64).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class_iou = np.where(frames_per_class > 0, sum_iou / frames_per_class, np.nan)
        per_class_f = np.where(frames_per_class > 0, sum_f / frames_per_class, np.nan)
    classes = np.ones(stats.num_classes, dtype=bool)
    if not include_background:
        classes[0] = False
    if class_average == "all":
        miou = float(np.nan_to_num(per_class_iou[classes]).sum() / classes.sum())
        fscore = float(np.nan_to_num(per_class_f[classes]).sum() / classes.sum())
    elif class_average == "present":
        present = classes & (frames_per_class > 0)
        miou = float(per_class_iou[present].mean()) if present.any() else math.nan
        fscore = float(per_class_f[present].mean()) if present.any() else math.nan
    else:
        raise ValueError(f"unknown class_average {class_average!r}; use 'all' or 'present'")
    return {
        "miou": miou,
        "fscore": fscore,
        "per_class_iou": per_class_iou,
        "per_class_f": per_class_f,
        "frames_per_class": frames_per_class.astype(np.int64),
    }
