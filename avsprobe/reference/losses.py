"""Set losses of the reference model: sigmoid focal and dice losses on matched masks, cross-entropy on
classes, and the dropping of well-learned pairs (paper Sec. 4.5).

Shapes: predicted mask logits ``[M, P]`` and target masks ``[M, P]`` for M matched pairs over P pixels (or
sampled points); class logits ``[Q, K + 1]`` with the last index the "no object" class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

__all__ = ["sigmoid_focal_loss", "dice_loss", "class_loss", "drop_keep_mask"]


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, *, alpha: float = 0.25, gamma: float = 2.0
                       ) -> torch.Tensor:
    """Per-mask focal loss ``[M]``: the mean over pixels of ``alpha_t (1 - p_t)^gamma BCE``.

    ``alpha_t = alpha`` on positives and ``1 - alpha`` on negatives (Lin et al.); ``alpha < 0`` disables it.
    """
    import torch

    prob = logits.sigmoid()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = bce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss.mean(dim=-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-mask dice loss ``[M]``: ``1 - (2 sum(p t) + 1) / (sum(p) + sum(t) + 1)`` with ``p = sigmoid``."""
    prob = logits.sigmoid()
    numerator = 2 * (prob * targets).sum(-1) + 1
    denominator = prob.sum(-1) + targets.sum(-1) + 1
    return 1 - numerator / denominator


def class_loss(class_logits: torch.Tensor, target_classes: torch.Tensor, *, empty_weight: float = 0.1) -> torch.Tensor:
    """Cross-entropy over queries ``[Q, K + 1]`` against ``[Q]`` labels (unmatched = K, weighted ``empty_weight``)."""
    import torch

    num_classes = class_logits.shape[-1] - 1
    weight = torch.ones(num_classes + 1, device=class_logits.device)
    weight[-1] = empty_weight
    return torch.nn.functional.cross_entropy(class_logits, target_classes, weight=weight)


def drop_keep_mask(per_pair_loss: torch.Tensor, *, mode: Literal["paper", "official"] = "paper", p: float = 0.4,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Which matched pairs keep their mask loss (``bool [M]``).

    * ``paper``: "relatively well-learned" pairs, those whose loss is at most the median of the matched
      pairs, are each dropped with probability ``p`` (0.4 in the paper).
    * ``official``: the ``floor(0.4 M)`` lowest-loss pairs are candidates, each dropped with probability 0.3
      (the authors' code; its "p = 0.4" is the candidate fraction).
    """
    import torch

    m = per_pair_loss.shape[0]
    keep = torch.ones(m, dtype=torch.bool, device=per_pair_loss.device)
    if m == 0:
        return keep
    if mode == "paper":
        candidates = per_pair_loss <= per_pair_loss.median()
        drop_probability = p
    elif mode == "official":
        k = int(m / 5 * 2)
        candidates = torch.zeros(m, dtype=torch.bool, device=per_pair_loss.device)
        if k:
            candidates[torch.topk(per_pair_loss, k, largest=False).indices] = True
        drop_probability = 0.3
    else:
        raise ValueError(f"unknown drop mode {mode!r}")
    draws = torch.rand(m, generator=generator, device="cpu").to(per_pair_loss.device)
    keep[candidates & (draws < drop_probability)] = False
    return keep
