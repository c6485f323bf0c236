"""Accelerator utilisation of the run engine with and without the probing pipeline.

A stand-in accelerator model whose ``predict`` takes a fixed time per clip (it sleeps: the CPU is free, as
while a GPU computes), calibrated to the measured per-job host cost (read, probe, prepare, score and write a
job end to end, with an instant model) so that neither side dominates, runs
the paper suite over the default bias lab twice: probing in the main process between predictions
(``--workers 0``), and probing in worker processes ahead of inference (``--workers N``; default the runner's
own choice, at least one). It prints the accelerator's utilisation, the time spent in ``predict`` over the
wall time, for both. Target: >= 0.90 with the pipeline on 2 cores. The last line is
``utilisation=<float> speedup=<float>x``.

    python benchmarks/pipeline.py [--clips 12] [--workers N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from avsprobe.adapters.base import ModelAdapter
from avsprobe.data.source import open_data
from avsprobe.pipeline import default_probe_workers, probe_chunks
from avsprobe.probes.suite import load_suite
from avsprobe.runner import plan_jobs, run_suite


class SleepyAccelerator(ModelAdapter):
    """Takes ``seconds_per_clip`` per clip, like a model on an accelerator; counts the time it spends."""

    name = "sleepy-accelerator"

    def __init__(self, seconds_per_clip: float) -> None:
        super().__init__()
        self.seconds_per_clip = seconds_per_clip
        self.busy_s = 0.0

    def predict(self, batch):  # noqa: ANN001, ANN201
        started = time.perf_counter()
        time.sleep(self.seconds_per_clip * len(batch))
        b, t, _, h, w = batch.frames.shape
        logits = torch.full((b, t, h, w), -10.0)
        self.busy_s += time.perf_counter() - started
        return logits


def probe_cost_per_job(source, suite, clips: int) -> float:  # noqa: ANN001
    """Seconds to read and probe one job, measured in this process over the first ``clips`` clips."""
    plan = plan_jobs(suite, source, clips)
    jobs = dict(plan.jobs)
    chunks = [[i for i, _ in plan.jobs[s : s + 8]] for s in range(0, len(plan.jobs), 8)]
    started = time.perf_counter()
    for _ in probe_chunks(chunks, jobs, suite, source.reader, workers=0):
        pass
    return (time.perf_counter() - started) / len(plan.jobs)


def host_cost_per_job(source, suite, clips: int) -> float:  # noqa: ANN001
    """Seconds of host work per job end to end (read, probe, prepare, score, write), with an instant model."""
    wall, _ = timed_run(source, suite, clips, 0.0, 0)
    return wall / len(plan_jobs(suite, source, clips).jobs)


def timed_run(source, suite, clips: int, seconds_per_clip: float, workers: int) -> tuple[float, float]:  # noqa: ANN001
    model = SleepyAccelerator(seconds_per_clip)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run_suite(model, suite, source, Path(out) / "run", limit=clips, workers=workers)
        wall = time.perf_counter() - started
    return wall, model.busy_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    workers = max(1, default_probe_workers()) if args.workers is None else args.workers
    source = open_data(None)
    suite = load_suite("paper")
    probe_cost_per_job(source, suite, 1)  # warm-up: imports, caches
    probing = probe_cost_per_job(source, suite, args.clips)
    per_job = host_cost_per_job(source, suite, args.clips)
    print(f"paper suite over {args.clips} clips; per job: probing {probing * 1000:.1f} ms, host work end to end "
          f"{per_job * 1000:.1f} ms, so the stand-in model takes {per_job * 1000:.1f} ms per clip")
    serial_wall, serial_busy = timed_run(source, suite, args.clips, per_job, 0)
    piped_wall, piped_busy = timed_run(source, suite, args.clips, per_job, workers)
    print(f"without the pipeline (workers 0): wall {serial_wall:.2f} s, predict {serial_busy:.2f} s, "
          f"utilisation {serial_busy / serial_wall:.3f}")
    print(f"with the pipeline (workers {workers}): wall {piped_wall:.2f} s, predict {piped_busy:.2f} s, "
          f"utilisation {piped_busy / piped_wall:.3f}")
    print(f"utilisation={piped_busy / piped_wall:.3f} speedup={serial_wall / piped_wall:.2f}x")


if __name__ == "__main__":
    main()
