"""Binary AVS metrics (S4 / MS3 style) as pure functions over per-frame statistics.

Everything starts from :func:`binary_frame_stats`, which reduces logits and ground truth to integer
counts per frame (a sufficient statistic for every metric here). Two families are derived from them:

* **legacy** ``avsbench`` (:func:`legacy_miou`, :func:`legacy_fscore`, :func:`legacy_fpr`): exactly the
  AVSBench reference code (OpenNLPLab/AVSBench ``avs_s4/utils/utility.py``: ``mask_iou``, ``Eval_Fmeasure``;
  jiali-home/AVSBench-Robust ``scripts/s4/test.py``: ``calculate_FPR``), including its batch dependence, with an
  explicit ``batch_size``;
* **canonical** (:func:`canonical_miou`, :func:`canonical_fscore`, :func:`frame_fpr`): batch- and
  order-invariant, with an explicit policy for frames whose ground truth is empty (README, "Metrics").

A pixel is predicted positive when ``sigmoid(logit) > 0.5``. The reference computes the sigmoid in the
logits' own dtype and compares it with float32 thresholds under torch's type promotion, so its numbers
depend on that dtype: float64 logits of +1e-9 are positive there, while float32 sigmoid rounds them to
exactly 0.5 (negative); fp16/bf16 sigmoids are coarser still. :func:`binary_frame_stats` takes
``score_dtype``: ``"float32"`` (the canonical ids: every input cast to float32 first, so a model's numbers
do not depend on its output dtype) or ``"native"`` (the ``avsbench`` ids: the reference's behaviour for
whatever dtype it is given). Both agree on float32 logits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from avsprobe.metrics._tensor import as_tensor

if TYPE_CHECKING:
    import torch

__all__ = [
    "OBJECT_THRESHOLDS",
    "ObjectScores",
    "clips_object_scores",
    "NUM_F_THRESHOLDS",
    "F_BETA2",
    "EmptyPolicy",
    "ScoreDtype",
    "BinaryFrameStats",
    "f_thresholds",
    "binarize",
    "binary_frame_stats",
    "binary_frame_stats_many",
    "frame_iou",
    "frame_fpr",
    "frame_fscore_curves",
    "canonical_miou",
    "canonical_fscore",
    "legacy_miou",
    "legacy_fscore",
    "legacy_fpr",
    "object_coverage",
    "clips_object_counts",
    "clips_object_coverage",
    "coverage_from_counts",
    "order_free_mean",
]

NUM_F_THRESHOLDS = 255
"""Number of thresholds of the AVSBench F-score curve (``pr_num``)."""

F_BETA2 = 0.3
"""beta^2 of the AVSBench F-measure (precision weighted more than recall)."""

EmptyPolicy = Literal["strict", "tn_ratio", "skip"]
"""How a frame with an empty ground-truth mask is scored by IoU.

* ``strict`` (canonical): 1 if nothing is predicted, 0 for any false positive;
* ``tn_ratio`` (AVSBench legacy): the true-negative fraction of the frame, 1 - FP / (H*W);
* ``skip``: the frame is left out of the mean.
"""

ScoreDtype = Literal["float32", "native", "probability"]
"""In which dtype the sigmoid scores are computed: ``float32`` (canonical) or the logits' own (reference);
``probability``: the input already holds the float32 sigmoid scores (what the runner computes once per
call, and what kept predictions restore, :mod:`avsprobe.predictions`)."""

# Frames are processed in chunks so a 1000-frame 224x224 batch never materialises per-pixel int64
# temporaries for all frames at once.
_CHUNK_PIXELS = 8_000_000


@dataclass(frozen=True)
class BinaryFrameStats:
    """Integer sufficient statistics of binary predictions, one row per frame.

    Attributes:
        intersection: ``int64 [N]``, |P ∩ G| with P the binarised prediction.
        pred_area: ``int64 [N]``, |P| in pixels.
        gt_area: ``int64 [N]``, |G| in pixels.
        num_pixels: H * W of every frame.
        tp_at: ``int64 [N, 255]``, |{sigmoid >= tau_k} ∩ G| for the 255 F-score thresholds.
        pp_at: ``int64 [N, 255]``, |{sigmoid >= tau_k}| (predicted positives at threshold k).
    """

    intersection: np.ndarray
    pred_area: np.ndarray
    gt_area: np.ndarray
    num_pixels: int
    tp_at: np.ndarray
    pp_at: np.ndarray

    def __len__(self) -> int:
        return int(self.intersection.shape[0])

    @property
    def union(self) -> np.ndarray:
        """``int64 [N]``, |P ∪ G|."""
        return self.pred_area + self.gt_area - self.intersection

    def take(self, index: np.ndarray | slice) -> BinaryFrameStats:
        """The statistics of a subset (or reordering) of frames."""
        return BinaryFrameStats(
            self.intersection[index],
            self.pred_area[index],
            self.gt_area[index],
            self.num_pixels,
            self.tp_at[index],
            self.pp_at[index],
        )

    @staticmethod
    def concat(parts: list[BinaryFrameStats]) -> BinaryFrameStats:
        """Stack the frames of several statistics objects of the same frame size."""
        if not parts:
            raise ValueError("concat needs at least one BinaryFrameStats")
        sizes = {p.num_pixels for p in parts}
        if len(sizes) != 1:
            raise ValueError(f"cannot concatenate frames of different sizes: {sorted(sizes)} pixels")
        return BinaryFrameStats(
            np.concatenate([p.intersection for p in parts]),
            np.concatenate([p.pred_area for p in parts]),
            np.concatenate([p.gt_area for p in parts]),
            parts[0].num_pixels,
            np.concatenate([p.tp_at for p in parts]),
            np.concatenate([p.pp_at for p in parts]),
        )


def f_thresholds() -> torch.Tensor:
    """The 255 float32 thresholds of the reference F-score: ``linspace(0, 1 - 1e-10, 255)``.

    In float32 the last one rounds to exactly 1.0, so only saturated sigmoids count there.
    """
    import torch

    return torch.linspace(0, 1 - 1e-10, NUM_F_THRESHOLDS, dtype=torch.float32)


def binarize(logits: object) -> torch.Tensor:
    """``bool`` tensor of the same shape: ``sigmoid(logits) > 0.5`` in float32 (the AVSBench rule)."""
    import torch

    return torch.sigmoid(as_tensor(logits).to(torch.float32)) > 0.5


def _scores_and_thresholds(logits: torch.Tensor, score_dtype: ScoreDtype) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Sigmoid scores and the 255 thresholds as the chosen rule compares them, and whether the fast
    threshold location applies.

    ``native`` follows the reference: the sigmoid in the logits' own dtype, and ``score >= thlist[i]``
    with ``thlist[i]`` a 0-d float32 tensor, which torch's promotion casts to the scores' dtype (float16
    and bfloat16 thresholds are rounded, float64 ones exact). The values returned are upcast to at least
    float32, exactly, so every comparison gives the reference's answer.
    """
    import torch

    thresholds = f_thresholds().to(logits.device)
    if score_dtype == "float32":
        return torch.sigmoid(logits.to(torch.float32)), thresholds, True
    if score_dtype == "probability":
        if logits.dtype != torch.float32:
            raise ValueError(f"probabilities must be float32, got {logits.dtype}")
        return logits, thresholds, True
    if score_dtype != "native":
        raise ValueError(f"unknown score_dtype {score_dtype!r}; use 'float32', 'native' or 'probability'")
    if not logits.is_floating_point():
        logits = logits.to(torch.float32)  # torch's sigmoid promotes integers to the default float32
    scores = torch.sigmoid(logits)
    work = torch.promote_types(scores.dtype, torch.float32)
    native_thresholds = thresholds.to(scores.dtype).to(work)
    return scores.to(work), native_thresholds, scores.dtype in (torch.float32, torch.float64)


def binary_frame_stats(logits: object, target: object, *, score_dtype: ScoreDtype = "float32") -> BinaryFrameStats:
    """Reduce logits and ground truth to per-frame integer statistics.

    Args:
        logits: ``[N, H, W]`` (or ``[..., H, W]``, flattened to frames) float logits, torch or numpy.
        target: same shape; nonzero = foreground (binarised with ``> 0``).
        score_dtype: ``"float32"`` (canonical) or ``"native"`` (the reference's dtype behaviour).

    Returns:
        :class:`BinaryFrameStats` for the N frames. The 255-threshold counts come from one pass per frame:
        each pixel's score is located among the sorted thresholds, the locations are histogrammed
        per frame (split by ground truth), and a reversed cumulative sum gives the count at or above every
        threshold.
    """
    logits_t, target_t = as_tensor(logits), as_tensor(target)
    if logits_t.shape != target_t.shape:
        raise ValueError(f"logits {tuple(logits_t.shape)} and target {tuple(target_t.shape)} differ in shape")
    return binary_frame_stats_many(logits_t, [(None, target_t)], score_dtype=score_dtype)[0]


def binary_frame_stats_many(logits: object, targets: Sequence[tuple[Sequence[int] | None, object]], *,
                            score_dtype: ScoreDtype = "float32") -> list[BinaryFrameStats]:
    """:func:`binary_frame_stats` of the same logits against several targets, locating each pixel's score
    among the thresholds once (the costly part) for all of them.

    Args:
        logits: ``[N, H, W]`` (or ``[..., H, W]``, flattened to frames) float logits, torch or numpy.
        targets: ``(frames, target)`` pairs: ``target [len(frames), H, W]`` is the ground truth of the
            logits' frames numbered ``frames`` (ascending), or of all N frames for ``frames`` None.
        score_dtype: as :func:`binary_frame_stats`.

    Returns:
        One :class:`BinaryFrameStats` per target, over its frames in the order given.
    """
    import torch

    logits_t = as_tensor(logits)
    if logits_t.ndim < 2:
        raise ValueError(f"expected [..., H, W] frames, got shape {tuple(logits_t.shape)}")
    h, w = logits_t.shape[-2:]
    num_pixels = int(h * w)
    scores, thresholds, fast = _scores_and_thresholds(logits_t.reshape(-1, num_pixels), score_dtype)
    n = scores.shape[0]
    wanted = []
    for frames, target in targets:
        target_t = as_tensor(target)
        frames_t = torch.arange(n) if frames is None else torch.as_tensor(np.asarray(frames, dtype=np.int64))
        if target_t.ndim < 2 or tuple(target_t.shape[-2:]) != (h, w) or target_t.numel() != len(frames_t) * num_pixels:
            raise ValueError(f"target {tuple(target_t.shape)} does not match {len(frames_t)} frames of {h}x{w} logits")
        gt = target_t.reshape(-1, num_pixels)
        wanted.append((frames is None, frames_t.to(scores.device), gt if gt.dtype == torch.bool else gt > 0))
    chunk = max(1, _CHUNK_PIXELS // max(num_pixels, 1))
    parts: list[list[list[torch.Tensor]]] = [[[] for _ in range(5)] for _ in wanted]
    for start in range(0, n, chunk):
        s = scores[start : start + chunk]
        # each pixel's key: its threshold location (0..255) and whether it is predicted ("predicted" is
        # score > 0.5, which the locations cannot tell from = 0.5); the ground truth and frame are added per target
        if fast:
            base = _threshold_location(s, thresholds)
        else:  # rounded float16/bfloat16 thresholds are not near k/254: locate every pixel exactly
            base = torch.searchsorted(thresholds, s, right=True).to(torch.int32)
        base += (s > 0.5).to(torch.int32) << 9
        for j, ((every_frame, frames_t, gt), out) in enumerate(zip(wanted, parts, strict=True)):
            if every_frame:
                g = gt[start : start + s.shape[0]]
                key = base if j == len(wanted) - 1 else base.clone()  # the last target may add in place
            else:
                inside = ((frames_t >= start) & (frames_t < start + s.shape[0])).nonzero(as_tuple=True)[0]
                if len(inside) == 0:
                    continue
                g = gt[inside]
                key = base[frames_t[inside] - start]
            m = g.shape[0]
            key += g.to(torch.int32) << 8
            key += (torch.arange(m, dtype=torch.int32, device=s.device) << 10)[:, None]
            # one histogram over (frame, predicted, is_gt, location): 1024 keys per frame
            hist = torch.bincount(key.reshape(-1), minlength=m * 1024).reshape(m, 2, 2, 256)
            hist_gt = hist[:, :, 1].sum(dim=1)
            hist_all = hist.sum(dim=(1, 2))
            out[0].append(hist[:, 1, 1].sum(dim=1))
            out[1].append(hist[:, 1].sum(dim=(1, 2)))
            out[2].append(hist_gt.sum(dim=1))
            # count(score >= tau_k) = sum of the histogram over locations c > k
            out[3].append(hist_gt.flip(1).cumsum(1).flip(1)[:, 1:])
            out[4].append(hist_all.flip(1).cumsum(1).flip(1)[:, 1:])

    def cat(pieces: list[torch.Tensor], width: int) -> np.ndarray:
        if not pieces:
            return np.zeros((0, width) if width else 0, dtype=np.int64)
        return torch.cat(pieces).cpu().numpy().astype(np.int64)

    return [BinaryFrameStats(cat(o[0], 0), cat(o[1], 0), cat(o[2], 0), num_pixels, cat(o[3], NUM_F_THRESHOLDS),
                             cat(o[4], NUM_F_THRESHOLDS)) for o in parts]


def _threshold_location(scores: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """``int32``, same shape: the number of thresholds ``<= score`` (0..255), exactly.

    The thresholds are float32 values within about 1e-7 of ``k / 254``, so ``floor(254 * score) + 1`` is
    right except within rounding distance of a bin edge. Pixels within 1e-3 (in units of a bin) of an edge
    are located exactly with ``searchsorted``; the rest, nearly all of them, cost two elementwise ops.
    """
    import torch

    scaled = scores * (NUM_F_THRESHOLDS - 1)
    location = scaled.to(torch.int32)
    frac = scaled.sub_(location)
    location += 1
    near_edge = ((frac < 1e-3) | (frac > 1 - 1e-3)).nonzero(as_tuple=True)
    location[near_edge] = torch.searchsorted(thresholds, scores[near_edge], right=True).to(torch.int32)
    return location


def frame_iou(stats: BinaryFrameStats, *, empty_policy: EmptyPolicy = "strict") -> np.ndarray:
    """``float64 [N]`` IoU per frame; frames with empty ground truth follow ``empty_policy`` (NaN = skip)."""
    union = stats.union.astype(np.float64)
    empty = stats.gt_area == 0
    iou = np.divide(stats.intersection, union, out=np.zeros(len(stats)), where=union > 0)
    if empty_policy == "strict":
        iou[empty] = (stats.pred_area[empty] == 0).astype(np.float64)
    elif empty_policy == "tn_ratio":
        iou[empty] = (stats.num_pixels - stats.pred_area[empty]) / stats.num_pixels
    elif empty_policy == "skip":
        iou[empty] = np.nan
    else:
        raise ValueError(f"unknown empty_policy {empty_policy!r}; use 'strict', 'tn_ratio' or 'skip'")
    return iou


def frame_fpr(stats: BinaryFrameStats) -> np.ndarray:
    """``float64 [N]`` fraction of each frame predicted positive (AVSBench-Robust FPR, GT taken as empty)."""
    return stats.pred_area / float(stats.num_pixels)


def frame_fscore_curves(stats: BinaryFrameStats, *, beta2: float = F_BETA2) -> np.ndarray:
    """``float64 [N, 255]`` F-measure of each frame at each threshold; 0 where undefined.

    Precision is 0 when nothing is predicted and F is 0 when precision and recall are both 0, the values
    the reference reaches through its 1e-20 epsilons and NaN -> 0. Rows of empty-GT frames are all 0.
    """
    tp = stats.tp_at.astype(np.float64)
    pp = stats.pp_at.astype(np.float64)
    gt = stats.gt_area.astype(np.float64)[:, None]
    precision = np.divide(tp, pp, out=np.zeros_like(tp), where=pp > 0)
    recall = np.divide(tp, np.broadcast_to(gt, tp.shape), out=np.zeros_like(tp), where=gt > 0)
    denom = beta2 * precision + recall
    return np.divide((1 + beta2) * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)


def order_free_mean(values: np.ndarray) -> float:
    """Mean of a 1-D array, exactly rounded (``math.fsum``) so it never depends on the frame order."""
    if values.size == 0:
        return math.nan
    return math.fsum(values.tolist()) / values.size


def canonical_miou(stats: BinaryFrameStats, *, empty_policy: EmptyPolicy = "strict") -> float:
    """Mean per-frame IoU over all frames (definition ``miou.canonical``); NaN if no frame counts."""
    iou = frame_iou(stats, empty_policy=empty_policy)
    return order_free_mean(iou[~np.isnan(iou)])


def canonical_fscore(stats: BinaryFrameStats, *, beta2: float = F_BETA2) -> float:
    """Max over the 255 thresholds of the dataset-level mean F curve (definition ``fscore.canonical``).

    Frames with empty ground truth are left out (F is undefined there); NaN if no frame has an object.
    Unlike the legacy value, this never depends on how frames were batched or ordered.
    """
    valid = stats.gt_area > 0
    if not valid.any():
        return math.nan
    curves = frame_fscore_curves(stats.take(valid), beta2=beta2)
    mean_curve = [math.fsum(column) / curves.shape[0] for column in curves.T.tolist()]
    return float(max(mean_curve))


def pooled_iou(stats: BinaryFrameStats) -> float:
    """Dataset-level IoU: ``sum |P∩G| / sum |P∪G|`` over all frames (definition ``miou.pooled``); NaN when
    nothing is predicted or annotated anywhere."""
    union = int(stats.union.sum())
    return math.nan if union == 0 else int(stats.intersection.sum()) / union


def _batches(n: int, batch_frames: int) -> list[slice]:
    if batch_frames <= 0:
        raise ValueError(f"batch size must be positive, got {batch_frames}")
    return [slice(i, min(i + batch_frames, n)) for i in range(0, n, batch_frames)]


def legacy_miou(stats: BinaryFrameStats, *, batch_size: int, frames_per_clip: int = 5) -> float:
    """AVSBench ``mask_iou`` averaged over batches, exactly as the reference test script (``avs_s4/test.py``).

    Frames are taken in order, ``batch_size * frames_per_clip`` per batch. Within a batch the reference
    computes ``sum_i I_i / (U_i + 1e-7) / N`` in float32, with an empty-GT frame scoring its true-negative
    count over H*W; the reported value is the mean of the batch values (a short last batch is
    over-weighted, as in the reference).
    """
    iou = _legacy_frame_ratio(stats)
    values = [float(iou[b].sum(dtype=np.float32) / np.float32(b.stop - b.start))
              for b in _batches(len(stats), batch_size * frames_per_clip)]
    return float(np.mean(values)) if values else math.nan


def _legacy_frame_ratio(stats: BinaryFrameStats) -> np.ndarray:
    empty = stats.gt_area == 0
    inter = np.where(empty, stats.num_pixels - stats.union, stats.intersection).astype(np.float32)
    union = np.where(empty, stats.num_pixels, stats.union).astype(np.float32)
    return inter / (union + np.float32(1e-7))


def legacy_fscore(
    stats: BinaryFrameStats, *, batch_size: int, frames_per_clip: int = 5, beta2: float = F_BETA2
) -> float:
    """AVSBench ``Eval_Fmeasure`` averaged over batches, exactly as the reference (``avs_s4/utils/utility.py``).

    Per batch: the F curve of each frame with non-empty GT (float32, epsilons 1e-20, NaN -> 0) is averaged
    over those frames, and the batch value is the max over the 255 thresholds, or 0 when every frame of the
    batch has empty GT (such batches still count). The reported value is the mean over batches, so it
    depends on ``batch_size``: report it with the number.
    """
    f32 = np.float32
    tp = stats.tp_at.astype(f32)
    pp = stats.pp_at.astype(f32)
    gt = stats.gt_area.astype(f32)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = tp / (pp + f32(1e-20))
        recall = tp / (gt + f32(1e-20))
        f = (f32(1 + beta2) * precision * recall) / (f32(beta2) * precision + recall)
    f[np.isnan(f)] = 0
    values = []
    for b in _batches(len(stats), batch_size * frames_per_clip):
        valid = stats.gt_area[b] > 0
        if not valid.any():
            values.append(0.0)
            continue
        curve = f[b][valid].sum(axis=0, dtype=f32) / f32(valid.sum())
        values.append(float(curve.max()))
    return float(np.mean(values)) if values else math.nan


def legacy_fpr(stats: BinaryFrameStats, *, batch_size: int, frames_per_clip: int = 5) -> float:
    """AVSBench-Robust ``calculate_FPR`` averaged over batches (AVSBench-Robust ``scripts/s4/test.py``): positives / (H*W + 1e-7)."""
    fpr = stats.pred_area.astype(np.float32) / (np.float32(stats.num_pixels) + np.float32(1e-7))
    values = [float(fpr[b].mean(dtype=np.float32)) for b in _batches(len(stats), batch_size * frames_per_clip)]
    return float(np.mean(values)) if values else math.nan


def clips_object_counts(logits: object, object_masks: Sequence[object | None]
                        ) -> list[tuple[np.ndarray, np.ndarray] | None]:
    """Pixels of each object that the prediction covers, and the object's area, for several clips of one
    frame shape (the runner scores a model call's clips together).

    Args:
        logits: ``[B, T, H, W]`` logits (predicted where ``sigmoid > 0.5``, as :func:`binarize`).
        object_masks: per clip ``[T, O_i, H, W]`` object masks (torch or numpy; nonzero = the object), or
            None for a clip without objects.

    Returns:
        Per clip ``(covered, area)``, both ``int64 [T, O_i]``, or None.
    """
    pred = binarize(logits).cpu().numpy()
    out: list[tuple[np.ndarray, np.ndarray] | None] = []
    for clip, masks in enumerate(object_masks):
        if masks is None:
            out.append(None)
            continue
        m = as_tensor(masks).cpu().numpy()
        if m.dtype != np.bool_:
            m = m > 0
        if m.ndim != 4 or m.shape[0] != pred.shape[1] or m.shape[-2:] != pred.shape[-2:]:
            raise ValueError(f"object masks {tuple(m.shape)} do not match predictions {tuple(pred.shape[1:])}")
        t_count, o_count = m.shape[:2]
        covered = np.zeros((t_count, o_count), dtype=np.int64)
        area = np.zeros((t_count, o_count), dtype=np.int64)
        # one frame's 2-D count at a time: numpy counts a contiguous bool plane with popcounts, several
        # times faster than an axis reduction
        for t in range(t_count):
            frame_pred = pred[clip, t]
            for o in range(o_count):
                area[t, o] = np.count_nonzero(m[t, o])
                if area[t, o]:
                    covered[t, o] = np.count_nonzero(m[t, o] & frame_pred)
        out.append((covered, area))
    return out


OBJECT_THRESHOLDS = tuple(round(0.02 * i, 2) for i in range(1, 50))
"""The probability thresholds (0.02 ... 0.98) at which the records count each object's covered pixels
(``object_covered_at``): enough to move a model's operating point to another model's recall."""


@dataclass(frozen=True)
class ObjectScores:
    """One clip's per-object values, each ``[T, O]`` (``covered_at``: ``[T, O, G]``); zero counts and a NaN
    mean where the object is absent from the frame."""

    covered: np.ndarray
    """int64: pixels predicted (``sigmoid > 0.5``, as :func:`binarize`)."""
    area: np.ndarray
    """int64: the object's pixels."""
    mean: np.ndarray
    """float64: the mean predicted probability over the object."""
    covered_at: np.ndarray
    """int64: pixels with probability above each of :data:`OBJECT_THRESHOLDS`."""


def clips_object_scores(logits: object, object_masks: Sequence[object | None], *, probability: bool = False
                        ) -> list[ObjectScores | None]:
    """Each object's covered pixels and area (as :func:`clips_object_counts`), mean predicted probability and
    pixels above each of :data:`OBJECT_THRESHOLDS`, for several clips of one frame shape, in one pass.

    Args:
        logits: ``[B, T, H, W]`` logits (probability ``sigmoid`` in float32, as :func:`binarize`).
        object_masks: per clip ``[T, O_i, H, W]`` object masks (nonzero = the object), or None.
        probability: ``logits`` already holds the float32 probabilities.

    Returns:
        Per clip its :class:`ObjectScores`, or None for a clip without objects.
    """
    import torch

    given = as_tensor(logits)
    scores = given if probability else torch.sigmoid(given.to(torch.float32))
    values = scores.cpu().numpy()
    # 0.5 first: the records' own rule, then the object thresholds; pixels strictly above each
    grid = np.asarray((0.5, *OBJECT_THRESHOLDS), dtype=np.float32)
    out: list[ObjectScores | None] = []
    for clip, masks in enumerate(object_masks):
        if masks is None:
            out.append(None)
            continue
        m = as_tensor(masks).cpu().numpy() > 0
        if m.ndim != 4 or m.shape[0] != values.shape[1] or m.shape[-2:] != values.shape[-2:]:
            raise ValueError(f"object masks {tuple(m.shape)} do not match predictions {tuple(values.shape[1:])}")
        t_count, o_count = m.shape[:2]
        area = np.zeros((t_count, o_count), dtype=np.int64)
        mean = np.full((t_count, o_count), math.nan)
        above = np.zeros((t_count, o_count, len(grid)), dtype=np.int64)
        for t in range(t_count):
            for o in range(o_count):
                inside = np.sort(values[clip, t][m[t, o]])
                area[t, o] = inside.size
                if inside.size:
                    mean[t, o] = float(inside.astype(np.float64).mean())
                    above[t, o] = inside.size - np.searchsorted(inside, grid, side="right")
        out.append(ObjectScores(above[..., 0], area, mean, above[..., 1:]))
    return out


def clips_object_coverage(logits: object, object_masks: Sequence[object | None]) -> list[np.ndarray | None]:
    """:func:`object_coverage` of several clips of one frame shape in one pass.

    Args:
        logits: ``[B, T, H, W]`` logits.
        object_masks: per clip ``bool [T, O_i, H, W]`` object masks (torch or numpy), or None for a clip
            without objects.

    Returns:
        Per clip ``float64 [T, O_i]`` (NaN where the object is absent from the frame), or None.
    """
    return [None if counts is None else coverage_from_counts(*counts)
            for counts in clips_object_counts(logits, object_masks)]


def coverage_from_counts(covered: np.ndarray, area: np.ndarray) -> np.ndarray:
    """``covered / area`` as float64, NaN where the area is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area > 0, covered / np.maximum(area, 1), math.nan)


def object_coverage(logits: object, object_masks: object) -> np.ndarray:
    """Fraction of each object covered by the prediction, |P ∩ M_o| / |M_o| (one clip of
    :func:`clips_object_coverage`).

    Args:
        logits: ``[N, H, W]`` logits.
        object_masks: ``[N, O, H, W]`` (or ``[N, H, W]`` for one object) boolean object masks.

    Returns:
        ``float64 [N, O]`` (or ``[N]``); NaN where the object is absent from the frame.
    """
    pred_logits = as_tensor(logits)
    masks = as_tensor(object_masks)
    single = masks.ndim == pred_logits.ndim
    out = clips_object_coverage(pred_logits.unsqueeze(0), [masks.unsqueeze(1) if single else masks])[0]
    return out[:, 0] if single else out
