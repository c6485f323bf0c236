"""Issue 28: does a larger train split calibrate the prior? (``reports/worldv3/train-size-rule.md``).

Builds the world of ``reports/worldv3/train-size/world.toml`` (the default world with 1280 train clips), checks
that its val and test clips and its first 640 train clips equal the default world's file for file, runs the
``negative`` suite on the **val** split for ``vanilla`` seeds 0, 1 and 2 trained on each train size (640: the
committed ``checkpoints/worldv3/vanilla-s{seed}`` on the default world; 1280: ``CHECKPOINTS_1280/vanilla-s{seed}``
on the larger world), and applies the rule's item 1 to each size. Each model is scored against the
``posterior_bed`` of the world it was trained on (counted from that world's plans). Writes
``OUT/train-size.md`` and ``OUT/train-size.json``.

    python scripts/world_v3_train_size.py --world-dir WORLD --checkpoints-1280 CK --runs RUNS --out reports/worldv3
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from avsprobe.adapters import resolve_model
from avsprobe.data.biaslab.world import ensure_default_world
from avsprobe.data.source import open_data
from avsprobe.fileio import atomic_write_text
from avsprobe.probes.suite import load_suite
from avsprobe.report.compute import compute_metrics, load_run
from avsprobe.runner import run_models

sys.path.insert(0, str(Path(__file__).resolve().parent))
from world_v3_more_clips import variant_world  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "reports" / "worldv3" / "train-size" / "world.toml"
SEEDS = (0, 1, 2)
SIZES = (640, 1280)
COLUMNS = ("prior_calibration", "prior_score_calibration", "prior_coverage", "prior_slope", "silent_object_coverage",
           "sounding_auroc", "miou")
THRESHOLD = 0.8
MAX_SD = 0.05


def _passes(per_seed: dict[int, dict]) -> tuple[bool, list[tuple[str, bool, str]]]:
    """The rule's item 1 for one train size: ``(passes, [(criterion, met, the numbers)])``."""
    cover = [v["prior_calibration"] for v in per_seed.values()]
    score = [v["prior_score_calibration"] for v in per_seed.values()]
    bed = [v["prior_coverage"] for v in per_seed.values()]
    sd = float(np.std(bed, ddof=1))
    checks = [
        (f"prior_calibration >= {THRESHOLD} in each seed", all(x >= THRESHOLD for x in cover),
         ", ".join(f"{x:.3f}" for x in cover)),
        (f"prior_score_calibration >= {THRESHOLD} in each seed", all(x >= THRESHOLD for x in score),
         ", ".join(f"{x:.3f}" for x in score)),
        (f"seed SD of prior_coverage under the bed <= {MAX_SD}", sd <= MAX_SD,
         f"SD {sd:.4f} over {', '.join(f'{x:.3f}' for x in bed)}"),
    ]
    return all(met for _, met, _ in checks), checks


def _outcome(passed: dict[int, bool]) -> str:
    if passed[1280] and not passed[640]:
        return ("1280 passes and 640 does not: under the rule's item 2 the default world's train split becomes 1280, "
                "every checkpoint is retrained and the issue's must-show is measured once on the 600 test clips "
                "with five seeds.")
    which = "neither passes" if not any(passed.values()) else "both pass"
    return (f"{which}: under the rule's item 3 the train split stays 640. The criteria ask for a calibration this "
            "recipe does not deliver at either size; a change of loss or recipe would need a rule of its own.")


def _what_follows(result: dict[int, dict[int, dict]]) -> str:
    """What the two sizes say, from the numbers: the mean calibration and the mean val mIoU per size."""
    mean = {size: {k: float(np.mean([v[k] for v in result[size].values()]))
                   for k in ("prior_calibration", "prior_score_calibration", "miou")} for size in SIZES}
    small, big = mean[SIZES[0]], mean[SIZES[1]]
    worse = big["prior_calibration"] < small["prior_calibration"]
    return (f"**What follows.** In these three seeds, twice the train clips move the mean val mIoU "
            f"{small['miou']:.3f} -> {big['miou']:.3f} and the mean `prior_calibration` "
            f"{small['prior_calibration']:.3f} -> {big['prior_calibration']:.3f} (`prior_score_calibration` "
            f"{small['prior_score_calibration']:.3f} -> {big['prior_score_calibration']:.3f})"
            + (": more data did not make the prior follow `posterior_bed` more closely." if worse else ".")
            + " The last lever named by the earlier rules is spent.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world-dir", type=Path, required=True)
    parser.add_argument("--checkpoints-640", type=Path, default=ROOT / "checkpoints" / "worldv3")
    parser.add_argument("--checkpoints-1280", type=Path, required=True)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "worldv3")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    variant_world(args.world_dir, SPEC)  # the 1280-clip world repeats the default one's 1000 clips
    worlds = {640: ensure_default_world(), 1280: args.world_dir}
    checkpoints = {640: args.checkpoints_640, 1280: args.checkpoints_1280}
    result: dict[int, dict[int, dict]] = {}
    posteriors = {}
    for size in SIZES:
        dirs = [args.runs / f"train{size}-vanilla-s{s}" for s in SEEDS]
        missing = [(s, d) for s, d in zip(SEEDS, dirs, strict=True) if not (d / "run.json").is_file()]
        if missing:  # made once; a rerun only re-reads them
            adapters = [resolve_model("vanilla", {"checkpoint": str(checkpoints[size] / f"vanilla-s{s}")}) for s, _ in missing]
            run_models(adapters, load_suite("negative"), open_data(worlds[size], split="val"), [d for _, d in missing],
                       threads=args.threads, workers=0)
        result[size] = {}
        for seed, d in zip(SEEDS, dirs, strict=True):
            run = load_run(d)
            posteriors[size] = run.info["posterior_bed"]
            metrics = compute_metrics(run)
            values = {}
            for key in COLUMNS:
                m = metrics.headline.get(key)
                values[key] = m.value if m is not None else math.nan
                values[f"{key}_ci"] = [m.ci_low, m.ci_high] if m is not None else [math.nan, math.nan]
            values["bed_by_class"] = dict(metrics.groups["prior_coverage"]["background"].by_group)
            result[size][seed] = values
    verdicts = {size: _passes(result[size]) for size in SIZES}
    passed = {size: verdicts[size][0] for size in SIZES}
    lines = ["# World v3: the prior's calibration by train-split size, on val", "",
             "The rule (`train-size-rule.md`, committed before these runs): a train size passes when, on val, "
             f"`prior_calibration` and `prior_score_calibration` are both >= {THRESHOLD} in each of training seeds "
             f"0, 1 and 2 and the seed SD of `prior_coverage` under the bed is <= {MAX_SD}. Each model is scored "
             "against the `posterior_bed` of the world it was trained on. The 1280-clip world repeats the default "
             "world's val and test clips and its first 640 train clips file for file (checked by the script).", "",
             "Made by:", "", "```bash",
             "avsprobe synth --world reports/worldv3/train-size/world.toml --out w1280",
             "avsprobe train --model vanilla --data w1280 --seed S --out ck/vanilla-sS   # S = 0, 1, 2 (tiny recipe, "
             "14 epochs, one thread)",
             "python scripts/world_v3_train_size.py --world-dir w1280 --checkpoints-1280 ck --runs RUNS "
             "--out reports/worldv3", "```", "",
             "| train clips | seed | " + " | ".join(COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
    for size in SIZES:
        for seed, v in result[size].items():
            lines.append(f"| {size} | {seed} | " + " | ".join(
                f"{v[k]:.3f} [{v[k + '_ci'][0]:.3f}, {v[k + '_ci'][1]:.3f}]" for k in COLUMNS) + " |")
    classes = sorted(posteriors[640], key=lambda c: -posteriors[640][c])
    lines += ["", "Prior coverage under the bed per class (val), beside each world's `posterior_bed`:", "",
              "| class | posterior (640) | posterior (1280) | " + " | ".join(
                  f"{size} s{s}" for size in SIZES for s in SEEDS) + " |",
              "|---|---|---|" + "---|" * (len(SIZES) * len(SEEDS))]
    for cls in classes:
        lines.append(f"| {cls} | {posteriors[640][cls]:.3f} | {posteriors[1280][cls]:.3f} | " + " | ".join(
            f"{result[size][s]['bed_by_class'].get(cls, math.nan):.3f}" for size in SIZES for s in SEEDS) + " |")
    for size in SIZES:
        lines += ["", f"## {size} train clips: {'passes' if passed[size] else 'does not pass'}", ""]
        lines += [f"- {'met' if met else 'NOT met'}: {text} ({numbers})" for text, met, numbers in verdicts[size][1]]
    lines += ["", f"**Outcome.** {_outcome(passed)}", "", _what_follows(result)]
    atomic_write_text(args.out / "train-size.md", "\n".join(lines) + "\n")
    atomic_write_text(args.out / "train-size.json", json.dumps(
        {"by_size": {str(k): {str(s): v for s, v in r.items()} for k, r in result.items()},
         "posterior_bed": {str(k): v for k, v in posteriors.items()},
         "passes": {str(k): v for k, v in passed.items()},
         "checks": {str(k): [{"criterion": t, "met": m, "numbers": n} for t, m, n in verdicts[k][1]] for k in SIZES}},
        indent=2, default=float) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
