"""Bias-lab build speed: clips per second for a world of 1,000 clips of 5 s at 128x128.

Target: 1,000 clips in at most 60 s on 2 cores (all files written: frames, masks, sources, mixture).

    python benchmarks/synth.py [--clips 1000] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from avsprobe.data.biaslab.world import build_world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="avsprobe-synth-bench-"))
    try:
        t0 = time.perf_counter()
        world = build_world(root / "world", clips=args.clips, workers=args.workers)
        seconds = time.perf_counter() - t0
        size_mb = sum(f.stat().st_size for f in (root / "world").rglob("*") if f.is_file()) / 1e6
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"clips={args.clips} splits={world['splits']} cores={os.cpu_count()} workers={args.workers or 'default'}")
    print(f"build time: {seconds:.1f} s = {args.clips / seconds:.1f} clips/s (target: 1000 clips in <= 60 s)")
    print(f"on disk: {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
