"""Issue 28's must-show: five training seeds of ``vanilla`` on bias lab world v3, measured once on test.

Runs the ``negative`` suite over every clip of the default world's balanced test split for each checkpoint
``CHECKPOINTS/vanilla-s{seed}``, writes the seed report (``OUT/seeds/``: per-run metrics, the Seeds section
with seed-level t-intervals) and ``OUT/must-show.md`` / ``.json``: per seed, the Spearman correlation of
per-class prior coverage under the bed with ``posterior_bed`` (``prior_calibration``), the mean prior coverage
under the bed, ``prior_slope``, ``sounding_auroc``, ``silent_object_coverage`` and the out-of-distribution
coverage under digital silence; then the issue's three criteria, each stated with its numbers. The criteria
and the selection of the world (``OUT/selection-rule.md``) were fixed before this script was run.

    python scripts/world_v3.py --checkpoints checkpoints/worldv3 --runs runs/worldv3 --out reports/worldv3
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from avsprobe.adapters import resolve_model
from avsprobe.data.source import open_data
from avsprobe.fileio import atomic_write_text
from avsprobe.metrics.stats import seed_interval
from avsprobe.probes.suite import load_suite
from avsprobe.report.build import build_report
from avsprobe.runner import run_models

SEEDS = (0, 1, 2, 3, 4)
COLUMNS = ("prior_calibration", "prior_coverage", "prior_slope", "sounding_auroc", "silent_object_coverage",
           "silence_coverage", "miou")


def _criteria(per_seed: dict[int, dict[str, float]]) -> list[tuple[str, bool, str]]:
    """The issue's criteria, fixed before the runs: ``(criterion, met, the numbers)``."""
    rho = [v["prior_calibration"] for v in per_seed.values()]
    coverage = [v["prior_coverage"] for v in per_seed.values()]
    slope = [v["prior_slope"] for v in per_seed.values()]
    sd = float(np.std(coverage, ddof=1))
    mean, low, high = seed_interval(slope)
    return [
        ("per-class prior coverage under the bed has Spearman >= 0.8 with posterior_bed in every seed",
         all(r >= 0.8 for r in rho), ", ".join(f"{r:.3f}" for r in rho)),
        ("the seed SD of mean prior coverage under the bed is <= 0.05", sd <= 0.05,
         f"SD {sd:.4f} over {', '.join(f'{c:.3f}' for c in coverage)}"),
        ("prior_slope > 0 with a seed-level 95 % interval excluding 0", mean > 0 and low > 0,
         f"mean {mean:.3f}, t-interval [{low:.3f}, {high:.3f}]"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints/worldv3"))
    parser.add_argument("--runs", type=Path, default=Path("runs/worldv3"))
    parser.add_argument("--out", type=Path, default=Path("reports/worldv3"))
    args = parser.parse_args()
    adapters = [resolve_model("vanilla", {"checkpoint": str(args.checkpoints / f"vanilla-s{s}")}) for s in SEEDS]
    dirs = [args.runs / f"vanilla-s{s}" for s in SEEDS]
    run_models(adapters, load_suite("negative"), open_data(None, split="test"), dirs)
    content = build_report(dirs, args.out / "seeds", formats=["md", "json"])
    per_seed = {}
    for seed, run in zip(SEEDS, content["runs"], strict=True):
        per_seed[seed] = {k: run["metrics"][k]["value"] if k in run["metrics"] else math.nan for k in COLUMNS}
        per_seed[seed]["bed_by_class"] = run["groups"]["prior_coverage"]["background"].get("by_group", {})
    posterior = json.loads((dirs[0] / "run.json").read_text())["posterior_bed"]
    criteria = _criteria(per_seed)
    lines = ["# World v3: five seeds of vanilla, balanced test split", "",
             "Made by `python scripts/world_v3.py --checkpoints checkpoints/worldv3 --runs runs/worldv3 --out "
             "reports/worldv3` (the negative suite over all 200 test clips of the default world, world version 3, "
             "`ambiguous_fraction` 0.30 chosen on val: `selection.md`). Checkpoints: `checkpoints/worldv3/vanilla-sN`, "
             "each `avsprobe train --model vanilla --seed N` on that world. Per-run values and clip-bootstrap "
             "intervals: `seeds/report.md`; seed-level intervals there under Seeds.", "",
             "`prior_coverage` is under the bed alone (in distribution); `silence_coverage` under digital silence "
             "is out of distribution and is shown for comparison only.", "",
             "| seed | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    lines += [f"| {s} | " + " | ".join(f"{v[k]:.3f}" for k in COLUMNS) + " |" for s, v in per_seed.items()]
    lines += ["", "Per-class coverage under the bed, by seed, beside `posterior_bed` (P(sounds | class, bed-only "
              "audio), counted from the train plans):", "",
              "| class | posterior_bed | " + " | ".join(f"seed {s}" for s in per_seed) + " |",
              "|---|---|" + "---|" * len(per_seed)]
    for cls in sorted(posterior, key=lambda c: -posterior[c]):
        lines.append(f"| {cls} | {posterior[cls]:.3f} | " +
                     " | ".join(f"{v['bed_by_class'].get(cls, math.nan):.3f}" for v in per_seed.values()) + " |")
    lines += ["", "## The issue's criteria (fixed before the runs)", ""]
    lines += [f"- {'met' if met else 'NOT met'}: {text} ({numbers})" for text, met, numbers in criteria]
    spread = {k: float(np.std([v[k] for v in per_seed.values()], ddof=1)) for k in ("prior_coverage", "silence_coverage")}
    lines += ["", f"Across seeds, the in-distribution `prior_coverage` has SD {spread['prior_coverage']:.3f}; the "
                  f"out-of-distribution `silence_coverage` has SD {spread['silence_coverage']:.3f} (from "
                  f"{min(v['silence_coverage'] for v in per_seed.values()):.3f} to "
                  f"{max(v['silence_coverage'] for v in per_seed.values()):.3f})."]
    atomic_write_text(args.out / "must-show.md", "\n".join(lines) + "\n")
    atomic_write_text(args.out / "must-show.json", json.dumps(
        {"per_seed": per_seed, "posterior_bed": posterior, "seed_sd": spread,
         "criteria": [{"criterion": t, "met": m, "numbers": n} for t, m, n in criteria]}, indent=2, default=float) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
