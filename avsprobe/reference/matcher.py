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

__all__ = ["pairwise_costs", "hungarian_match"]


def pairwise_costs(mask_logits: torch.Tensor, targets: torch.Tensor, class_logits: torch.Tensor,
                   target_classes: torch.Tensor, *, mask_cost: Literal["focal", "bce"] = "focal",
                   weights: tuple[float, float, float] = (5.0, 5.0, 2.0)) -> torch.Tensor:
    """``[Q, T]`` matching cost for ``mask_logits [Q, P]``, ``targets [T, P]``, ``class_logits [Q, K+1]``."""
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
    cost_mask = (pos @ t.T + neg @ (1 - t).T) / pixels
    cost_dice = 1 - (2 * p @ t.T + 1) / (p.sum(-1)[:, None] + t.sum(-1)[None, :] + 1)
    cost_class = -class_logits.float().softmax(-1)[:, target_classes]
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
