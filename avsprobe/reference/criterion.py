"""The set criterion: Hungarian matching over active queries and deep-supervised losses (paper Sec. 4.5).

For every prediction (before the first decoder layer and after each), each frame's active queries are
matched to its ground-truth masks; matched pairs take focal + dice mask losses, every active query takes
cross-entropy against its matched class or "no object". Weights 5 (focal), 5 (dice), 2 (class) at every
layer, the final layer's terms multiplied by ``final_layer_weight``. With ``drop_dominant`` well-learned
matched pairs lose their mask loss at random (``losses.drop_keep_mask``): in ``paper`` mode both the focal
and the dice term, in ``official`` mode only the focal term, as in the authors' code.

The whole batch is matched at once: costs for every frame in one batched computation, then one small
``linear_sum_assignment`` per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from avsprobe.reference.config import ReferenceConfig
from avsprobe.reference.losses import class_loss, dice_loss, drop_keep_mask, sigmoid_focal_loss
from avsprobe.reference.matcher import hungarian_match_batch, pairwise_costs
from avsprobe.reference.model import ModelOutput

__all__ = ["BatchTargets", "SetCriterion", "targets_from_labels"]


@dataclass
class BatchTargets:
    """Ground truth of B frames as T target slots each.

    Attributes:
        classes: ``long [B, T]`` class of each slot (0..K-1).
        masks: ``float [B, T, h, w]`` in [0, 1] (area fractions when downsampled).
        valid: ``bool [B, T]`` which slots are real targets.
        bias_rows: ``bool [B]`` the frames on which a second branch's own loss counts (``supervised-prior``:
            the frames whose audio names no class); None: every frame.
    """

    classes: torch.Tensor
    masks: torch.Tensor
    valid: torch.Tensor
    bias_rows: torch.Tensor | None = None

    def rows(self, keep: torch.Tensor) -> BatchTargets:
        """The targets of the frames ``keep`` (``bool [B]``) selects."""
        return BatchTargets(self.classes[keep], self.masks[keep], self.valid[keep])


def targets_from_labels(labels: torch.Tensor, num_classes: int, size: tuple[int, int]) -> BatchTargets:
    """One slot per class from label maps ``[B, H, W]`` (0 = background, k + 1 = class k), masks averaged
    down to ``size`` (the mask logits' resolution); a slot is valid when its class has a pixel."""
    masks, valid = [], []
    for chunk in labels.split(256):  # bounded memory: the one-hot is [chunk, K, H, W]
        k = torch.arange(1, num_classes + 1, device=labels.device, dtype=labels.dtype).view(1, -1, 1, 1)
        onehot = (chunk[:, None] == k).float()
        valid.append(onehot.flatten(2).amax(-1) > 0)
        masks.append(nn.functional.adaptive_avg_pool2d(onehot, size) if onehot.shape[-2:] != size else onehot)
    classes = torch.arange(num_classes, device=labels.device)[None].expand(labels.shape[0], -1)
    return BatchTargets(classes, torch.cat(masks), torch.cat(valid))


class SetCriterion(nn.Module):
    """Matching and losses for one config; ``forward`` returns ``(total, parts)``."""

    def __init__(self, config: ReferenceConfig) -> None:
        super().__init__()
        self.config = config

    def layer_terms(self, masks: torch.Tensor, classes: torch.Tensor, active: torch.Tensor, targets: BatchTargets,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(focal, dice, class)`` losses of one prediction: mask terms summed over matched pairs and
        divided by the number of targets, class term averaged over active queries (weighted CE)."""
        cfg = self.config
        masks, classes = masks.float(), classes.float()  # losses in float32 (the forward may run under autocast)
        if masks.shape[-2:] != targets.masks.shape[-2:]:
            masks = nn.functional.interpolate(masks, size=targets.masks.shape[-2:], mode="bilinear", align_corners=False)
        flat, target_flat = masks.flatten(2), targets.masks.flatten(2)
        with torch.no_grad():
            cost = pairwise_costs(flat, target_flat, classes, targets.classes, mask_cost=cfg.mask_cost,
                                  weights=(cfg.weight_focal, cfg.weight_dice, cfg.weight_class))
        b_idx, q_idx, t_idx = (torch.from_numpy(i).to(masks.device) for i in hungarian_match_batch(cost, active, targets.valid))
        k = classes.shape[-1] - 1
        labels = torch.full(active.shape, k, dtype=torch.long, device=classes.device)
        labels[b_idx, q_idx] = targets.classes[b_idx, t_idx]
        loss_class = class_loss(classes[active], labels[active], empty_weight=cfg.empty_class_weight)
        num_masks = max(int(targets.valid.sum()), 1)
        if b_idx.numel() == 0:
            zero = masks.sum() * 0.0
            return zero, zero, loss_class
        pred, target = flat[b_idx, q_idx], target_flat[b_idx, t_idx]
        focal = sigmoid_focal_loss(pred, target)
        dice = dice_loss(pred, target)
        if cfg.drop_dominant:
            keep = drop_keep_mask((focal + dice).detach(), mode=cfg.drop_mode, p=cfg.drop_p, generator=generator)
            focal = focal * keep
            if cfg.drop_mode == "paper":
                dice = dice * keep
        return focal.sum() / num_masks, dice.sum() / num_masks, loss_class

    def forward(self, output: ModelOutput, targets: BatchTargets, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, dict[str, float]]:
        """Total weighted loss over every prediction, and its final-layer parts (floats, for logging)."""
        cfg = self.config
        total = output.masks[-1].new_zeros(())
        parts: dict[str, float] = {}
        last = len(output.masks) - 1
        for i, (masks, classes) in enumerate(zip(output.masks, output.classes, strict=True)):
            focal, dice, ce = self.layer_terms(masks, classes, output.active, targets, generator)
            weight = cfg.final_layer_weight if i == last else 1.0
            total = total + weight * (cfg.weight_focal * focal + cfg.weight_dice * dice + cfg.weight_class * ce)
            if i == last:
                parts = {"focal": float(focal.detach()), "dice": float(dice.detach()), "class": float(ce.detach())}
        total = output.loss_weight * total
        if output.main is not None:  # the official loss: L(main) + 10 L(contrast)
            main_total, _ = self.forward(output.main, targets, generator)
            total = total + main_total
            parts["main"] = float(main_total.detach())
        if output.bias is not None:  # bias-only, supervised-bias, supervised-prior, poe: + L(second branch)
            bias, bias_targets = output.bias, targets
            if targets.bias_rows is not None:  # supervised-prior: only where the audio names no class
                bias, bias_targets = bias.rows(targets.bias_rows), targets.rows(targets.bias_rows)
            if bias.active.shape[0]:
                bias_total, _ = self.forward(bias, bias_targets, generator)
                total = total + bias_total
                parts["bias"] = float(bias_total.detach())
        return total, parts
