"""Plain, independent re-implementations of the AVSBench reference formulas (OpenNLPLab/AVSBench
``avs_s4/utils/utility.py``, AVSBench-Robust ``scripts/s4/test.py``).

Written as loops, the way the reference code reads, to check the vectorised metrics against: one
threshold at a time in float32 with the same epsilons, frame by frame, batch by batch.
"""

from __future__ import annotations

import numpy as np
import torch


def ref_mask_iou_batch(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> float:
    n = pred.size(0)
    num_pixels = pred.size(-1) * pred.size(-2)
    no_obj = target.sum(2).sum(1) == 0
    p = (torch.sigmoid(pred) > 0.5).int()
    inter = (p * target).sum(2).sum(1)
    union = torch.max(p, target).sum(2).sum(1)
    inter_no_obj = ((1 - target) * (1 - p)).sum(2).sum(1)
    inter[no_obj] = inter_no_obj[no_obj]
    union[no_obj] = num_pixels
    return float(torch.sum(inter / (union + eps)) / n)


def _ref_eval_pr(y_pred: torch.Tensor, y: torch.Tensor, num: int) -> tuple[torch.Tensor, torch.Tensor]:
    prec, recall = torch.zeros(num), torch.zeros(num)
    thlist = torch.linspace(0, 1 - 1e-10, num)
    for i in range(num):
        y_temp = (y_pred >= thlist[i]).float()
        tp = (y_temp * y).sum()
        prec[i], recall[i] = tp / (y_temp.sum() + 1e-20), tp / (y.sum() + 1e-20)
    return prec, recall


def ref_fmeasure_batch(pred: torch.Tensor, gt: torch.Tensor, pr_num: int = 255) -> float:
    beta2 = 0.3
    pred = torch.sigmoid(pred)
    avg_f, img_num = 0.0, 0
    for img_id in range(pred.shape[0]):
        if torch.mean(gt[img_id]) == 0.0:
            continue
        prec, recall = _ref_eval_pr(pred[img_id], gt[img_id], pr_num)
        f_score = (1 + beta2) * prec * recall / (beta2 * prec + recall)
        f_score[f_score != f_score] = 0
        avg_f += f_score
        img_num += 1
    if img_num == 0:
        return 0.0
    return float((avg_f / img_num).max())


def ref_fpr_batch(pred: torch.Tensor) -> float:
    p = (torch.sigmoid(pred) > 0.5).float()
    h, w = pred.shape[-2:]
    return float((p.sum(dim=(1, 2)) / (h * w + 1e-7)).mean())


def ref_over_batches(fn, pred: torch.Tensor, target: torch.Tensor | None, batch_frames: int) -> float:
    values = []
    for start in range(0, pred.shape[0], batch_frames):
        sl = slice(start, start + batch_frames)
        values.append(fn(pred[sl]) if target is None else fn(pred[sl], target[sl]))
    return float(np.mean(values))


def ref_avss(pred: torch.Tensor, target: torch.Tensor, num_classes: int = 71) -> tuple[float, float]:
    """AVSS ``_batch_miou_fscore`` over all frames (histc per frame, float32), accumulated over the split."""
    yhat = torch.argmax(torch.softmax(pred, dim=1), dim=1)
    s_iou = torch.zeros(num_classes, dtype=torch.float64)
    s_f = torch.zeros(num_classes, dtype=torch.float64)
    count = torch.zeros(num_classes, dtype=torch.float64)
    for f in range(pred.shape[0]):
        p = (yhat[f].float() + 1).flatten()
        t = (target[f].float() + 1).flatten()
        inter_vals = p * (p == t).float()
        a_i = torch.histc(inter_vals, bins=num_classes, min=1, max=num_classes)
        a_p = torch.histc(p, bins=num_classes, min=1, max=num_classes)
        a_l = torch.histc(t, bins=num_classes, min=1, max=num_classes)
        a_u = a_p + a_l - a_i
        iou = a_i / (a_u + 2.220446049250313e-16)
        prec = a_i / a_p
        rec = a_i / a_l
        fs = 1.3 * prec * rec / (0.3 * prec + rec)
        fs[fs != fs] = 0
        s_iou += iou.double()
        s_f += fs.double()
        count += (a_u > 0).double()
    miou_c = torch.where(count > 0, s_iou / count.clamp_min(1), torch.zeros_like(s_iou))
    f_c = torch.where(count > 0, s_f / count.clamp_min(1), torch.zeros_like(s_f))
    return float(miou_c.sum() / num_classes), float(f_c.sum() / num_classes)
