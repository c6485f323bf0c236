"""Hungarian matching between active queries and ground-truth masks (scipy ``linear_sum_assignment``).

Cost of pairing query q with target t: ``w_mask * mask_cost(q, t) + w_dice * dice(q, t) - w_class * p_q(c_t)``
where ``mask_cost`` is the pairwise sigmoid focal loss (paper) or BCE (option), averaged over pixels. Dormant
queries never take part: only rows of active queries are candidates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["pairwise_costs", "hungarian_match", "hungarian_match_batch"]


def pairwise_costs(mask_logits: torch.Tensor, targets: torch.Tensor, class_logits: torch.Tensor,
                   target_classes: torch.Tensor, *, mask_cost: Literal["focal", "bce"] = "focal",
                   weights: tuple[float, float, float] = (5.0, 5.0, 2.0)) -> torch.Tensor:
    """``[..., Q, T]`` matching cost for ``mask_logits [..., Q, P]``, ``targets [..., T, P]``,
    ``class_logits [..., Q, K+1]`` and ``target_classes long [..., T]`` (leading batch dimensions optional)."""
    import torch

    x = mask_logits.float()
    t = targets.float()
    p = x.sigmoid()
    pixels = x.shape[-1]
    if mask_cost == "focal":
        alpha, gamma = 0.25, 2.0
        pos = alpha * (1 - p) ** gamma * torch.nn.functional.binary_cross_entropy_with_logits(x, torch.ones_like(x), reduction="none")
        neg = (1 - alpha) * p ** gamma * torch.nn.functional.binary_cross_entropy_with_logits(x, torch.zeros_like(x), reduction="none")
    else:
        pos = torch.nn.functional.binary_cross_entropy_with_logits(x, torch.ones_like(x), reduction="none")
        neg = torch.nn.functional.binary_cross_entropy_with_logits(x, torch.zeros_like(x), reduction="none")
    t_transposed = t.transpose(-1, -2)
    cost_mask = (pos @ t_transposed + neg @ (1 - t_transposed)) / pixels
    cost_dice = 1 - (2 * p @ t_transposed + 1) / (p.sum(-1)[..., :, None] + t.sum(-1)[..., None, :] + 1)
    prob = class_logits.float().softmax(-1)
    index = target_classes[..., None, :].expand(*prob.shape[:-1], target_classes.shape[-1])
    cost_class = -torch.gather(prob, -1, index)
    w_mask, w_dice, w_class = weights
    return w_mask * cost_mask + w_dice * cost_dice + w_class * cost_class


def hungarian_match(cost: torch.Tensor, active: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Optimal assignment of targets to (active) queries.

    Args:
        cost: ``[Q, T]``.
        active: ``bool [Q]``; only active queries are matched (all when None).

    Returns:
        ``(query_indices, target_indices)`` of length ``min(#active, T)``, sorted by query index.
    """
    from scipy.optimize import linear_sum_assignment

    c = cost.detach().cpu().numpy()
    rows = np.arange(c.shape[0]) if active is None else np.flatnonzero(active.detach().cpu().numpy())
    if rows.size == 0 or c.shape[1] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    r, t = linear_sum_assignment(c[rows])
    order = np.argsort(rows[r])
    return rows[r][order].astype(np.int64), t[order].astype(np.int64)


def hungarian_match_batch(cost: torch.Tensor, active: torch.Tensor, valid: torch.Tensor
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`hungarian_match` for each frame of a batch.

    Args:
        cost: ``[B, Q, T]`` (targets padded to the largest count T).
        active: ``bool [B, Q]`` queries that may be matched.
        valid: ``bool [B, T]`` real (unpadded) targets.

    Returns:
        ``(batch_indices, query_indices, target_indices)``, one entry per matched pair.
    """
    c = cost.detach().cpu()
    valid_np = valid.cpu().numpy()
    batch, queries, targets = [], [], []
    for b in range(c.shape[0]):
        cols = np.flatnonzero(valid_np[b])
        if cols.size == 0:
            continue
        q, t = hungarian_match(c[b][:, cols], active[b])
        batch.append(np.full(q.size, b, dtype=np.int64))
        queries.append(q)
        targets.append(cols[t])
    if not batch:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    return np.concatenate(batch), np.concatenate(queries), np.concatenate(targets)
