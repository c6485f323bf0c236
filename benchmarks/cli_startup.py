"""Wall time of ``avsprobe --help`` (target: under 0.5 s), with plain ``python -c pass`` for scale.

    python benchmarks/cli_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def wall_times(cmd: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    exe = shutil.which("avsprobe")
    cli = [exe, "--help"] if exe else [sys.executable, "-m", "avsprobe", "--help"]
    help_s = statistics.median(wall_times(cli, args.repeat))
    bare_s = statistics.median(wall_times([sys.executable, "-c", "pass"], args.repeat))
    print(f"avsprobe --help: median {help_s:.3f} s over {args.repeat} runs (target < 0.5 s)")
    print(f"python -c pass:  median {bare_s:.3f} s (interpreter start-up alone)")
    print(f"ratio: {help_s / bare_s:.2f}x the bare interpreter")


if __name__ == "__main__":
    main()
