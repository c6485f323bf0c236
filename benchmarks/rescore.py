"""Re-scoring from kept predictions against running the model, on the demo's paper-suite runs.

Each reference model runs the paper suite over the demo's first 16 test clips of the default bias lab
(``avsprobe demo``'s runs), keeping its predictions; then ``rescore_run`` recomputes the records from them.
Prints, per model: run and rescore wall time and their ratio, whether every records part came back byte for
byte, the kept predictions' size (in all and per job), and what keeping costs a scored job (the levels, then
bz2 on their byte planes, timed over the run's own predictions). Targets: byte for byte; kept predictions under
20 MB for a 16-clip run.

    python benchmarks/rescore.py [--clips 16] [--models vanilla,ours] [--workers 1]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from avsprobe.adapters import resolve_model
from avsprobe.data.source import open_data
from avsprobe.predictions import (
    PREDICTIONS_DIR,
    _pack,
    kept_bytes,
    level_probabilities,
    probability_levels,
    read_predictions,
)
from avsprobe.probes.suite import load_suite
from avsprobe.rescore import rescore_run
from avsprobe.results import PARTS_DIR
from avsprobe.runner import run_suite


def _digests(run_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((run_dir / PARTS_DIR).glob("*.parquet"))}


def _keeping_cost_ms(run_dir: Path) -> tuple[float, float]:
    """Per scored job, the ms of computing its levels from its probabilities and of packing them."""
    kept = [k for f in sorted((run_dir / PREDICTIONS_DIR).glob("*.npz")) for k in read_predictions(f).values()]
    probabilities = [level_probabilities(k.levels) for k in kept]
    start = time.perf_counter()
    levels = [probability_levels(p) for p in probabilities]
    middle = time.perf_counter()
    for array in levels:
        _pack(array)
    end = time.perf_counter()
    return (middle - start) / len(kept) * 1e3, (end - middle) / len(kept) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--models", default="vanilla,ours")
    parser.add_argument("--workers", type=int, default=1, help="probe workers, for the run and the rescore alike")
    args = parser.parse_args()
    source = open_data(None)
    suite = load_suite("paper")
    work = Path(tempfile.mkdtemp(prefix="avsprobe-rescore-"))
    try:
        for name in args.models.split(","):
            run_dir = work / name
            start = time.perf_counter()
            summary = run_suite(resolve_model(name), suite, source, run_dir, limit=args.clips, workers=args.workers)
            run_s = time.perf_counter() - start
            before = _digests(run_dir)
            start = time.perf_counter()
            rescored = rescore_run(run_dir, workers=args.workers)
            rescore_s = time.perf_counter() - start
            identical = _digests(run_dir) == before
            size = kept_bytes(run_dir)
            levels_ms, pack_ms = _keeping_cost_ms(run_dir)
            print(f"{name}: {summary.jobs} jobs ({summary.ok} scored) over {args.clips} clips; run {run_s:.1f} s, "
                  f"rescore {rescore_s:.1f} s: ratio {rescore_s / run_s:.2f}; {rescored.parts} parts, "
                  f"byte for byte: {identical}; kept predictions {size / 1e6:.1f} MB "
                  f"({size / max(summary.ok, 1) / 1e3:.1f} kB a scored job); keeping costs {levels_ms:.1f} ms (levels) + "
                  f"{pack_ms:.1f} ms (bz2) a scored job")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
