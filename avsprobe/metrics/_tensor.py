"""Accept torch tensors or numpy arrays alike at the metric boundary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


def as_tensor(x: object) -> torch.Tensor:
    """``x`` as a torch tensor, without a copy where possible."""
    import torch

    if isinstance(x, torch.Tensor):
        return x
    return torch.as_tensor(np.asarray(x))
