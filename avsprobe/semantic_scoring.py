"""Scoring semantic (AVSS-style) predictions: class logits ``[T, K, H, W]`` per clip.

A semantic model's prediction is the argmax of its float32 softmax (the reference's rule). From it the
runner records, per frame:

* the **foreground** (argmax not background) as binary logits (+10 / -10), so every binary metric and bias
  metric applies to semantic models unchanged (the F curve is then that single operating point, as AVSS's F);
* per-class counts (``sem_intersection``, ``sem_pred``, ``sem_label``, ``int32 [K]``) against the expected
  class ids, where the data knows them (bias lab, AVSS), for the AVSS semantic mIoU and F (reference-exact:
  all K classes, background included; canonical: the classes present);
* each object's predicted class (``object_pred_class``: the most frequent predicted class over its pixels,
  -1 where the object is absent; a list aligned with ``object_names``), for the class-aware bias metrics.

The model's classes are ``InputSpec.classes`` (default: the 71 AVSS classes, background first); expected
class ids (in the data's own order, ``ProbedSample.label_names``: a tree's ``label2idx.json``) are mapped to
the model's indices by name, and a class the model does not know counts as background.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.data.palette import AVSS_CLASSES
from avsprobe.metrics.semantic import semantic_prediction_stats

if TYPE_CHECKING:
    import torch

    from avsprobe.probes.base import ProbedSample

__all__ = ["model_classes", "semantic_parts", "semantic_fields"]

FOREGROUND_LOGIT = 10.0


def model_classes(spec: object) -> tuple[str, ...]:
    """The class names of a semantic model's output channels (background first)."""
    return tuple(getattr(spec, "classes", None) or AVSS_CLASSES)


def semantic_parts(probed: ProbedSample, logits: torch.Tensor, classes: tuple[str, ...]
                   ) -> tuple[torch.Tensor, list[dict[str, Any]], np.ndarray]:
    """``(foreground logits [T, H, W], per-frame row fields, class map [T, H, W])`` (uint8, or uint16 past 256
    classes) of one clip's class
    logits ``[T, K, h, w]``, resized to the clip's mask size (bilinear, then the argmax)."""
    import torch

    t, h, w = probed.expected_mask.shape
    x = logits.detach().float()
    if x.shape[-2:] != (h, w):
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    pred = torch.softmax(x.cpu(), dim=1).argmax(dim=1)  # [T, H, W], ties to the first index as the reference
    foreground, fields = semantic_fields(probed, pred, classes)
    return foreground, fields, pred.numpy().astype(np.uint8 if len(classes) <= 256 else np.uint16)


def semantic_fields(probed: ProbedSample, pred: torch.Tensor, classes: tuple[str, ...]
                    ) -> tuple[torch.Tensor, list[dict[str, Any]]]:
    """``(foreground logits [T, H, W], per-frame row fields)`` of one clip's predicted class ids
    ``pred [T, H, W]`` (what a run keeps of a semantic model, :mod:`avsprobe.predictions`)."""
    import torch

    t = pred.shape[0]
    foreground = torch.where(pred != 0, FOREGROUND_LOGIT, -FOREGROUND_LOGIT)
    fields: list[dict[str, Any]] = [{} for _ in range(t)]
    labels = probed.labels_as(classes)
    if labels is not None:
        stats = semantic_prediction_stats(pred, labels, len(classes))
        for k in range(t):
            fields[k].update(sem_intersection=stats.intersection[k].astype(np.int32),
                             sem_pred=stats.pred_count[k].astype(np.int32),
                             sem_label=stats.label_count[k].astype(np.int32))
    pred_np = pred.numpy()
    names = sorted(probed.object_masks)
    for k in range(t):
        majority = []
        for name in names:
            inside = pred_np[k][probed.object_masks[name][k]]
            majority.append(int(np.bincount(inside).argmax()) if inside.size else -1)
        fields[k]["object_pred_class"] = majority
    return foreground, fields
