"""A custom model adapter: how to probe your own AVS model with avsprobe.

Run it through any probe without installing anything:

    avsprobe run --model examples/custom_adapter.py:BrightnessAdapter --probe intensity --limit 20
    avsprobe models check examples/custom_adapter.py:BrightnessAdapter

An adapter subclasses ``ModelAdapter``, declares what its model takes in ``input_spec`` (the runner resizes
frames, normalises them and resamples audio to it) and implements ``predict(batch) -> logits``:

* ``batch.frames``: float32 ``[B, T, 3, H, W]`` at ``input_spec.frame_size``, normalised with mean/std;
* ``batch.audio``: float32 ``[B, N]`` mono at ``input_spec.sample_rate_hz`` (one second per frame);
* return logits ``[B, T, H, W]``; the runner resizes them back to the mask size and scores them.

A real model would load its weights in ``__init__`` (``torch.load(path, weights_only=True)``), move them in
``to(device)``, and call the network in ``predict``. Options come from ``--model-opt key=value``.
"""

from __future__ import annotations

import torch

from avsprobe.adapters import InputSpec, ModelAdapter
from avsprobe.types import AVBatch


class BrightnessAdapter(ModelAdapter):
    """A toy 'model': segments pixels brighter than the frame's mean, but only when the audio is loud enough.

    Args:
        min_rms: audio RMS below which it segments nothing (a deliberately planted loudness bias).
    """

    name = "brightness"
    input_spec = InputSpec(frame_size=(64, 64), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))

    def __init__(self, min_rms: float = 0.01) -> None:
        super().__init__()
        self.min_rms = float(min_rms)

    def predict(self, batch: AVBatch) -> torch.Tensor:
        brightness = batch.frames.mean(dim=2)  # [B, T, H, W], frames scaled to [0, 1]
        above = brightness - brightness.mean(dim=(-2, -1), keepdim=True)
        rms = batch.audio.pow(2).mean(dim=1).sqrt()  # [B]
        gate = (rms >= self.min_rms).float()[:, None, None, None]
        return 20.0 * above * gate - 10.0 * (1 - gate)
