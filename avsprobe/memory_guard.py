"""Keeping a run inside the machine's memory: a chunk's memory estimated from the clips' frame size and the
batch, the batch shrunk (or the run refused, with the numbers) before the machine runs out.

The constant comes from one measurement reported in the robustness review (issue 34, not repeated here): one
4k clip (3840 x 2160, 5 frames) through the paper suite at batch 8 passed 9.2 GB, about 28 bytes per pixel of
a clip's frames for each job of a chunk (the probed frames and masks, the model's input, its logits resized to
the frame, the scoring's temporaries), on top of the process's own few hundred MB.
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass

from avsprobe.errors import ConfigError

__all__ = ["BYTES_PER_JOB_PIXEL", "BatchChoice", "available_memory_bytes", "choose_batch", "peak_rss_mb"]

BYTES_PER_JOB_PIXEL = 28
"""Peak bytes per pixel of a clip's frames (T x H x W) for each job of a chunk."""
BUDGET_FRACTION = 0.6
"""The share of the available memory a run's chunks may take (the rest: the model, the pipeline's queues)."""


@dataclass(frozen=True)
class BatchChoice:
    """The batch a run uses, and why: ``asked`` and ``chosen`` jobs a chunk, the estimate per job and the
    budget, in bytes."""

    asked: int
    chosen: int
    per_job_bytes: int
    budget_bytes: int | None

    @property
    def shrunk(self) -> bool:
        return self.chosen < self.asked

    def describe(self) -> str:
        mb = 2**20
        return (f"batch {self.asked} -> {self.chosen}: a job of these clips needs about {self.per_job_bytes / mb:.0f} MB "
                f"and {self.budget_bytes / mb:.0f} MB may be used" if self.budget_bytes else f"batch {self.chosen}")


def available_memory_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` (Linux), else None (no guard)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def choose_batch(asked: int, frame_pixels: int, available_bytes: int | None) -> BatchChoice:
    """The largest batch up to ``asked`` whose chunk fits the budget, for clips of ``frame_pixels`` (T x H x W).

    Raises:
        ConfigError: not even one job fits (the message gives the estimate and the memory available).
    """
    per_job = BYTES_PER_JOB_PIXEL * frame_pixels
    if available_bytes is None:
        return BatchChoice(asked, asked, per_job, None)
    budget = int(BUDGET_FRACTION * available_bytes)
    fits = math.floor(budget / per_job) if per_job else asked
    if fits < 1:
        raise ConfigError(f"a job of these clips ({frame_pixels:,} frame pixels) needs about {per_job / 2**30:.1f} GB, "
                          f"and {available_bytes / 2**30:.1f} GB of memory is available: free memory, or resize the "
                          "frames before probing")
    return BatchChoice(asked, min(asked, fits), per_job, budget)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # Linux reports KiB
