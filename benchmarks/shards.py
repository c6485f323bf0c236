"""Data-parallel runs: one process against two gloo ranks under torchrun, on a CPU-bound stand-in model.

Runs the paper suite (``--suite``) over the default bias lab's 200 test clips, 15,800 jobs, with
``benchmarks/standins.py:Busy`` (one torch thread per process, so two ranks can use two cores), once as a
single process and once as
``torchrun --standalone --nproc_per_node=2 -m avsprobe run ...`` into another folder, then prints the jobs/s
of each, their ratio (target >= 1.7x on 2 cores) and whether the two record tables are identical. Each
run's start-up (interpreters, imports, the torchrun launcher and rendezvous: about 3.7 s for one process,
5.5 s for two ranks) is measured on a one-clip run and reported apart: over a short run it weighs on the
ratio (the 1,200 jobs of ``--suite negative`` take 28 s in one process), over a study it does not.
Takes about 5 minutes.

    python benchmarks/shards.py [--clips 200] [--work 40] [--suite paper]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from avsprobe.results import load_records

REPO = Path(__file__).resolve().parents[1]


def _run(prefix: list[str], out: Path, clips: int, work: int, suite: str) -> float:
    args = [*prefix, "run", "--model", str(REPO / "benchmarks" / "standins.py") + ":Busy", "--model-opt", f"work={work}",
            "--suite", suite, "--limit", str(clips), "--workers", "0", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    subprocess.run(args, check=True, env=env, capture_output=True, text=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--work", type=int, default=40)
    parser.add_argument("--suite", default="paper")
    args = parser.parse_args()
    python = [sys.executable, "-m", "avsprobe"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "avsprobe"]
    with tempfile.TemporaryDirectory() as tmp:
        _run(python, Path(tmp) / "warm", 1, 1, args.suite)  # the default world exists and files are cached
        start_one = _run(python, Path(tmp) / "start1", 1, 1, args.suite)  # start-up: interpreters, imports, rendezvous
        start_two = _run(torchrun, Path(tmp) / "start2", 2, 1, args.suite)
        one = _run(python, Path(tmp) / "one", args.clips, args.work, args.suite)
        two = _run(torchrun, Path(tmp) / "two", args.clips, args.work, args.suite)
        a = load_records(next((Path(tmp) / "one").iterdir()) / args.suite)
        b = load_records(next((Path(tmp) / "two").iterdir()) / args.suite)
        columns = [c for c in a.columns if c not in ("tp_at", "pp_at", "pred_thumb")]
        same = a[columns].equals(b[columns]) and all(np.array_equal(x, y) for x, y in zip(a.tp_at, b.tp_at, strict=True))
        jobs = a.drop_duplicates(["sample_id", "condition_id"]).shape[0]
    print(f"{args.suite} suite, {args.clips} clips ({jobs} jobs), stand-in model with {args.work} products per clip, "
          "one torch thread per process")
    print(f"1 process:          {one:.1f} s = {jobs / one:.1f} jobs/s; without its start-up ({start_one:.1f} s) "
          f"{jobs / (one - start_one):.1f} jobs/s")
    print(f"2 ranks (torchrun): {two:.1f} s = {jobs / two:.1f} jobs/s; without its start-up ({start_two:.1f} s) "
          f"{jobs / (two - start_two):.1f} jobs/s")
    print(f"records identical: {same}")
    print(f"speedup={one / two:.2f}x (start-up included), {(one - start_one) / (two - start_two):.2f}x without")


if __name__ == "__main__":
    main()
