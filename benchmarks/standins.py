"""Stand-in models for the scale benchmarks (``--model benchmarks/standins.py:Busy``)."""

from __future__ import annotations

import torch

from avsprobe.adapters.base import ModelAdapter


class Busy(ModelAdapter):
    """A CPU-bound stand-in: ``work`` 256x256 matrix products per clip (about 10 ms at one thread), then
    empty masks. Deterministic, so any sharding gives the same records."""

    name = "busy"

    def __init__(self, work: int = 40) -> None:
        super().__init__()
        self.work = int(work)
        torch.set_num_threads(1)  # one core per process, so ranks scale with cores

    def predict(self, batch):  # noqa: ANN001, ANN201
        b, t, _, h, w = batch.frames.shape
        x = torch.ones(256, 256) / 256
        for _ in range(self.work * b):
            x = x @ x
        return torch.full((b, t, h, w), -10.0) + 0 * x.sum()
