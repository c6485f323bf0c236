"""Issue 17: the remedy against vanilla on the bias lab's balanced **test** split, three seeds per model.

Runs the ``debias`` suite (intensity, negative audio, two-level mixes) over every test clip for ``vanilla``,
``ours-nodebias`` and ``ours`` (the loss and inference chosen on val by ``scripts/choose_debias.py``) from
checkpoints ``CHECKPOINTS/{model}-s{seed}``, plus the seed-0 ablations (the main branch alone, the other
contrast and loss presets, bias-only, the logits ensemble, the inference-only contrast on vanilla; those
whose checkpoint exists), in one shared pass. For each metric it reports the across-seed mean, the
across-seed range and a clip-bootstrap interval of the seed-averaged per-clip values; the paired
differences ``ours - vanilla`` seed by seed; and whether the issue's goals hold in every seed. Writes
``OUT/seeds.md``, ``OUT/seeds.json`` and the seed-0 report (figures, tables) to ``OUT``. Nothing here was
tuned on the test split.

    python scripts/compare_debias.py --checkpoints runs/train --out reports/debias [--clips N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from choose_debias import LOSSES  # checkpoint folder of each loss preset

from avsprobe.adapters import resolve_model
from avsprobe.data.source import open_data
from avsprobe.metrics.catalog import paired_difference, per_clip_metrics
from avsprobe.metrics.stats import seed_interval
from avsprobe.probes.suite import load_suite
from avsprobe.report.build import build_report
from avsprobe.report.compute import RunResult, load_run, seed_summary
from avsprobe.runner import run_models

SEEDS = (0, 1, 2)
FAMILY_SEEDS = {"vanilla": SEEDS, "ours-nodebias": SEEDS, "ours": SEEDS}
"""Seeds run per model."""
METRICS = ["miou", "prior_coverage", "silent_object_coverage", "fpr_silence", "fpr_background", "intensity_gap",
           "dominance"]


def _models(root: Path, choice: dict) -> list[tuple[str, str, dict[str, str], str | None]]:
    """``(label, model, options, debias wrapper)``: three seeds of each compared model, then the seed-0
    ablations: the chosen checkpoint's main branch alone, the other contrast and the other training losses, the
    other strategies (bias-only, logits ensemble) and the inference-only contrast on vanilla. An ablation
    whose checkpoint is missing is left out."""
    ours = LOSSES[choice["loss"]]
    inference = choice.get("inference", {})
    out: list[tuple[str, str, dict[str, str], str | None]] = []
    folders = {"vanilla": "vanilla", "ours-nodebias": "ours-nodebias", "ours": ours}
    for family, seeds in FAMILY_SEEDS.items():
        for seed in seeds:
            options = {"checkpoint": str(root / f"{folders[family]}-s{seed}"), **(inference if family == "ours" else {})}
            out.append((f"{family}-s{seed}", family, options, None))
    ablations: list[tuple[str, str, dict[str, str], str | None]] = [
        ("ablation: ours main branch only (alpha 0)", "ours", {"checkpoint": f"{ours}-s0", **inference, "alpha": "0"},
         None),
        ("ablation: ours with the contrast on queries", "ours",
         {"checkpoint": f"{ours}-s0", **inference, "contrast_on": "queries"}, None),
        # poe infers with its main branch alone (alpha 0), so it takes no contrast setting (as on val)
        *((f"ablation: ours trained with loss {loss}", "ours",
           {"checkpoint": f"{folder}-s0", **(inference if loss != "poe" else {})}, None)
          for loss, folder in LOSSES.items() if loss != choice["loss"]),
        ("ablation: ours bias-only strategy", "ours", {"checkpoint": "ours-biasonly-s0"}, None),
        ("ablation: logits ensemble", "ours", {"strategy": "logits-ensemble", "checkpoint": "visual-only-s0",
                                               "main": "ours-nodebias-s0"}, None),
        ("ablation: inference-only contrast on vanilla (alpha 1)", "vanilla", {"checkpoint": "vanilla-s0"},
         "contrastive:alpha=1"),
    ]
    for label, model, options, debias in ablations:
        folders_used = [options["checkpoint"], *([options["main"]] if "main" in options else [])]
        if all((root / f / "model.safetensors").is_file() for f in folders_used):
            paths = {k: str(root / v) if k in ("checkpoint", "main") else v for k, v in options.items()}
            out.append((label, model, paths, debias))
    return out


def _summary(runs: dict[str, RunResult], family: str) -> dict[str, dict[str, object]]:
    """Across-seed mean and range of each metric, and a clip-bootstrap interval of seed-averaged values (the
    report's seed grouping, ``seed_summary``), each seed's value listed in seed order."""
    summary = seed_summary([runs[f"{family}-s{s}"] for s in FAMILY_SEEDS[family]])
    return {metric: {**summary[metric], "seeds": list(summary[metric]["seeds"].values())} for metric in METRICS}


def _paired(records: dict[str, object]) -> dict[str, list[dict[str, float]]]:
    """``ours - vanilla`` per seed (paired clip bootstrap) for every metric."""
    out: dict[str, list[dict[str, float]]] = {}
    for metric in METRICS:
        out[metric] = []
        for s in SEEDS:
            d = paired_difference(metric, records[f"ours-s{s}"], records[f"vanilla-s{s}"])
            out[metric].append({"seed": s, "value": d.value, "ci_low": d.ci_low, "ci_high": d.ci_high})
    return out


def _goals(summary: dict, family: str = "ours") -> dict[str, list[bool]]:
    """The issue's goals, seed by seed, ours against vanilla of the same seed."""
    o, v = summary[family], summary["vanilla"]
    per_seed = lambda m: zip(o[m]["seeds"], v[m]["seeds"], strict=True)  # noqa: E731
    return {"prior_coverage at least 50 % lower": [a <= 0.5 * b for a, b in per_seed("prior_coverage")],
            "fpr_silence at least 30 % lower": [a <= 0.7 * b for a, b in per_seed("fpr_silence")],
            "smaller intensity_gap": [a < b for a, b in per_seed("intensity_gap")],
            "at most 2 mIoU points lost": [a >= b - 0.02 for a, b in per_seed("miou")]}


def _markdown(summary: dict, paired: dict, goals: dict, ablations: dict, choice: dict, clips: int) -> str:
    lines = [f"# The remedy against vanilla, 3 seeds, {clips} balanced test clips (debias suite)", "",
             f"`ours` = loss `{choice['loss']}`, inference {choice.get('inference') or 'default'} (chosen on val: "
             "`val-choice.md`). Each cell: across-seed mean, [min, max] over seeds, and the 95 % clip-bootstrap "
             "interval of the seed-averaged per-clip values. Command: "
             "`python scripts/compare_debias.py`.", "",
             "| model | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for family, values in summary.items():
        cells = [f"{v['mean']:.3f} [{v['min']:.3f}, {v['max']:.3f}] ({v['ci_low']:.3f}-{v['ci_high']:.3f})"
                 for v in (values[m] for m in METRICS)]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    lines += ["", "## ours - vanilla, seed by seed (paired clip bootstrap)", "",
              "| metric | seed 0 | seed 1 | seed 2 |", "|---|---|---|---|"]
    for metric, rows in paired.items():
        lines.append(f"| {metric} | " + " | ".join(f"{r['value']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
                                                 for r in rows) + " |")
    lines += ["", "## Goals (ours against vanilla of the same seed, judged at the seed level)", ""]
    metric_of = {"prior_coverage at least 50 % lower": "prior_coverage", "fpr_silence at least 30 % lower": "fpr_silence",
                 "smaller intensity_gap": "intensity_gap", "at most 2 mIoU points lost": "miou"}
    for goal in goals:
        metric = metric_of[goal]
        a, b = summary["ours"][metric]["seeds"], summary["vanilla"][metric]["seeds"]
        mean, low, high = seed_interval([x - y for x, y in zip(a, b, strict=True)])
        relative = mean / float(np.mean(b)) if np.mean(b) else float("nan")
        lines.append(f"- {goal}: ours - vanilla {mean:+.3f} (seed-level 95 % t-interval [{low:+.3f}, {high:+.3f}], "
                     f"{relative:+.0%} of vanilla's mean) over {len(a)} seeds")
    lines += ["", "## Seed-0 ablations", "", "| run | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for label, values in ablations.items():
        lines.append(f"| {label} | " + " | ".join("-" if values[m] is None else f"{values[m]:.3f}" for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("runs/train"))
    parser.add_argument("--choice", type=Path, default=Path("reports/debias/val-choice.json"))
    parser.add_argument("--clips", type=int, default=None, help="first N test clips (default: all 200)")
    parser.add_argument("--out", type=Path, default=Path("reports/debias"))
    parser.add_argument("--runs", type=Path, default=Path("runs/debias"))
    parser.add_argument("--only", nargs="*", default=None, help="run only these labels now (no summary)")
    args = parser.parse_args()
    started = time.perf_counter()
    choice = json.loads(args.choice.read_text())["chosen_settings"]
    models = _models(args.checkpoints.resolve(), choice)
    dirs = [args.runs / label.replace("ablation: ", "ablation-").replace(" ", "-").replace("(", "").replace(")", "")
            for label, *_ in models]
    suite = load_suite("debias")
    keep = [i for i, (label, *_) in enumerate(models) if args.only is None or label in args.only]
    adapters = [resolve_model(models[i][1], models[i][2], debias=models[i][3]) for i in keep]
    run_models(adapters, suite, open_data(None, split="test"), [dirs[i] for i in keep], limit=args.clips)
    if args.only is not None:
        print(f"ran {', '.join(models[i][0] for i in keep)} in {time.perf_counter() - started:.0f} s")
        return
    runs = {label: load_run(folder) for (label, *_), folder in zip(models, dirs, strict=True)}
    records = {label: run.records for label, run in runs.items()}
    summary = {family: _summary(runs, family) for family in ("vanilla", "ours-nodebias", "ours")}
    paired = _paired(records)
    goals = _goals(summary)
    ablations = {label: {m: float(per_clip_metrics()[m](records[label]).mean()) for m in METRICS}
                 for label, *_ in models if label.startswith("ablation")}
    clips = int(records["vanilla-s0"].sample_id.nunique())
    args.out.mkdir(parents=True, exist_ok=True)
    text = _markdown(summary, paired, goals, ablations, choice, clips)
    (args.out / "seeds.md").write_text(text)
    (args.out / "seeds.json").write_text(json.dumps({"choice": choice, "summary": summary, "paired": paired,
                                                     "goals": goals, "ablations": ablations, "clips": clips}, indent=1))
    report_dirs = [d for (label, *_), d in zip(models, dirs, strict=True) if label.endswith("-s0") or "ablation" in label]
    build_report(report_dirs, args.out)
    print(text)
    print(f"{len(dirs)} runs x {suite.name} suite in {time.perf_counter() - started:.0f} s; report in {args.out}")


if __name__ == "__main__":
    main()
