"""Issue-10 comparison: the debias strategies against vanilla on the bias lab's balanced test split.

Runs the ``debias`` suite (intensity, negative audio, two-level mixes) over every test clip for vanilla,
ours-nodebias, ours (uncertainty) and the logits ensemble (ours-nodebias minus the visual-only model), all
from the bundled checkpoints, in one shared pass; writes the report to ``reports/debias`` and prints the
headline metrics with their bootstrap intervals. Nothing here was tuned on the test split.

    python scripts/compare_debias.py [--clips N] [--out reports/debias] [--runs runs/debias]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from avsprobe.adapters import resolve_model
from avsprobe.data.source import open_data
from avsprobe.probes.suite import load_suite
from avsprobe.report.build import build_report
from avsprobe.runner import run_models

MODELS = [("vanilla", {}), ("ours-nodebias", {}), ("ours", {}), ("ours", {"strategy": "logits-ensemble"})]
HEADLINE = ["miou", "fpr_silence", "intensity_gap", "dominance"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=None, help="first N test clips (default: all 200)")
    parser.add_argument("--out", type=Path, default=Path("reports/debias"))
    parser.add_argument("--runs", type=Path, default=Path("runs/debias"))
    args = parser.parse_args()
    started = time.perf_counter()
    adapters = [resolve_model(name, options) for name, options in MODELS]
    labels = ["vanilla", "ours-nodebias", "ours-uncertainty", "ours-logits-ensemble"]
    suite = load_suite("debias")
    dirs = [args.runs / label for label in labels]
    run_models(adapters, suite, open_data(None, split="test"), dirs, limit=args.clips)
    content = build_report(dirs, args.out)
    print(f"{len(dirs)} models x {suite.name} suite in {time.perf_counter() - started:.0f} s; report in {args.out}")
    for label, run in zip(labels, content["runs"], strict=True):
        metrics = run["metrics"]
        piano = run["groups"].get("prior_score", {}).get("piano")
        cells = [f"{k} {_fmt(metrics.get(k))}" for k in HEADLINE] + [f"prior_score(piano) {_fmt(piano)}"]
        print(f"{label:22s} " + "; ".join(cells))
    print(json.dumps(content["paired_differences"], indent=1)[:4000])


def _fmt(value: dict | None) -> str:
    if not value or value.get("value") is None:
        return "-"
    return f"{value['value']:.3f} [{value['ci_low']:.3f}, {value['ci_high']:.3f}]"


if __name__ == "__main__":
    main()
