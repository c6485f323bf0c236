"""Co-AVS build time: 450 videos from the default bias lab (target: at most 60 s on 2 cores).

The default world is built first if it is not cached yet (not timed). The timed part finds the two-class
scenes of its test split and writes the 450 videos.

    python benchmarks/coavs.py [--videos 450]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from avsprobe.data.audio_bank import biaslab_audio_bank
from avsprobe.data.avsbench.readers import AVSSReader
from avsprobe.data.biaslab.world import ensure_default_world
from avsprobe.data.coavs import build_coavs, find_scenes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=450)
    args = parser.parse_args()
    world = ensure_default_world()
    out = Path(tempfile.mkdtemp(prefix="avsprobe-coavs-bench-")) / "coavs"
    try:
        t0 = time.perf_counter()
        scenes = find_scenes(AVSSReader(world, "test"))
        t_scenes = time.perf_counter() - t0
        info = build_coavs(out, scenes, biaslab_audio_bank(world, "train"), videos=args.videos)
        total = time.perf_counter() - t0
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    counts = sorted(set(info["level_pair_counts"].values()))
    print(f"world {world.name}: {len(scenes)} two-class scenes in its test split (found in {t_scenes:.1f} s)")
    print(f"{args.videos} videos built in {total:.1f} s (target <= 60 s); level pairs used {counts} times")
    print(f"content hash {info['content_hash']}")


if __name__ == "__main__":
    main()
