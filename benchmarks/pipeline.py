"""Accelerator utilisation of the run engine with and without the probing pipeline.

A stand-in accelerator model whose ``predict`` takes a fixed time per clip (it sleeps: the CPU is free, as
while a GPU computes) runs the paper suite over the default bias lab twice: probing in the main process
between predictions (``--workers 0``), and probing in worker processes ahead of inference (``--workers N``;
default the runner's own choice, at least one). It prints the accelerator's utilisation, the time spent in
``predict`` over the wall time, for both. Target: >= 0.90 with the pipeline on 2 cores. The last line is
``utilisation=<float> speedup=<float>x``.

Calibration, so that neither side dominates: a run with an instant model measures the host's work (read,
probe, prepare, score and write every job, in one process), and the stand-in's time per clip is that work
over the clips it predicts, so the accelerator's total time equals the host's. (Jobs that do not apply to a
clip, about 4 in 10 of the paper suite on the bias lab, cost host work but reach no model: spreading the
host's work over every job instead would leave the accelerator about 0.6 of it, and the host would
dominate.) ``--seconds-per-clip`` sets the stand-in's time instead.

    python benchmarks/pipeline.py [--clips 12] [--workers N] [--seconds-per-clip S]
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
        self.clips = 0

    def predict(self, batch):  # noqa: ANN001, ANN201
        started = time.perf_counter()
        time.sleep(self.seconds_per_clip * len(batch))
        b, t, _, h, w = batch.frames.shape
        logits = torch.full((b, t, h, w), -10.0)
        self.busy_s += time.perf_counter() - started
        self.clips += len(batch)
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


def host_work(source, suite, clips: int) -> tuple[float, int]:  # noqa: ANN001
    """Seconds of host work for the run end to end (read, probe, prepare, score, write every job), with an
    instant model, and the number of clips the model predicted."""
    model = SleepyAccelerator(0.0)
    wall = timed_run(source, suite, clips, model, 0)
    return wall, model.clips


def timed_run(source, suite, clips: int, model: SleepyAccelerator, workers: int) -> float:  # noqa: ANN001
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        run_suite(model, suite, source, Path(out) / "run", limit=clips, workers=workers)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seconds-per-clip", type=float, default=None)
    args = parser.parse_args()
    workers = max(1, default_probe_workers()) if args.workers is None else args.workers
    source = open_data(None)
    suite = load_suite("paper")
    probe_cost_per_job(source, suite, 1)  # warm-up: imports, caches
    host_work(source, suite, 1)
    jobs = len(plan_jobs(suite, source, args.clips).jobs)
    probing = probe_cost_per_job(source, suite, args.clips)
    work, clips_predicted = host_work(source, suite, args.clips)
    per_clip = work / clips_predicted if args.seconds_per_clip is None else args.seconds_per_clip
    print(f"paper suite over {args.clips} clips: {jobs} jobs, {clips_predicted} of them predicted; host work "
          f"{work:.2f} s ({work / jobs * 1000:.1f} ms a job, of which probing {probing * 1000:.1f} ms); the stand-in "
          f"model takes {per_clip * 1000:.1f} ms a clip ({per_clip * clips_predicted:.2f} s in all)")
    serial, piped = SleepyAccelerator(per_clip), SleepyAccelerator(per_clip)
    serial_wall = timed_run(source, suite, args.clips, serial, 0)
    piped_wall = timed_run(source, suite, args.clips, piped, workers)
    print(f"without the pipeline (workers 0): wall {serial_wall:.2f} s, predict {serial.busy_s:.2f} s, "
          f"utilisation {serial.busy_s / serial_wall:.3f}")
    print(f"with the pipeline (workers {workers}): wall {piped_wall:.2f} s, predict {piped.busy_s:.2f} s, "
          f"utilisation {piped.busy_s / piped_wall:.3f}")
    print(f"utilisation={piped.busy_s / piped_wall:.3f} speedup={serial_wall / piped_wall:.2f}x")


if __name__ == "__main__":
    main()
