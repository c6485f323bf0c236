"""Peak resident memory of a run against its number of clips: it must not grow with them.

Runs the paper suite over the default bias lab's first 8, 50 and 200 test clips (``--clips``), each in a
fresh process (``avsprobe run``, so the peak is the run's own), with and without probe workers, and prints
the ``peak_rss_mb`` each run recorded in its ``run.json`` and the ratio of the largest run's peak to the
smallest's. The model is ``full`` (it costs nothing, so the memory is the run engine's).

    python benchmarks/memory.py [--clips 8 50 200] [--model full]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def peak_mb(model: str, clips: int, workers: int, out: Path) -> float:
    subprocess.run([sys.executable, "-m", "avsprobe", "run", "--model", model, "--suite", "paper", "--limit",
                    str(clips), "--workers", str(workers), "--out", str(out)], check=True, capture_output=True)
    return float(json.loads(next(out.rglob("run.json")).read_text())["peak_rss_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, nargs="+", default=[8, 50, 200])
    parser.add_argument("--model", default="full")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (0, 1):
            peaks = [peak_mb(args.model, n, workers, Path(tmp) / f"w{workers}-{n}") for n in args.clips]
            shown = ", ".join(f"{n} clips {p:.0f} MB" for n, p in zip(args.clips, peaks, strict=True))
            print(f"workers {workers}: {shown}; largest over smallest {peaks[-1] / peaks[0]:.3f}")


if __name__ == "__main__":
    main()
