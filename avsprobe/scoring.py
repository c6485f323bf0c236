"""Model outputs made into records rows: per-frame counts of logits against each clip's expected mask,
per-object coverage, scores and curves, and a thumbnail (the columns of :mod:`avsprobe.records`).

The run engine (:mod:`avsprobe.runner`) calls :func:`score_rows` for every scored model call and
:func:`empty_rows` for jobs that failed or did not apply.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from avsprobe.metrics.binary import (
    binary_frame_stats_many,
    clips_object_scores,
    coverage_from_counts,
    frame_iou,
)
from avsprobe.predictions import KeptPrediction, probability_levels
from avsprobe.records import THUMB

if TYPE_CHECKING:
    import torch

    from avsprobe.metrics.binary import ObjectScores
    from avsprobe.probes.base import ProbedSample
    from avsprobe.probes.suite import Job

__all__ = ["BASE_FIELDS", "base_row", "empty_rows", "score_rows", "probability_rows", "nearest_indices"]


BASE_FIELDS = ("job_index", "model", "sample_id", "condition_id", "probe", "condition_label", "condition_order",
               "is_baseline", "category", "split")
"""A job's identity fields, the start of every row (:func:`base_row`)."""


def base_row(job: Job, index: int, model: str, sample: Any) -> dict[str, Any]:
    """The :data:`BASE_FIELDS` of a job's rows."""
    c = job.condition
    return {"job_index": index, "model": model, "sample_id": job.sample_id, "condition_id": c.condition_id,
            "probe": job.probe.name, "condition_label": c.label, "condition_order": float(c.order),
            "is_baseline": c.is_baseline, "category": getattr(sample, "category", ""),
            "split": getattr(sample, "split", "")}


def empty_rows(base: dict[str, Any], status: str, reason: str) -> list[dict[str, Any]]:
    return [{**base, "status": status, "reason": reason, "frame": -1, "annotated": False}]


def score_rows(bases: list[dict[str, Any]], probed: list[ProbedSample], logits: torch.Tensor,
               extra: list[list[dict[str, Any]]] | None = None, *, kept: list[KeptPrediction] | None = None
               ) -> list[dict[str, Any]]:
    """Rows for clips of one frame shape: per-frame statistics of ``logits [B, T, H, W]`` against each
    clip's expected mask, computed for all the clips' frames at once (every statistic is per frame);
    ``extra[i][k]`` adds fields to clip i's frame k (a semantic model's class counts). With ``kept``, each
    clip's kept prediction (:mod:`avsprobe.predictions`, without notes or classes) is appended to it."""
    import torch

    t, h, w = probed[0].expected_mask.shape
    logits = logits.detach().float()
    if logits.shape[-2:] != (h, w):
        logits = torch.nn.functional.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
    # the float32 sigmoid every statistic compares (the records' rule), computed once
    probability = torch.sigmoid(logits.cpu())
    rows, scores = probability_rows(bases, probed, probability, extra)
    if kept is not None:
        for i, base in enumerate(bases):
            mean = scores[i].mean if scores[i] is not None else np.zeros((t, 0))
            kept.append(KeptPrediction(base["job_index"], probability_levels(probability[i]), mean, []))
    return rows


def probability_rows(bases: list[dict[str, Any]], probed: list[ProbedSample], probability: torch.Tensor,
                     extra: list[list[dict[str, Any]]] | None = None, object_means: list[np.ndarray] | None = None
                     ) -> tuple[list[dict[str, Any]], list[ObjectScores | None]]:
    """:func:`score_rows` from float32 probabilities ``[B, T, H, W]`` at the masks' size, and each clip's
    object scores; ``object_means`` (``float64 [T, O]`` per clip) replaces the means the probabilities give
    (a rescore's kept means)."""
    import torch

    b = len(probed)
    t, h, w = probed[0].expected_mask.shape
    # against the unprobed clip's sounding mask too where a probe changed what should sound (negative
    # audio, swaps): the AVSBench-Robust protocol scores negative audio against the original positive masks
    changed = [i for i, p in enumerate(probed)
               if p.original_mask is not None and not np.array_equal(p.original_mask, p.expected_mask)]
    targets = [(None, np.concatenate([p.expected_mask for p in probed]))]
    if changed:
        targets.append(([i * t + k for i in changed for k in range(t)],
                        np.concatenate([probed[i].original_mask for i in changed])))
    stats, *o_stats = binary_frame_stats_many(probability.reshape(b * t, h, w), targets, score_dtype="probability")
    iou = frame_iou(stats)
    original = {i: (o_stats[0], n) for n, i in enumerate(changed)}
    # a 64x64 thumbnail of each predicted mask (nearest), bit-packed: 512 bytes a frame, for reports
    rows_at, cols_at = nearest_indices(h, THUMB), nearest_indices(w, THUMB)
    # binarised by the records' own rule (sigmoid > 0.5 in float32): ``logits > 0`` disagrees on (0, 6e-8]
    thumbs = (probability[:, :, torch.tensor(rows_at)[:, None], torch.tensor(cols_at)] > 0.5).numpy()
    packed = np.packbits(thumbs.reshape(b * t, THUMB * THUMB), axis=1)
    names_by_clip = [sorted(clip.object_masks) for clip in probed]
    masks_by_clip = [np.stack([clip.object_masks[n] for n in names], axis=1) if names else None  # [T, O, H, W]
                     for clip, names in zip(probed, names_by_clip, strict=True)]
    scores_by_clip = clips_object_scores(probability, masks_by_clip, probability=True)
    if object_means is not None:
        scores_by_clip = [s if s is None else dataclasses.replace(s, mean=m)
                          for s, m in zip(scores_by_clip, object_means, strict=True)]
    rows = []
    for i, (base, clip) in enumerate(zip(bases, probed, strict=True)):
        names = names_by_clip[i]
        scores = scores_by_clip[i]
        applied = json.dumps(clip.applied, sort_keys=True, default=float)
        reached = clip.applied.get("level_reached_ok", True) is not False
        # threshold curves per object only where a metric reads them (the negative probe: matched recall)
        curves = base["probe"] == "negative"
        if names:
            coverage = coverage_from_counts(scores.covered, scores.area)
        for k in range(t):
            f = i * t + k
            rows.append({
                **base, "status": "ok", "reason": "", "frame": k, "annotated": bool(clip.annotated[k]),
                "num_pixels": stats.num_pixels, "intersection": int(stats.intersection[f]),
                "union": int(stats.union[f]), "pred_area": int(stats.pred_area[f]),
                "expected_area": int(stats.gt_area[f]), "iou": float(iou[f]),
                "fpr": float(stats.pred_area[f] / stats.num_pixels),
                "tp_at": stats.tp_at[f].astype(np.int32), "pp_at": stats.pp_at[f].astype(np.int32),
                "object_names": names,
                "coverage": [None if math.isnan(v) else float(v) for v in coverage[k]] if names else [],
                "object_area": [int(a) for a in scores.area[k]] if names else [],
                "object_score": [None if math.isnan(v) else v for v in scores.mean[k].tolist()] if names else [],
                "object_covered_at": [scores.covered_at[k, o].tolist() for o in range(len(names))] if curves and names
                else [],
                "applied": applied, "level_reached_ok": reached, "pred_thumb": packed[f].tobytes(),
                **(extra[i][k] if extra else {}),
                **(_original_fields(*original[i], t, k) if i in original else {})})
    return rows, scores_by_clip


@functools.lru_cache(maxsize=16)
def nearest_indices(size_in: int, size_out: int) -> np.ndarray:
    """``int64 [size_out]``: the input index torch's ``interpolate(mode="nearest")`` takes for each output
    index along an axis of ``size_in`` (found by interpolating the indices themselves, so it is torch's own
    rounding); picking them resizes a mask exactly as that call does, without a float copy."""
    import torch

    positions = torch.arange(size_in, dtype=torch.float64).view(1, 1, size_in)
    picked = torch.nn.functional.interpolate(positions, size=size_out, mode="nearest").view(size_out)
    out = picked.to(torch.int64).numpy()
    out.flags.writeable = False
    return out


def _original_fields(stats: Any, clip: int, t: int, k: int) -> dict[str, Any]:
    """Frame ``k`` of clip number ``clip`` scored against the original mask (absent where it is the expected one)."""
    f = clip * t + k
    return {"original_intersection": int(stats.intersection[f]), "original_union": int(stats.union[f]),
            "original_area": int(stats.gt_area[f]), "original_tp_at": stats.tp_at[f].astype(np.int32)}
