"""Adapter conformance checks (``avsprobe models check NAME``): shapes, value range, determinism, device."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avsprobe.adapters.base import ModelAdapter

__all__ = ["CheckResult", "check_adapter"]


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str


def _probed_batch(frames: int, size: int) -> list:
    from avsprobe.probes.base import ProbedSample

    rng = np.random.default_rng(0)
    out = []
    for i in range(2):
        mask = np.zeros((frames, size, size), dtype=bool)
        mask[:, size // 4 : size // 2, size // 4 : size // 2] = True
        out.append(ProbedSample(f"check-{i}", "check/original", rng.uniform(-0.1, 0.1, 16_000 * frames).astype(np.float32),
                                rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8), mask, {"sounding": mask},
                                np.ones(frames, dtype=bool), {}, None, mask))
    return out


def check_adapter(adapter: ModelAdapter, *, device: str = "cpu") -> list[CheckResult]:
    """Run the checks on a synthetic batch of two 5-frame clips; each result says what it found."""
    import torch

    from avsprobe.devices import check_device
    from avsprobe.runner import prepare_batch

    check_device(device)
    spec = adapter.input_spec
    frames = spec.frames_per_clip or 5
    results: list[CheckResult] = []
    try:
        adapter.to(device)
        batch = prepare_batch(_probed_batch(frames, 64), spec, device)
        with torch.no_grad():
            first = adapter.predict(batch)
            second = adapter.predict(batch)
    except Exception as exc:  # report, do not crash: this is a diagnostic
        return [CheckResult("predict runs", False, f"{type(exc).__name__}: {exc}")]
    results.append(CheckResult("predict runs", True, f"on {device}"))
    h, w = batch.frames.shape[-2:]
    if not isinstance(first, torch.Tensor):
        results.append(CheckResult("returns a torch.Tensor", False, f"predict returned {type(first).__name__}; "
                                   "return logits as a torch.Tensor [B, T, H, W]"))
        return results
    ok_shape = tuple(first.shape) == (2, frames, h, w)
    results.append(CheckResult("shape [B, T, H, W]", ok_shape, f"got {tuple(first.shape)}, expected {(2, frames, h, w)}"))
    finite = bool(torch.isfinite(first).all())
    results.append(CheckResult("finite logits", finite, f"min {float(first.min()):.3g}, max {float(first.max()):.3g}"))
    same = bool(torch.equal(first, second))
    results.append(CheckResult("deterministic", same, "two calls on the same batch agree" if same else "two calls differ"))
    results.append(CheckResult("device", first.device.type == torch.device(device).type, f"logits on {first.device}"))
    return results
